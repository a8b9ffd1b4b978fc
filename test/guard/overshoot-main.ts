/**
 * Runs the one-flag scenario `--repeats` times (default 3), each against a fresh collector, and
 * prints each run's figures as one JSON line (for bench/guard.mjs):
 *   node --import tsx test/guard/overshoot-main.ts [--repeats 3]
 */
import { parseArgs } from 'node:util';
import {
  CAP_USD,
  CONCURRENCY,
  ONE_SHOTS,
  PROCESSES,
  STAGGER_MS,
  installOvershootApp,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
} from './overshoot-rig';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
  const app = await installOvershootApp();
  for (let i = 0; i < Number(values.repeats); i++) {
    const rig = await startOvershootRig(app);
    try {
      const r = await runOvershoot(rig);
      const line = {
        run: i + 1,
        processes: PROCESSES,
        concurrency: CONCURRENCY,
        staggerSeconds: STAGGER_MS / 1000,
        oneShots: ONE_SHOTS,
        capUsd: CAP_USD,
        ...r,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await stopOvershootRig(rig);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Runs the overshoot scenario once and prints its figures as one JSON line (for bench/guard.mjs):
 *   node --import tsx test/guard/overshoot-main.ts
 */
import {
  CAP_USD,
  CONCURRENCY,
  PROCESSES,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
} from './overshoot-rig';

async function main(): Promise<void> {
  const rig = await startOvershootRig();
  try {
    const r = await runOvershoot(rig.collector, rig.openai, rig.ingestKey, rig.adminKey);
    process.stdout.write(
      `${JSON.stringify({ processes: PROCESSES, concurrency: CONCURRENCY, capUsd: CAP_USD, ...r })}\n`,
    );
  } finally {
    await stopOvershootRig(rig);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

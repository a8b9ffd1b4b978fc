/**
 * Runs the one-flag scenario `--repeats` times (default 3), each against a fresh store, and prints
 * each run's figures as one JSON line (for bench/guard.mjs):
 *   node --import tsx test/guard/overshoot-main.ts [--repeats 3] [--collectors 3 [--kill-owner]]
 * --collectors: that many collector processes on one store (the ClickHouse HTTP stand-in), the apps
 * spread over them; --kill-owner: the apps talk to the others and the lease owner is killed
 * (SIGKILL) once a third of the cap is spent (lease TTL 15 s, as in the CI test).
 */
import { parseArgs } from 'node:util';
import {
  CAP_USD,
  CONCURRENCY,
  ONE_SHOTS,
  PROCESSES,
  STAGGER_MS,
  installOvershootApp,
  leaseOwnerOf,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
  type OvershootOptions,
  type OvershootRig,
} from './overshoot-rig';

const KILL_TEST_LEASE_TTL_MS = 15_000;

/** The apps' targets and the kill, for --kill-owner. */
async function killOwner(rig: OvershootRig): Promise<OvershootOptions> {
  const owner = await leaseOwnerOf(rig, rig.collectors);
  return {
    targets: rig.collectors.filter((c) => c !== owner),
    midRun: {
      afterCalls: Math.round(CAP_USD / rig.callUsd / 3),
      run: async () => {
        owner.child.kill('SIGKILL');
        await new Promise((resolve) => owner.child.once('exit', resolve));
      },
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repeats: { type: 'string', default: '3' },
      collectors: { type: 'string', default: '1' },
      'kill-owner': { type: 'boolean', default: false },
    },
  });
  const collectors = Number(values.collectors);
  const kill = values['kill-owner'] === true;
  if (kill && collectors < 2) throw new Error('--kill-owner needs --collectors 2 or more');
  const app = await installOvershootApp();
  for (let i = 0; i < Number(values.repeats); i++) {
    const rig = await startOvershootRig(app, {
      collectors,
      ...(collectors > 1 ? { leaseTtlMs: KILL_TEST_LEASE_TTL_MS } : {}),
    });
    try {
      const r = await runOvershoot(rig, kill ? await killOwner(rig) : {});
      const line = {
        run: i + 1,
        processes: PROCESSES,
        concurrency: CONCURRENCY,
        staggerSeconds: STAGGER_MS / 1000,
        oneShots: ONE_SHOTS,
        capUsd: CAP_USD,
        collectors,
        ownerKilled: kill,
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

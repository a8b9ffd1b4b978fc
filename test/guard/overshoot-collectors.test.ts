/**
 * One budget across several collectors (issue 26, decision 0069), as users run it: the one-flag
 * figure of ./overshoot.test.ts (16 processes × 8 concurrent calls, `--require tokenledger/register`,
 * the real `openai` SDK, a $0.05 cap of about 667 calls, then 50 one-shots) with three collector
 * processes on one store (the ClickHouse HTTP stand-in) and the app processes spread over them.
 * The provider's request log is the ground truth.
 *
 * Then the lease owner dies: the apps talk to the two other collectors (which forward their lease
 * requests to the owner), the owner is killed with SIGKILL once a third of the cap is spent, and the
 * survivors elect a new owner, which grants only once the dead owner's leases have expired. No
 * money is lost or granted twice: the same bounds hold. No timing is asserted.
 */
import assert from 'node:assert/strict';
import {
  CAP_USD,
  CONCURRENCY,
  ONE_SHOTS,
  PROCESSES,
  installOvershootApp,
  leaseOwnerOf,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
  type OvershootResult,
  type OvershootRig,
} from './overshoot-rig';

/** Short, so the takeover fits a test; the production default is 2 minutes. */
const LEASE_TTL_MS = 15_000;

function print(r: OvershootResult, extra = ''): void {
  console.log(
    `      provider saw ${r.providerCalls} calls = $${r.providerSpentUsd.toFixed(6)} of $${CAP_USD} ` +
      `(collectors: $${r.reportedSpentUsd}) → overshoot ${r.overshootPct.toFixed(3)} %, cap used ${r.utilisationPct.toFixed(2)} %; ` +
      `${r.busyErrors} busy, ${r.exceededErrors} exceeded, one-shot calls sent: ${r.oneShotCalls}; ${r.seconds.toFixed(1)} s${extra}`,
  );
}

function assertBounds(r: OvershootResult): void {
  assert.ok(r.overshootPct <= 1, `overshoot ${r.overshootPct} %`);
  assert.ok(r.utilisationPct >= 99, `only ${r.utilisationPct} % of the cap was used`);
  assert.equal(r.oneShotCalls, 0);
  assert.equal(Number(r.reportedSpentUsd).toFixed(9), r.providerSpentUsd.toFixed(9));
}

describe(`one cap across 3 collectors on one store: ${PROCESSES} processes × ${CONCURRENCY} concurrent calls, then ${ONE_SHOTS} one-shots, $${CAP_USD}`, function () {
  this.timeout(420_000);
  let app: string;
  let rig: OvershootRig | undefined;

  before(async () => {
    app = await installOvershootApp();
  });
  afterEach(async () => {
    if (rig) await stopOvershootRig(rig);
    rig = undefined;
  });

  it('apps spread over the 3 collectors: overshoot at most 1 %, at least 99 % of the cap used, no one-shot sent', async () => {
    rig = await startOvershootRig(app, { collectors: 3, leaseTtlMs: LEASE_TTL_MS });
    await leaseOwnerOf(rig, rig.collectors);
    const r = await runOvershoot(rig);
    print(r);
    assertBounds(r);
  });

  it('the lease owner killed (SIGKILL) mid-run: another collector takes over after its leases expire; the same bounds hold', async () => {
    rig = await startOvershootRig(app, { collectors: 3, leaseTtlMs: LEASE_TTL_MS });
    const owner = await leaseOwnerOf(rig, rig.collectors);
    const others = rig.collectors.filter((c) => c !== owner);
    let killedAt = 0;
    let callsAtKill = 0;
    const r = await runOvershoot(rig, {
      targets: others,
      midRun: {
        afterCalls: Math.round(CAP_USD / rig.callUsd / 3),
        run: async () => {
          killedAt = Date.now();
          callsAtKill = rig!.openai.requests.length;
          owner.child.kill('SIGKILL');
          await new Promise((resolve) => owner.child.once('exit', resolve));
        },
      },
    });
    assert.ok(killedAt > 0, 'the owner was killed mid-run');
    const next = await leaseOwnerOf(rig, others);
    // The longest stretch without a call reaching the provider after the kill: the takeover.
    const times = rig.openai.requests.map((q) => q.at).filter((t) => t >= killedAt);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    print(
      r,
      `; owner ${owner.url} killed after ${callsAtKill} calls, ${next.url} took over, longest pause ${(gap / 1000).toFixed(1)} s`,
    );
    try {
      assertBounds(r);
    } catch (err) {
      // What happened around the kill: calls reaching the provider per second, and the collectors' word.
      const perSecond = new Map<number, number>();
      for (const q of rig.openai.requests) {
        const s = Math.floor((q.at - killedAt) / 1000);
        perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      }
      const timeline = [...perSecond].map(([s, n]) => `${s}s:${n}`).join(' ');
      const said = rig.collectors
        .map(
          (c) =>
            `${c.url}:\n${c
              .output()
              .split('\n')
              .filter((l) => /lease/.test(l))
              .join('\n')}`,
        )
        .join('\n');
      throw new Error(
        `${(err as Error).message}\nkilled at ${new Date(killedAt).toISOString()}; calls per second from the kill: ${timeline}\n${said}`,
      );
    }
  });
});

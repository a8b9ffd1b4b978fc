/**
 * The guard's documented figure, as users get it (see ./overshoot-rig.ts): 16 processes started
 * over 10 s × 8 concurrent calls against a $0.05 cap (about 667 calls), the app started with
 * `--require tokenledger/register` only, then 50 one-shot processes once the cap is spent. The
 * provider's request log is the ground truth. The bounds are the product's, not the machine's: no
 * timing is asserted, and the scenario holds on a loaded 2-core machine.
 */
import assert from 'node:assert/strict';
import {
  CAP_USD,
  CONCURRENCY,
  ONE_SHOTS,
  PROCESSES,
  installOvershootApp,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
  type OvershootRig,
} from './overshoot-rig';

describe(`a cap is a cap: ${PROCESSES} processes × ${CONCURRENCY} concurrent calls, then ${ONE_SHOTS} one-shots, against a $${CAP_USD} cap`, function () {
  this.timeout(300_000);
  let rig: OvershootRig | undefined;

  before(async () => {
    rig = await startOvershootRig(await installOvershootApp());
  });
  after(async () => {
    if (rig) await stopOvershootRig(rig);
  });

  it('overshoots by at most 1 %, uses at least 99 % of the cap, and lets no one-shot call reach the provider', async () => {
    const r = await runOvershoot(rig!);
    console.log(
      `      provider saw ${r.providerCalls} calls = $${r.providerSpentUsd.toFixed(6)} of $${CAP_USD} ` +
        `(collector: $${r.reportedSpentUsd}) → overshoot ${r.overshootPct.toFixed(3)} %, cap used ${r.utilisationPct.toFixed(2)} %; ` +
        `${r.busyErrors} busy, ${r.exceededErrors} exceeded, ${r.lateWorkers} workers refused at their first call, ` +
        `one-shot calls sent: ${r.oneShotCalls}; ${r.seconds.toFixed(1)} s; tail ${JSON.stringify(r.tail)}`,
    );
    assert.ok(r.overshootPct <= 1, `overshoot ${r.overshootPct} %`);
    assert.ok(r.utilisationPct >= 99, `only ${r.utilisationPct} % of the cap was used`);
    assert.equal(r.oneShotCalls, 0);
    assert.equal(Number(r.reportedSpentUsd).toFixed(9), r.providerSpentUsd.toFixed(9));
  });
});

/**
 * Bounded overshoot across processes: 16 app processes × 8 concurrent calls against a $1 cap through
 * a real collector (see ./overshoot-rig.ts). Every process holds a leased slice and reserves each
 * call's maximum before it leaves, so together they may not exceed the cap by more than 1 %.
 */
import assert from 'node:assert/strict';
import {
  CAP_USD,
  CONCURRENCY,
  PROCESSES,
  runOvershoot,
  startOvershootRig,
  stopOvershootRig,
} from './overshoot-rig';

describe(`budget leases: ${PROCESSES} processes × ${CONCURRENCY} concurrent calls against a $${CAP_USD} cap`, function () {
  this.timeout(300_000);
  let rig: Awaited<ReturnType<typeof startOvershootRig>>;

  before(async () => {
    rig = await startOvershootRig();
  });
  after(async () => {
    if (rig) await stopOvershootRig(rig);
  });

  it('overshoots the cap by at most 1 % (spend from the collector after everything flushed)', async () => {
    const r = await runOvershoot(rig.collector, rig.openai, rig.ingestKey, rig.adminKey);
    console.log(
      `      overshoot: spent $${r.spentUsd} of $${CAP_USD} in ${r.calls} calls (${r.blockedCalls} blocked) over ` +
        `${r.seconds.toFixed(1)} s → overshoot ${r.overshootPct.toFixed(3)} %, budget used ${r.utilisationPct.toFixed(1)} %`,
    );
    assert.ok(r.overshootPct <= 1, `overshoot ${r.overshootPct} %`);
    // The leases must not strand the budget either: most of it is spent.
    assert.ok(r.utilisationPct >= 90, `only ${r.utilisationPct} % of the budget was spent`);
  });
});

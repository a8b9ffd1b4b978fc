/**
 * CI's short run of the fault rows for the collector's edge and the app's side (rows 3 and 4 of the
 * fault table, docs/RELIABILITY.md): each scenario runs against real processes. The full runs:
 * `npx tsx faults/scenarios/hostile-input.ts --full`, `npx tsx faults/scenarios/app-side.ts --full`.
 *
 * Not met yet, so not asserted here: the hostile row's 500 MB ceiling (measured ~560–630 MB, the
 * embedded engine's library and heap included; RELIABILITY.md). Until it is, this test holds the
 * peak under REGRESSION_GUARD_BYTES (it was 1,079 MiB before the ingest budget) and every other bar.
 */
import assert from 'node:assert/strict';
import { appSide } from '../../faults/scenarios/app-side';
import { hostileInput } from '../../faults/scenarios/hostile-input';
import { formatRow } from '../../faults/support/row';

const REGRESSION_GUARD_BYTES = 700 * 1000 * 1000;
const CEILING_FAILURE = /^peak RSS (\d+) MB is above the \d+ MB ceiling$/;

describe('fault rows: hostile input and the app side (short run)', function () {
  this.timeout(15 * 60_000);

  it('hostile bodies: no crash, only 2xx/4xx, every acknowledged valid call stored', async () => {
    const row = await hostileInput.run({ short: true });
    console.log(`      ${formatRow(row).replaceAll('\n', '\n      ')}`);
    const others = row.failures.filter((f) => !CEILING_FAILURE.test(f));
    assert.deepEqual(others, [], formatRow(row));
    const peak = row.failures.map((f) => CEILING_FAILURE.exec(f)).find((m) => m !== null);
    if (peak) assert.ok(Number(peak[1]) * 1e6 <= REGRESSION_GUARD_BYTES, formatRow(row));
  });

  it('app side: latency and exit delay with the collector down, hanging, answering 500 or 503', async () => {
    const row = await appSide.run({ short: true });
    console.log(`      ${formatRow(row).replaceAll('\n', '\n      ')}`);
    assert.equal(row.status, 'pass', formatRow(row));
  });
});

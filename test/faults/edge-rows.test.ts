/**
 * CI's short run of the fault rows for the collector's edge and the app's side (rows 3 and 4 of the
 * fault table, docs/RELIABILITY.md): each scenario runs against real processes and prints its row,
 * judged against the bars. The full runs, recorded in RELIABILITY.md:
 * `npx tsx faults/scenarios/hostile-input.ts --full`, `npx tsx faults/scenarios/app-side.ts --full`.
 *
 * What this test asserts, beyond the printed row:
 * - hostile bodies: every bar but the 500 MB ceiling, which is not met yet (measured ~550–630 MB, the
 *   embedded engine's library and heap included); until it is, the peak must stay under
 *   REGRESSION_GUARD_BYTES (it was 1,079 MiB before the ingest budget);
 * - the app side: every bar that is not a timing (the app ran unchanged, printed nothing, reached the
 *   collector). Its latency ratio and exit delay are timings: judged in the row, not asserted here
 *   (tests hold no timed assertions; on a loaded shared machine a round's p50 moves 2x), except a
 *   finished app held longer than EXIT_GUARD_MS, which is a hang and fails.
 */
import assert from 'node:assert/strict';
import { appSide } from '../../faults/scenarios/app-side';
import { hostileInput } from '../../faults/scenarios/hostile-input';
import { formatRow } from '../../faults/support/row';

const REGRESSION_GUARD_BYTES = 700 * 1000 * 1000;
const CEILING_FAILURE = /^peak RSS (\d+) MB is above the \d+ MB ceiling$/;
const EXIT_GUARD_MS = 2_500;
const LATENCY_FAILURE = /: p50 [\d.]+x the app without tokenledger/;
const EXIT_FAILURE = /: exit (\d+) ms after the app's last statement/;

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

  it('app side: the app runs unchanged with its collector down, hanging, answering 500 or 503', async () => {
    const row = await appSide.run({ short: true });
    console.log(`      ${formatRow(row).replaceAll('\n', '\n      ')}`);
    const others = row.failures.filter((f) => !LATENCY_FAILURE.test(f) && !EXIT_FAILURE.test(f));
    assert.deepEqual(others, [], formatRow(row));
    for (const f of row.failures) {
      const exit = EXIT_FAILURE.exec(f);
      if (exit) assert.ok(Number(exit[1]) <= EXIT_GUARD_MS, formatRow(row));
    }
  });
});

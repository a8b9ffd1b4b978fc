/**
 * The fault suite's short run (`npm run faults -- --short`): every scenario in faults/scenarios
 * against real processes, each row printed and asserted. What a short run prints without judging
 * (`judged: false`: the app's latency and exit timings, which a shared machine cannot hold) shows in
 * the table; the row fails on every other check, the hang guard and the 500 MB memory ceiling
 * included. The full run and its figures: docs/RELIABILITY.md.
 */
import assert from 'node:assert/strict';
import { SCENARIOS } from '../../faults/scenarios';
import { faultTable } from '../../faults/table';
import { ALLOW_SKIP_VARIABLE, isJudged, rowAccepted } from '../../faults/types';

describe('fault suite (short run)', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.title}`, async function () {
      this.timeout(scenario.shortTimeoutMs);
      const row = await scenario.run({ short: true, log: (line) => console.log(`      ${line}`) });
      console.log(faultTable([row]).replace(/^/gm, '      '));
      assert.ok(
        rowAccepted(row),
        row.status === 'skipped'
          ? `${scenario.name} was SKIPPED (${row.note}); set ${ALLOW_SKIP_VARIABLE}=1 only where that is expected`
          : `${scenario.name} failed: ${row.checks
              .filter((c) => !c.ok && isJudged(c))
              .map((c) => `${c.check}: ${c.measured} (target ${c.target})`)
              .join('; ')}${row.note ? ` — ${row.note}` : ''}`,
      );
    });
  }
});

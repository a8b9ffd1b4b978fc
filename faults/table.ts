/** The fault table: one line per check, as markdown that also reads as plain text (like bench/). */
import { isJudged, type FaultCheck, type FaultRow } from './types';

const STATUS = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIPPED' } as const;

/** A timing the run only prints is marked as such, so a reader never takes it for a pass. */
const result = (c: FaultCheck): string =>
  c.ok ? 'PASS' : isJudged(c) ? 'FAIL' : 'not met (printed, not judged)';

export function faultTable(rows: FaultRow[]): string {
  const headers = ['scenario', 'fault', 'check', 'measured', 'target', 'result'];
  const lines: string[][] = [];
  for (const row of rows) {
    if (row.checks.length === 0) {
      lines.push([row.scenario, row.fault, row.note ?? '—', '—', '—', STATUS[row.status]]);
      continue;
    }
    row.checks.forEach((c, i) =>
      lines.push([
        i === 0 ? row.scenario : '',
        i === 0 ? row.fault : '',
        c.check,
        c.measured,
        c.target,
        result(c),
      ]),
    );
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const notes = rows.filter((r) => r.note && r.checks.length > 0).map((r) => `- ${r.scenario}: ${r.note}`);
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(line),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n');
}

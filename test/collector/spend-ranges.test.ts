/**
 * Where a budget's spend is read from (storedSpend): every instant of [from, to) from exactly one
 * source, whole days only where the daily rollup has sealed them, whole hours only where the hourly
 * one has — for any frontiers, including a daily frontier read ahead of the hourly one and
 * frontiers an older read left behind (the reads are reused for a few seconds).
 */
import assert from 'node:assert/strict';
import { spendRanges, type SpendRanges } from '../../collector/src/govern/budgets/spend';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A small deterministic generator, so a failure names its case. */
function* cases(n: number): Generator<[number, number, number, number]> {
  let x = 42;
  const next = (): number => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const base = Date.UTC(2026, 10, 1);
  for (let i = 0; i < n; i++) {
    // Ends on and off the hour and the day, frontiers anywhere around them (0: nothing sealed).
    const snap = (t: number): number =>
      next() < 0.3 ? Math.floor(t / DAY) * DAY : next() < 0.5 ? Math.floor(t / HOUR) * HOUR : t;
    const from = snap(base + Math.floor(next() * 40 * DAY));
    const to = snap(from + Math.floor(next() * (next() < 0.2 ? 2 * HOUR : 40 * DAY)));
    const frontier = (): number =>
      next() < 0.1 ? 0 : Math.floor((from - 5 * DAY + next() * 50 * DAY) / HOUR) * HOUR;
    yield [from, to, frontier(), frontier()];
  }
}

function check(r: SpendRanges, from: number, to: number, days: number, hours: number): void {
  const all = [
    ...r.days.map(([a, b]) => ({ a, b, kind: 'day' })),
    ...r.hours.map(([a, b]) => ({ a, b, kind: 'hour' })),
    ...r.raw.map(([a, b]) => ({ a, b, kind: 'raw' })),
  ].sort((p, q) => p.a - q.a);
  // A partition of [from, to): no gap, no overlap, nothing outside.
  let at = from;
  for (const p of all) {
    assert.ok(p.a < p.b, `empty ${p.kind} interval`);
    assert.equal(p.a, at, `gap or overlap at ${new Date(at).toISOString()}`);
    at = p.b;
  }
  assert.equal(at, from < to ? to : from);
  for (const [a, b] of r.days) {
    assert.equal(a % DAY, 0);
    assert.equal(b % DAY, 0);
    assert.ok(b <= days && b <= hours, 'days only where both rollups have sealed them');
  }
  for (const [a, b] of r.hours) {
    assert.equal(a % HOUR, 0);
    assert.equal(b % HOUR, 0);
    assert.ok(b <= hours, 'hours only where the hourly rollup has sealed them');
  }
}

describe('budget spend ranges (days, hours, raw calls)', () => {
  it('partition any range for any frontiers', () => {
    let n = 0;
    for (const [from, to, days, hours] of cases(20_000)) {
      const r = spendRanges(from, to, days, hours);
      try {
        check(r, from, to, days, hours);
      } catch (err) {
        const iso = (t: number) => new Date(t).toISOString();
        (err as Error).message +=
          ` [from ${iso(from)} to ${iso(to)}, days ${iso(days)}, hours ${iso(hours)}]`;
        throw err;
      }
      n++;
    }
    assert.equal(n, 20_000);
  });

  it('a month in Asia/Kolkata: raw for the half hour at each end, hours around the days', () => {
    const from = Date.parse('2026-10-31T18:30:00Z');
    const to = Date.parse('2026-11-30T18:30:00Z');
    const sealed = Date.parse('2026-12-01T00:00:00Z');
    assert.deepEqual(spendRanges(from, to, sealed, sealed), {
      raw: [
        [from, from + HOUR / 2],
        [to - HOUR / 2, to],
      ],
      hours: [
        [from + HOUR / 2, Date.parse('2026-11-01T00:00:00Z')],
        [Date.parse('2026-11-30T00:00:00Z'), to - HOUR / 2],
      ],
      days: [[Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-11-30T00:00:00Z')]],
    });
  });

  it('nothing sealed: every instant from the raw calls', () => {
    const from = Date.parse('2026-11-03T07:20:00Z');
    const to = Date.parse('2026-11-17T15:45:00Z');
    assert.deepEqual(spendRanges(from, to, 0, 0), { days: [], hours: [], raw: [[from, to]] });
  });
});

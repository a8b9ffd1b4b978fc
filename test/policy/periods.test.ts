import assert from 'node:assert/strict';
import { periodAt, startOfLocalDay } from '../../collector/src/govern/budgets/periods';

const iso = (p: { start: Date; end: Date }): [string, string] => [p.start.toISOString(), p.end.toISOString()];
const hours = (p: { start: Date; end: Date }): number => (p.end.getTime() - p.start.getTime()) / 3_600_000;

describe('budget periods (calendar, IANA time zones, DST)', () => {
  it('UTC by default: day, ISO week from Monday, month, quarter', () => {
    const now = new Date('2026-11-25T15:30:00Z'); // a Wednesday
    assert.deepEqual(iso(periodAt('daily', now)), ['2026-11-25T00:00:00.000Z', '2026-11-26T00:00:00.000Z']);
    assert.deepEqual(iso(periodAt('weekly', now)), ['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z']);
    assert.deepEqual(iso(periodAt('monthly', now)), ['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    assert.deepEqual(iso(periodAt('quarterly', now)), [
      '2026-10-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ]);
  });

  it('a Sunday belongs to the week that started on Monday; a Monday starts one', () => {
    assert.equal(
      periodAt('weekly', new Date('2026-11-29T23:59:59Z')).start.toISOString(),
      '2026-11-23T00:00:00.000Z',
    );
    assert.equal(
      periodAt('weekly', new Date('2026-11-30T00:00:00Z')).start.toISOString(),
      '2026-11-30T00:00:00.000Z',
    );
  });

  it('the day of a spring-forward is 23 hours long, the day of a fall-back 25 (America/New_York)', () => {
    const spring = periodAt('daily', new Date('2026-03-08T12:00:00Z'), 'America/New_York');
    assert.deepEqual(iso(spring), ['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
    assert.equal(hours(spring), 23);
    const fall = periodAt('daily', new Date('2026-11-01T12:00:00Z'), 'America/New_York');
    assert.deepEqual(iso(fall), ['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
    assert.equal(hours(fall), 25);
  });

  it('a month across the end of summer time starts and ends at local midnight (Europe/Berlin)', () => {
    const october = periodAt('monthly', new Date('2026-10-15T12:00:00Z'), 'Europe/Berlin');
    assert.deepEqual(iso(october), ['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z']);
    // The last hour of the month in Berlin already belongs to November in UTC terms and vice versa.
    assert.equal(
      periodAt('monthly', new Date('2026-10-31T23:30:00Z'), 'Europe/Berlin').start.toISOString(),
      '2026-10-31T23:00:00.000Z',
    );
  });

  it('a week across the DST change keeps Monday local midnight at both ends', () => {
    const week = periodAt('weekly', new Date('2026-03-29T12:00:00Z'), 'Europe/London');
    assert.deepEqual(iso(week), ['2026-03-23T00:00:00.000Z', '2026-03-29T23:00:00.000Z']);
  });

  it('half-hour zones and zones ahead of UTC (Asia/Kolkata, Pacific/Kiritimati)', () => {
    const q = periodAt('quarterly', new Date('2026-11-23T12:00:00Z'), 'Asia/Kolkata');
    assert.deepEqual(iso(q), ['2026-09-30T18:30:00.000Z', '2026-12-31T18:30:00.000Z']);
    const d = periodAt('daily', new Date('2026-01-01T00:30:00Z'), 'Pacific/Kiritimati');
    assert.deepEqual(iso(d), ['2025-12-31T10:00:00.000Z', '2026-01-01T10:00:00.000Z']);
  });

  it('a midnight that does not exist (Chile springs forward at 00:00) starts the day at the jump', () => {
    // 2026-09-06 00:00 -04 becomes 01:00 -03: the day begins at 04:00 UTC and lasts 23 hours.
    const day = periodAt('daily', new Date('2026-09-06T12:00:00Z'), 'America/Santiago');
    assert.deepEqual(iso(day), ['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
    // A midnight that happens twice (fall-back at 00:00): the later one starts the day.
    assert.equal(startOfLocalDay(2026, 3, 5, 'America/Santiago').toISOString(), '2026-04-05T04:00:00.000Z');
  });

  it('consecutive periods tile time: each end is the next start', () => {
    for (const tz of ['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
      for (const period of ['daily', 'weekly', 'monthly', 'quarterly'] as const) {
        let p = periodAt(period, new Date('2026-01-01T00:00:00Z'), tz);
        for (let i = 0; i < 14; i++) {
          const next = periodAt(period, p.end, tz);
          assert.equal(next.start.getTime(), p.end.getTime(), `${tz} ${period} after ${p.end.toISOString()}`);
          assert.ok(next.end > next.start);
          p = next;
        }
      }
    }
  });
});

import assert from 'node:assert/strict';
import { resolvePeriod, PeriodError } from '../../collector/src/read/period';

const NOW = new Date('2026-03-15T10:20:30Z');
const range = (input: Parameters<typeof resolvePeriod>[0]): string[] => {
  const r = resolvePeriod(input, NOW);
  return [r.period, r.from.toISOString(), r.to.toISOString()];
};

describe('report periods (UTC, to exclusive)', () => {
  it('resolves the named periods', () => {
    assert.deepEqual(range({}), ['current_month', '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
    assert.deepEqual(range({ period: 'last_month' }), [
      'last_month',
      '2026-02-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
    assert.deepEqual(range({ period: 'last_7d' }), [
      'last_7d',
      '2026-03-09T00:00:00.000Z',
      '2026-03-16T00:00:00.000Z',
    ]);
    assert.deepEqual(range({ period: 'last_30d' }), [
      'last_30d',
      '2026-02-14T00:00:00.000Z',
      '2026-03-16T00:00:00.000Z',
    ]);
  });

  it('crosses the year for last_month in January and accepts YYYY-MM', () => {
    const jan = resolvePeriod({ period: 'last_month' }, new Date('2026-01-10T00:00:00Z'));
    assert.equal(jan.from.toISOString(), '2025-12-01T00:00:00.000Z');
    assert.deepEqual(range({ period: '2025-12' }), [
      '2025-12',
      '2025-12-01T00:00:00.000Z',
      '2026-01-01T00:00:00.000Z',
    ]);
  });

  it('accepts from/to and rejects bad input with a clear message', () => {
    assert.deepEqual(range({ from: '2026-01-01', to: '2026-01-02T12:00:00Z' }), [
      'custom',
      '2026-01-01T00:00:00.000Z',
      '2026-01-02T12:00:00.000Z',
    ]);
    assert.throws(() => resolvePeriod({ period: 'yesterday' }, NOW), /unknown period "yesterday"/);
    assert.throws(() => resolvePeriod({ period: '2026-13' }, NOW), PeriodError);
    // A year nothing can be stored in is a typo; 0026 was read as 1926.
    assert.throws(
      () => resolvePeriod({ period: '0026-11' }, NOW),
      /invalid year in period "0026-11": use 1970 to 2106/,
    );
    assert.throws(() => resolvePeriod({ period: '2206-11' }, NOW), /invalid year/);
    assert.deepEqual(range({ period: '1970-01' }).slice(1), [
      '1970-01-01T00:00:00.000Z',
      '1970-02-01T00:00:00.000Z',
    ]);
    assert.throws(() => resolvePeriod({ from: '2026-01-01' }, NOW), /together/);
    assert.throws(() => resolvePeriod({ from: '2026-01-02', to: '2026-01-01' }, NOW), /must be after/);
    assert.throws(() => resolvePeriod({ from: 'last tuesday', to: '2026-01-01' }, NOW), /ISO 8601/);
  });
});

/** Compares query rows (JSONEachRow, decimals and 64-bit ints quoted) with expected rows. */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import { Approx, type Row } from './expected';

function cellMatches(actual: unknown, expected: Row[string]): boolean {
  if (expected === null) return actual === null;
  if (expected instanceof Decimal) return actual !== null && new Decimal(String(actual)).eq(expected);
  if (expected instanceof Approx) {
    const a = Number(actual);
    return Math.abs(a - expected.value) <= expected.relative * Math.max(1, Math.abs(expected.value));
  }
  if (typeof expected === 'number') return Number(actual) === expected;
  return actual === expected;
}

const show = (row: Row): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      v instanceof Decimal ? v.toFixed() : v instanceof Approx ? v.value : v,
    ]),
  );

export function assertRows(actual: Record<string, unknown>[], expected: Row[], what: string): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${actual.length} rows, expected ${expected.length}\n${JSON.stringify(actual.slice(0, 5))}\nvs ${JSON.stringify(expected.slice(0, 5).map(show))}`,
  );
  expected.forEach((row, i) => {
    const got = actual[i] as Record<string, unknown>;
    assert.deepEqual(Object.keys(got).sort(), Object.keys(row).sort(), `${what} row ${i}: columns`);
    for (const [k, v] of Object.entries(row)) {
      assert.ok(
        cellMatches(got[k], v),
        `${what} row ${i} ${k}: got ${JSON.stringify(got[k])}, expected ${JSON.stringify(show({ v }).v)}\nrow: ${JSON.stringify(got)}`,
      );
    }
  });
}

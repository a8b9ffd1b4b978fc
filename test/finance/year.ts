/**
 * The seeded year in a fresh embedded database, written through the collector's writer, and the
 * expected figures computed from the generated calls alone (exact Decimal sums by time range).
 */
import Decimal from 'decimal.js';
import type { PricedCall } from '../../collector/src/core/call';
import type { Storage } from '../../collector/src/storage/client';
import { CallWriter } from '../../collector/src/storage/writer';
import { freshStorage } from '../support/embedded-storage';
import { spendYear, type YearDay } from '../support/spend-year';

export interface SeededYear {
  storage: Storage;
  calls: PricedCall[];
  days: YearDay[];
}

let seeded: Promise<SeededYear> | undefined;

/** One seeded database per test process (seeding takes a few seconds); suites only read it. */
export function seededYear(): Promise<SeededYear> {
  seeded ??= (async () => {
    const storage = await freshStorage();
    const { calls, days } = spendYear();
    await new CallWriter(storage).write(calls);
    return { storage, calls, days };
  })();
  return seeded;
}

const ms = (c: PricedCall): number => Number(BigInt(c.startTimeUnixNano) / 1_000_000n);

/** Exact spend of `team`'s calls (any team when '') in [from, to). */
export function spendOf(calls: PricedCall[], team: string, from: Date | number, to: Date | number): Decimal {
  const f = typeof from === 'number' ? from : from.getTime();
  const t = typeof to === 'number' ? to : to.getTime();
  let sum = new Decimal(0);
  for (const c of calls) {
    const at = ms(c);
    if (at >= f && at < t && (team === '' || c.attribution.team === team)) sum = sum.plus(c.costUsd);
  }
  return sum;
}

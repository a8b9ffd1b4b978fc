/**
 * Stored spend over [from, to) or in consecutive buckets: a daily rollup for the whole UTC days it
 * has sealed, its hourly rollup for the other whole hours, the raw calls (FINAL: deduplicated) for
 * the hours a boundary cuts — a period or a day in a zone like Asia/Kolkata does not start on a UTC
 * hour, and "now" rarely does. Values only as query parameters. The rollups are the smallest pair
 * that has every field the scope matches on: `calls_hourly`/`calls_daily` (all but customer and
 * workflow), `workflows_hourly`/`workflows_daily` (all but customer), `customers_hourly`/
 * `customers_daily` (customer, workflow, team, environment, feature), else `spend_hourly` alone;
 * all equal the raw calls.
 */
import type { PolicyMatch } from 'tokenledger/policy';
import { scopeCondition, scopeFields, type SpendScope } from '../policy/match';
import { CALLS_HOURLY, SPEND_HOURLY, type Rollup } from '../../storage/rollup/rollups';
import { CALLS_DAILY, CUSTOMERS_DAILY, WORKFLOWS_DAILY, type DailyRollup } from '../../storage/rollup/days';
import { Money } from '../../core/money';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The rollups with the fewest rows that have every field the scope matches on. */
export function spendRollupsOf(scope: SpendScope): { hourly: Rollup; daily?: DailyRollup } {
  const fields = [...scopeFields(scope)];
  for (const daily of [CALLS_DAILY, WORKFLOWS_DAILY, CUSTOMERS_DAILY]) {
    if (fields.every((f) => daily.dimensions.includes(f))) return { hourly: daily.hourly, daily };
  }
  return { hourly: SPEND_HOURLY };
}

/** The hourly rollup with the fewest rows that has every field the scope matches on. */
export function hourlySpendOf(database: string, scope: SpendScope): string {
  return `${database}.${spendRollupsOf(scope).hourly.name}`;
}

/** How long one read of the rollups' frontiers serves the budget reads after it (ms). */
const FRONTIERS_REUSED_MS = 30_000;

interface FrontierRead {
  at: number;
  /** Seconds, per rollup name ('' for spend_hourly's own table); absent: nothing sealed. */
  seconds: Map<string, number>;
}

const frontierReads = new WeakMap<Storage, FrontierRead>();

const frontierKey = (rollup: Rollup): string =>
  rollup.frontier.table === 'rollup_frontier' ? '' : rollup.frontier.rollup;

/**
 * Every rollup's published frontier (what the views take: a move counts 5 s after it was written),
 * read in one query and reused for FRONTIERS_REUSED_MS. Frontiers move about once an hour and an older
 * one is exact too — the hours after it are read from a finer source — so a reuse only costs rows.
 */
async function publishedFrontiers(storage: Storage): Promise<FrontierRead['seconds']> {
  const now = Date.now();
  const cached = frontierReads.get(storage);
  if (cached && now - cached.at < FRONTIERS_REUSED_MS) return cached.seconds;
  const db = storage.database;
  const published = 'advanced_at <= now64(3) - INTERVAL 5 SECOND';
  const rs = await storage.client.query({
    query: `SELECT rollup AS name, toUnixTimestamp(max(sealed_until)) AS s FROM ${db}.rollup_frontiers
            WHERE ${published} GROUP BY name
            UNION ALL
            SELECT '' AS name, toUnixTimestamp(max(sealed_until)) AS s FROM ${db}.rollup_frontier
            WHERE ${published}`,
    format: 'JSONEachRow',
  });
  const seconds = new Map((await rs.json<{ name: string; s: number }>()).map((r) => [r.name, Number(r.s)]));
  frontierReads.set(storage, { at: now, seconds });
  return seconds;
}

type Interval = [number, number];

/** Where each instant of a budget's range is read from (ms, [from, to) each, disjoint, ascending). */
export interface SpendRanges {
  days: Interval[];
  hours: Interval[];
  raw: Interval[];
}

const nonEmpty = (list: Interval[]): Interval[] => {
  const out: Interval[] = [];
  for (const [a, b] of list) {
    if (a >= b) continue;
    const last = out[out.length - 1];
    if (last && last[1] === a) last[1] = b;
    else out.push([a, b]);
  }
  return out;
};

/**
 * [from, to) split into whole UTC days the daily rollup has sealed (before `daysSealedUntil`), the
 * other whole hours the hourly one has (before `hoursSealedUntil`), and the rest — the hours the ends
 * cut and the live tail — for the raw calls. Every instant in exactly one; days lie within hours, so
 * a daily frontier read ahead of the hourly one cannot leave a gap.
 */
export function spendRanges(
  from: number,
  to: number,
  daysSealedUntil: number,
  hoursSealedUntil: number,
): SpendRanges {
  let wholeFrom = Math.ceil(from / HOUR_MS) * HOUR_MS;
  let wholeTo = Math.floor(to / HOUR_MS) * HOUR_MS;
  // No whole hour inside: everything from the raw calls.
  if (wholeFrom >= wholeTo) wholeFrom = wholeTo = from;
  const hoursEnd = Math.max(wholeFrom, Math.min(wholeTo, hoursSealedUntil));
  const dayFrom = Math.ceil(wholeFrom / DAY_MS) * DAY_MS;
  const daysEnd = Math.max(dayFrom, Math.floor(Math.min(hoursEnd, daysSealedUntil) / DAY_MS) * DAY_MS);
  return {
    days: nonEmpty([[dayFrom, daysEnd]]),
    hours: nonEmpty([
      [wholeFrom, Math.min(dayFrom, hoursEnd)],
      [daysEnd, hoursEnd],
    ]),
    raw: nonEmpty([
      [from, wholeFrom],
      [hoursEnd, to],
    ]),
  };
}

/** `column` in any of `intervals`, bounds as query parameters named after `prefix`. */
function within(
  column: string,
  intervals: Interval[],
  prefix: string,
  params: Record<string, unknown>,
  time: (name: string) => string,
  unit: (ms: number) => number,
): string {
  return intervals
    .map(([a, b], i) => {
      params[`${prefix}${i}_from`] = unit(a);
      params[`${prefix}${i}_to`] = unit(b);
      return `(${column} >= ${time(`${prefix}${i}_from`)} AND ${column} < ${time(`${prefix}${i}_to`)})`;
    })
    .join(' OR ');
}

const atSecond = (name: string): string => `toDateTime({${name}:UInt32}, 'UTC')`;
const atMilli = (name: string): string => `fromUnixTimestamp64Milli({${name}:Int64}, 'UTC')`;

/**
 * Spend over [from, to): whole UTC days from the daily rollup's sealed rows, the other whole hours
 * from the hourly rollup's sealed rows, and the rest — the hours the ends cut, and whole hours
 * after the hourly frontier (the live tail) — from the raw calls (FINAL: deduplicated). One
 * statement over plain time ranges of three indexes, computed here from the frontiers: no view's
 * frontier subqueries and live tail, no branch for a source with nothing to read.
 */
export async function storedSpend(
  storage: Storage,
  match: PolicyMatch | undefined,
  from: Date,
  to: Date,
): Promise<Money> {
  const scope: SpendScope = { match };
  const { hourly, daily } = spendRollupsOf(scope);
  const rollup = scopeCondition(scope, 'rollup', 'r');
  const raw = scopeCondition(scope, 'raw', 'c');
  const db = storage.database;
  try {
    const frontiers = await publishedFrontiers(storage);
    const sealedUntil = (r: Rollup | undefined): number =>
      r ? (frontiers.get(frontierKey(r)) ?? 0) * 1000 : 0;
    const ranges = spendRanges(from.getTime(), to.getTime(), sealedUntil(daily), sealedUntil(hourly));
    const params: Record<string, unknown> = { ...rollup.params, ...raw.params };
    const seconds = (ms: number): number => ms / 1000;
    const branches: string[] = [];
    if (daily && ranges.days.length > 0)
      branches.push(`SELECT sum(cost_usd) AS spend FROM ${db}.${daily.sealed} FINAL
        WHERE (${within('day', ranges.days, 'days', params, atSecond, seconds)}) AND calls > 0 AND ${rollup.sql}`);
    if (ranges.hours.length > 0)
      branches.push(`SELECT sum(cost_usd) AS spend FROM ${db}.${hourly.sealed} FINAL
        WHERE (${within('hour', ranges.hours, 'hours', params, atSecond, seconds)}) AND calls > 0 AND ${rollup.sql}`);
    if (ranges.raw.length > 0)
      branches.push(`SELECT sum(cost_usd) AS spend FROM ${db}.llm_calls FINAL
        WHERE (${within('start_time', ranges.raw, 'calls', params, atMilli, (ms) => ms)}) AND ${raw.sql}`);
    if (branches.length === 0) return new Money(0);
    const rs = await storage.client.query({
      query: `SELECT toString(sum(spend)) AS spent FROM (${branches.join('\n        UNION ALL\n        ')})`,
      query_params: params,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ spent: string | null }>();
    return new Money(row?.spent ?? '0');
  } catch (cause) {
    throw new StorageError('reading budget spend', {
      cause,
      detail: `${db}.${daily?.sealed ?? ''} ${db}.${hourly.sealed}, ${db}.llm_calls`,
    });
  }
}

/**
 * Stored spend of a scope in each bucket [bounds[i], bounds[i + 1]) (ms, ascending; one result per
 * bucket). Whole hours inside a bucket come from the rollup (one row per hour), the hours a bound
 * cuts from the raw calls (their primary key selects just those hours), so a year of local days
 * is one pass over the rollup.
 */
export async function storedSpendByBucket(
  storage: Storage,
  scope: SpendScope,
  bounds: number[],
): Promise<Money[]> {
  const buckets = bounds.slice(1).map(() => new Money(0));
  if (bounds.length < 2) return buckets;
  const first = bounds[0]!;
  const last = bounds[bounds.length - 1]!;
  const cut = [
    ...new Set(bounds.filter((b) => b % HOUR_MS !== 0).map((b) => Math.floor(b / HOUR_MS) * 3600)),
  ];
  const rollup = scopeCondition(scope, 'rollup', 'r');
  const raw = scopeCondition(scope, 'raw', 'c');
  const db = storage.database;
  const params = {
    first_ms: first,
    last_ms: last,
    whole_from: Math.ceil(first / HOUR_MS) * 3600,
    whole_to: Math.floor(last / HOUR_MS) * 3600,
    cut,
    bounds,
    ...rollup.params,
    ...raw.params,
  };
  const bucketOf = (t: number): number => {
    // The last bound at or before t (binary search).
    let lo = 0;
    let hi = bounds.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (bounds[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  try {
    const hourly = await storage.client.query({
      query: `SELECT toUnixTimestamp(hour) AS h, toString(sum(cost_usd)) AS usd FROM ${hourlySpendOf(db, scope)}
              WHERE hour >= toDateTime({whole_from:UInt32}, 'UTC') AND hour < toDateTime({whole_to:UInt32}, 'UTC')
                AND NOT has({cut:Array(UInt32)}, toUnixTimestamp(hour)) AND ${rollup.sql}
              GROUP BY h`,
      query_params: params,
      format: 'JSONEachRow',
    });
    for (const r of await hourly.json<{ h: number; usd: string }>()) {
      const i = bucketOf(Number(r.h) * 1000);
      buckets[i] = buckets[i]!.plus(r.usd);
    }
    if (cut.length === 0) return buckets;
    const partial = await storage.client.query({
      query: `SELECT arrayFirstIndex(b -> b > toUnixTimestamp64Milli(start_time), {bounds:Array(Int64)}) AS i,
                     toString(sum(cost_usd)) AS usd
              FROM ${db}.llm_calls FINAL
              WHERE toStartOfHour(start_time) IN (SELECT toDateTime(arrayJoin({cut:Array(UInt32)}), 'UTC'))
                AND start_time >= fromUnixTimestamp64Milli({first_ms:Int64}, 'UTC')
                AND start_time < fromUnixTimestamp64Milli({last_ms:Int64}, 'UTC')
                AND ${raw.sql}
              GROUP BY i`,
      query_params: params,
      format: 'JSONEachRow',
    });
    for (const r of await partial.json<{ i: number; usd: string }>()) {
      // arrayFirstIndex is 1-based and names the first bound after the call: its bucket is two before.
      const i = Number(r.i) - 2;
      buckets[i] = buckets[i]!.plus(r.usd);
    }
    return buckets;
  } catch (cause) {
    throw new StorageError('reading spend by day', { cause, detail: `${db}.spend_hourly, ${db}.llm_calls` });
  }
}

/** (provider, model) pairs with spend since `from` — their prices go to the guard. */
export async function modelsSeen(
  storage: Storage,
  from: Date,
): Promise<Array<{ provider: string; model: string }>> {
  const db = storage.database;
  try {
    const rs = await storage.client.query({
      query: `SELECT DISTINCT provider, model FROM ${db}.${CALLS_HOURLY.name}
              WHERE hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND model != ''
              LIMIT 1000`,
      query_params: { from: Math.floor(from.getTime() / 1000) },
      format: 'JSONEachRow',
    });
    return await rs.json<{ provider: string; model: string }>();
  } catch (cause) {
    throw new StorageError('reading the models seen', { cause, detail: `${db}.${CALLS_HOURLY.name}` });
  }
}

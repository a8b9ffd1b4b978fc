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

/**
 * The frontier readers take for `rollup`: hours (days) before it are in its sealed table, the very
 * subquery of its view (ClickHouse evaluates it once per query). None: nothing sealed.
 */
function published(database: string, rollup: Rollup | undefined): string {
  if (!rollup) return `toDateTime(0, 'UTC')`;
  const { frontier } = rollup;
  return frontier.table === 'rollup_frontier'
    ? `(SELECT max(sealed_until) FROM ${database}.rollup_frontier WHERE advanced_at <= now64(3) - INTERVAL 5 SECOND)`
    : `(SELECT max(sealed_until) FROM ${database}.rollup_frontiers
        WHERE rollup = '${frontier.rollup}' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)`;
}

/**
 * Spend over [from, to): whole UTC days from the daily rollup's sealed rows, the other whole hours
 * from the hourly rollup's sealed rows, and the rest — the hours the ends cut, and whole hours
 * after the hourly frontier (the live tail) — from the raw calls. The same split the views make,
 * in one statement that reads the sealed tables and the raw calls directly: a budget reads a few
 * ranges of three indexes, not two views' frontier subqueries and live tails on top.
 */
export async function storedSpend(
  storage: Storage,
  match: PolicyMatch | undefined,
  from: Date,
  to: Date,
): Promise<Money> {
  const f = from.getTime();
  const t = to.getTime();
  let wholeFrom = Math.ceil(f / HOUR_MS) * HOUR_MS;
  let wholeTo = Math.floor(t / HOUR_MS) * HOUR_MS;
  // No whole hour inside: everything from the raw calls.
  if (wholeFrom >= wholeTo) wholeFrom = wholeTo = f;
  let dayFrom = Math.ceil(wholeFrom / DAY_MS) * DAY_MS;
  let dayTo = Math.floor(wholeTo / DAY_MS) * DAY_MS;
  if (dayFrom >= dayTo) dayFrom = dayTo = wholeFrom;
  const scope: SpendScope = { match };
  const { hourly, daily } = spendRollupsOf(scope);
  const rollup = scopeCondition(scope, 'rollup', 'r');
  const raw = scopeCondition(scope, 'raw', 'c');
  const db = storage.database;
  const at = (name: string): string => `toDateTime({${name}:UInt32}, 'UTC')`;
  // [day_from, days_to): the whole days the daily rollup has sealed; [whole_from, hours_to): the
  // whole hours the hourly one has; every other instant of [from, to) from the raw calls.
  const daysTo = `least(${at('day_to')}, ${published(db, daily)})`;
  const hoursTo = `least(${at('whole_to')}, ${published(db, hourly)})`;
  const inDays = (time: string): string => `(${time} >= ${at('day_from')} AND ${time} < ${daysTo})`;
  const inHours = (time: string): string => `(${time} >= ${at('whole_from')} AND ${time} < ${hoursTo})`;
  const days = daily
    ? `SELECT sum(cost_usd) AS spend FROM ${db}.${daily.sealed} FINAL
       WHERE ${inDays('day')} AND calls > 0 AND ${rollup.sql}
       UNION ALL`
    : '';
  try {
    const rs = await storage.client.query({
      query: `SELECT toString(sum(spend)) AS spent FROM (
                ${days}
                SELECT sum(cost_usd) AS spend FROM ${db}.${hourly.sealed} FINAL
                WHERE ${inHours('hour')} AND NOT ${inDays('hour')} AND calls > 0 AND ${rollup.sql}
                UNION ALL
                SELECT sum(cost_usd) AS spend FROM ${db}.llm_calls FINAL
                WHERE start_time >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
                  AND start_time < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
                  AND NOT ${inHours('start_time')} AND NOT ${inDays('start_time')}
                  AND ${raw.sql})`,
      query_params: {
        day_from: dayFrom / 1000,
        day_to: dayTo / 1000,
        whole_from: wholeFrom / 1000,
        whole_to: wholeTo / 1000,
        from_ms: f,
        to_ms: t,
        ...rollup.params,
        ...raw.params,
      },
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

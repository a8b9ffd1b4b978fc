/**
 * The statements of the sealed-hours rollups (migrations 0013, 0037; `rollups.ts`): build hours of
 * each sealed table from the raw calls, record what a build covers, move a frontier, find hours to
 * rebuild. Times
 * travel as whole seconds (hours) or milliseconds (marks), always as query parameters.
 */
import type { Storage } from '../client';
import { queryRows as rows, runStatement as run } from '../statements';
import { ROLLUPS, SPEND_HOURLY, type Rollup } from './rollups';

const HOURS_IN = `hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')`;

/** One build: a generation (ordered like the time it started) and the marks it covers. */
export interface Build {
  generation: string;
  /** Marks at or before this (ms) are covered by the build. */
  coveredUntilMs: number;
}

/** The server's clock in microseconds (one clock for every collector sharing a ClickHouse server). */
export async function serverNowMicros(storage: Storage): Promise<bigint> {
  const [row] = await rows<{ t: string }>(
    storage,
    'reading the clock',
    'SELECT toString(toUnixTimestamp64Micro(now64(6))) AS t',
  );
  return BigInt(row!.t);
}

/** A rollup's frontier rows, as a FROM … WHERE clause. */
function frontierRows(storage: Storage, rollup: Rollup): string {
  const { frontier } = rollup;
  return frontier.table === 'rollup_frontier'
    ? `${storage.database}.rollup_frontier`
    : `${storage.database}.rollup_frontiers WHERE rollup = '${frontier.rollup}'`;
}

/**
 * Hours before this (seconds) are sealed (or being sealed) in `rollup`; 0 when nothing was. Readers
 * (the views) take a move of a frontier only PUBLISH_DELAY_MS after it was written.
 */
export async function readFrontier(storage: Storage, rollup: Rollup = SPEND_HOURLY): Promise<number> {
  const [row] = await rows<{ s: number }>(
    storage,
    `reading the frontier of ${rollup.name}`,
    `SELECT toUInt32(max(sealed_until)) AS s FROM ${frontierRows(storage, rollup)}`,
  );
  return Number(row?.s ?? 0);
}

/** Moves `rollup`'s frontier to `sealedUntil`; `backdateMs` makes readers take it sooner (tests only). */
export async function advanceFrontier(
  storage: Storage,
  sealedUntil: number,
  backdateMs = 0,
  rollup: Rollup = SPEND_HOURLY,
): Promise<void> {
  const { frontier } = rollup;
  const [table, columns, name] =
    frontier.table === 'rollup_frontier'
      ? ['rollup_frontier', 'sealed_until, advanced_at', '']
      : ['rollup_frontiers', 'rollup, sealed_until, advanced_at', `'${frontier.rollup}', `];
  await run(
    storage,
    `advancing the frontier of ${rollup.name}`,
    `INSERT INTO ${storage.database}.${table} (${columns})
     SELECT ${name}toDateTime({s:UInt32}, 'UTC'), now64(3) - toIntervalMillisecond({backdate:UInt32})`,
    { s: sealedUntil, backdate: Math.max(0, Math.round(backdateMs)) },
  );
}

/** The first hour (seconds) in [from, to) holding raw calls, if any (read in primary-key order). */
export async function firstHourWithCalls(
  storage: Storage,
  from: number,
  to: number,
): Promise<number | undefined> {
  const [row] = await rows<{ h: number }>(
    storage,
    'finding the next hour to seal',
    `SELECT toUInt32(toStartOfHour(start_time)) AS h FROM ${storage.database}.llm_calls
     WHERE start_time >= toDateTime64({from:UInt32}, 9, 'UTC') AND start_time < toDateTime64({to:UInt32}, 9, 'UTC')
     ORDER BY toStartOfHour(start_time) LIMIT 1`,
    { from, to },
  );
  return row ? Number(row.h) : undefined;
}

/**
 * Writes the hours [from, to) (seconds) of one rollup from the raw calls (or the rollup it is built
 * from) under `build.generation`:
 * one INSERT, which for one hour (one partition, far below a million groups) is one part, so
 * readers see the old build or the new one, never a mix. Groups the previous build had and the raw
 * calls no longer have get zero rows (tombstones). Records nothing: see buildHours.
 */
export async function fillHours(
  storage: Storage,
  rollup: Rollup,
  from: number,
  to: number,
  build: Build,
): Promise<void> {
  const db = storage.database;
  const group = ['hour', ...rollup.dimensions].join(', ');
  const names = rollup.measures.map((m) => m.name).join(', ');
  // Tombstones: nothing in every measure (the aliases must not shadow the columns the inner WHERE reads).
  const zero = rollup.measures.map((m) => `${m.zero} AS ${m.name}`).join(', ');
  // The raw calls, or the finer rollup's newest build of each group (written before this one).
  const source = rollup.buildFrom
    ? `(SELECT * FROM ${db}.${rollup.buildFrom.sealed} FINAL WHERE ${HOURS_IN} AND calls > 0)`
    : `${db}.${rollup.raw}`;
  await run(
    storage,
    `sealing hours of ${rollup.name}`,
    `INSERT INTO ${db}.${rollup.sealed} (${group}, ${names}, generation)
     SELECT ${group}, ${rollup.measures.map((m) => m.combine).join(', ')}, {generation:UInt64}
     FROM (
       SELECT ${group}, ${names} FROM ${source} WHERE ${HOURS_IN}
       UNION ALL
       SELECT ${group}, ${zero}
       FROM (SELECT ${group} FROM ${db}.${rollup.sealed} FINAL WHERE ${HOURS_IN} AND calls > 0)
     )
     GROUP BY ${group}
     SETTINGS max_insert_threads = 1`,
    { from, to, generation: build.generation },
  );
}

/**
 * Builds the hours [from, to) (seconds) of every rollup (fillHours), then records the build for
 * every hour it wrote, and for `alwaysRecord` (an hour rebuilt because it was marked, even if now
 * empty). Crash before the record: the hours stay marked (or behind the frontier) and are built again.
 */
export async function buildHours(
  storage: Storage,
  from: number,
  to: number,
  build: Build,
  alwaysRecord: number[] = [],
): Promise<void> {
  const db = storage.database;
  for (const rollup of ROLLUPS) await fillHours(storage, rollup, from, to, build);
  await run(
    storage,
    'recording sealed hours',
    `INSERT INTO ${db}.rollup_seals (hour, generation, covered_until)
     SELECT hour, {generation:UInt64}, fromUnixTimestamp64Milli({covered:Int64}, 'UTC')
     FROM (
       SELECT DISTINCT hour FROM ${db}.${SPEND_HOURLY.sealed} WHERE ${HOURS_IN} AND generation = {generation:UInt64}
       UNION DISTINCT
       SELECT toDateTime(arrayJoin({always:Array(UInt32)}), 'UTC') AS hour
     )`,
    { from, to, generation: build.generation, covered: build.coveredUntilMs, always: alwaysRecord },
  );
}

/**
 * Sealed hours (seconds) marked after what their build covers: calls arrived after the hour was
 * built (late spans, retries, a crash between the mark and the insert, a backfill). The least
 * recently covered first (never rebuilt since: first of all), so that hours rebuilt again while
 * their marks are young never starve the others; then newest first.
 */
export async function markedHours(storage: Storage, frontier: number, limit: number): Promise<number[]> {
  const db = storage.database;
  const found = await rows<{ h: number }>(
    storage,
    'finding hours to rebuild',
    `SELECT toUInt32(d.hour) AS h
     FROM (SELECT hour, max(marked_at) AS marked FROM ${db}.llm_calls_dirty_hours
           WHERE hour < toDateTime({frontier:UInt32}, 'UTC') GROUP BY hour) AS d
     LEFT JOIN (SELECT hour, max(covered_until) AS covered FROM ${db}.rollup_seals
                WHERE hour < toDateTime({frontier:UInt32}, 'UTC') GROUP BY hour) AS s ON d.hour = s.hour
     WHERE d.marked > s.covered
     ORDER BY s.covered, h DESC LIMIT {limit:UInt32}`,
    { frontier, limit },
  );
  return found.map((r) => Number(r.h));
}

export interface HourDifference {
  hour: number;
  rollup: { calls: number; usd: string };
  raw: { calls: number; usd: string };
  /** The latest mark of the hour (ms), 0 if none. */
  markedAtMs: number;
}

/** Sealed hours in [from, to) whose rollup differs from their raw calls (calls, tokens or money). */
export async function differingHours(
  storage: Storage,
  from: number,
  to: number,
  rollup: Rollup = SPEND_HOURLY,
): Promise<HourDifference[]> {
  const db = storage.database;
  const totals = 'sum(calls) AS calls, sum(input_tokens + output_tokens) AS tokens, sum(cost_usd) AS usd';
  const found = await rows<{
    h: number;
    rollup_calls: string;
    rollup_usd: string;
    raw_calls: string;
    raw_usd: string;
    marked_ms: string;
  }>(
    storage,
    `comparing ${rollup.name} with the raw calls`,
    `SELECT toUInt32(hour) AS h, toString(rollup_calls) AS rollup_calls, toString(rollup_usd) AS rollup_usd,
            toString(raw_calls) AS raw_calls, toString(raw_usd) AS raw_usd,
            toString(toUnixTimestamp64Milli(m.marked)) AS marked_ms
     FROM (
       SELECT hour, r.calls AS rollup_calls, r.usd AS rollup_usd, w.calls AS raw_calls, w.usd AS raw_usd
       FROM (SELECT hour, ${totals} FROM ${db}.${rollup.sealed} FINAL WHERE ${HOURS_IN} GROUP BY hour) AS r
       FULL OUTER JOIN (SELECT hour, ${totals} FROM ${db}.${rollup.raw} WHERE ${HOURS_IN} GROUP BY hour) AS w
       USING (hour)
       WHERE r.calls != w.calls OR r.tokens != w.tokens OR r.usd != w.usd
     ) AS d
     LEFT JOIN (SELECT hour, max(marked_at) AS marked FROM ${db}.llm_calls_dirty_hours WHERE ${HOURS_IN} GROUP BY hour) AS m
     USING (hour)
     ORDER BY h`,
    { from, to },
  );
  return found.map((r) => ({
    hour: Number(r.h),
    rollup: { calls: Number(r.rollup_calls), usd: r.rollup_usd },
    raw: { calls: Number(r.raw_calls), usd: r.raw_usd },
    markedAtMs: Number(r.marked_ms),
  }));
}

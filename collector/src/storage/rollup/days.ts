/**
 * The daily rollups of the boards and budgets (migrations 0038, 0041, 0042, 0048, 0050): sealed hourly rows folded into UTC days.
 * A day is built once its 24 hours are sealed in calls_hourly, and built again when one of its hours
 * was sealed after the day read them (a late call, a repair): every hour build is recorded in
 * rollup_seals, every day build — of every daily rollup at once — in rollup_day_seals with the
 * time it started reading. A daily rollup added to a store with history is filled behind its own
 * frontier. Statements only; the maintainer decides when.
 */
import type { Storage } from '../client';
import { queryRows as rows, runStatement as run } from '../statements';
import {
  CALLS_HOURLY,
  CUSTOMERS_HOURLY,
  TEAM_CUSTOMERS_HOURLY,
  TEAM_MODELS_HOURLY,
  USERS_HOURLY,
  WORKFLOWS_HOURLY,
} from './rollups';
import { advanceFrontier, readFrontier, serverNowMicros, type Build } from './seal';
import { PUBLISH_DELAY_MS } from './timing';
import type { Rollup } from './rollups';

export const DAY_S = 86_400;

/** A rollup per day folded from an hourly rollup's sealed rows (`raw` is that table). */
export interface DailyRollup extends Rollup {
  hourly: Rollup;
}

const daily = (hourly: Rollup, name: string): DailyRollup => ({
  ...hourly,
  name,
  sealed: `${name}_sealed`,
  raw: hourly.sealed,
  // Days are folded from the hourly rollup's own sealed rows, whatever that one is built from.
  buildFrom: undefined,
  hourly,
  frontier: { table: 'rollup_frontiers', rollup: name },
});

/** calls_hourly's columns per day: its frontier is the day frontier every day build moves. */
export const CALLS_DAILY = daily(CALLS_HOURLY, 'calls_daily');
/** Distinct users per feature and day (0041). */
const USERS_DAILY = daily(USERS_HOURLY, 'users_daily');
/** Spend per customer and workflow per day (0042). */
export const CUSTOMERS_DAILY = daily(CUSTOMERS_HOURLY, 'customers_daily');
/** Spend per workflow and every other match field but customer per day (0048). */
export const WORKFLOWS_DAILY = daily(WORKFLOWS_HOURLY, 'workflows_daily');
/** Spend per team and customer per day (0050). */
const TEAM_CUSTOMERS_DAILY = daily(TEAM_CUSTOMERS_HOURLY, 'team_customers_daily');
/** Latency states per team and model per day (0050). */
const TEAM_MODELS_DAILY = daily(TEAM_MODELS_HOURLY, 'team_models_daily');
/** Every daily rollup, the one the others are filled up to first. */
export const DAILY_ROLLUPS: readonly DailyRollup[] = [
  CALLS_DAILY,
  USERS_DAILY,
  CUSTOMERS_DAILY,
  WORKFLOWS_DAILY,
  TEAM_CUSTOMERS_DAILY,
  TEAM_MODELS_DAILY,
];

export const readDayFrontier = (storage: Storage, rollup: DailyRollup = CALLS_DAILY): Promise<number> =>
  readFrontier(storage, rollup);
export const advanceDayFrontier = (
  storage: Storage,
  until: number,
  backdateMs: number,
  rollup: DailyRollup = CALLS_DAILY,
): Promise<void> => advanceFrontier(storage, until, backdateMs, rollup);

/**
 * The days (seconds, each range [from, to)) that day frontier moves cover and readers have not
 * taken yet: per daily rollup, from the frontier readers take (PUBLISH_DELAY_MS after a move was
 * written) to the one written. Empty when no move is pending. Per rollup: a daily rollup still
 * being filled far behind the others has nothing pending, and must not stretch the others' range.
 */
export async function pendingDayMoves(storage: Storage): Promise<Array<{ from: number; to: number }>> {
  const found = await rows<{ taken: number; written: number }>(
    storage,
    'reading the day frontier moves readers have not taken',
    `SELECT toUInt32(taken) AS taken, toUInt32(written) AS written
     FROM (SELECT rollup AS name, max(sealed_until) AS written,
                  maxIf(sealed_until, advanced_at <= now64(3) - toIntervalMillisecond({delay:UInt32})) AS taken
           FROM ${storage.database}.rollup_frontiers WHERE rollup IN {rollups:Array(String)} GROUP BY name)
     WHERE written > taken`,
    { delay: PUBLISH_DELAY_MS, rollups: DAILY_ROLLUPS.map((r) => r.name) },
  );
  return found.map((r) => ({ from: Number(r.taken), to: Number(r.written) }));
}

/**
 * Writes the day starting at `day` (seconds) of one daily rollup from its hourly sealed rows under
 * `build.generation`: one INSERT into one partition, so readers see the old build or the new one.
 * Groups the previous build had and the hours no longer have get zero rows. Records nothing.
 */
export async function fillDay(
  storage: Storage,
  rollup: DailyRollup,
  day: number,
  build: Build,
): Promise<void> {
  const db = storage.database;
  const dims = rollup.dimensions.join(', ');
  const names = rollup.measures.map((m) => m.name).join(', ');
  const zero = rollup.measures.map((m) => `${m.zero} AS ${m.name}`).join(', ');
  await run(
    storage,
    `sealing a day of ${rollup.name}`,
    `INSERT INTO ${db}.${rollup.sealed} (day, ${dims}, ${names}, generation)
     SELECT toDateTime({day:UInt32}, 'UTC') AS day, ${dims}, ${rollup.measures.map((m) => m.combine).join(', ')},
            {generation:UInt64}
     FROM (
       SELECT ${dims}, ${names} FROM ${db}.${rollup.raw} FINAL
       WHERE hour >= toDateTime({day:UInt32}, 'UTC') AND hour < toDateTime({day:UInt32} + ${DAY_S}, 'UTC') AND calls > 0
       UNION ALL
       SELECT ${dims}, ${zero}
       FROM (SELECT ${dims} FROM ${db}.${rollup.sealed} FINAL
             WHERE day = toDateTime({day:UInt32}, 'UTC') AND calls > 0)
     )
     GROUP BY ${dims}
     SETTINGS max_insert_threads = 1`,
    { day, generation: build.generation },
  );
}

/**
 * Builds the day starting at `day` (seconds) of every daily rollup (fillDay), then records the
 * build with the time its reads started: an hour sealed after that makes the day be built again.
 */
export async function buildDay(storage: Storage, day: number, build: Build): Promise<void> {
  const readAtMs = Number((await serverNowMicros(storage)) / 1000n);
  for (const rollup of DAILY_ROLLUPS) await fillDay(storage, rollup, day, build);
  await run(
    storage,
    'recording a sealed day',
    `INSERT INTO ${storage.database}.rollup_day_seals (day, generation, read_at)
     VALUES (toDateTime({day:UInt32}, 'UTC'), {generation:UInt64}, fromUnixTimestamp64Milli({read_at:Int64}, 'UTC'))`,
    { day, generation: build.generation, read_at: readAtMs },
  );
}

/**
 * Days (seconds) before `frontier` one of whose hours was sealed after the day's visible build read
 * them (or that have no build): the least recently read first.
 */
export async function staleDays(storage: Storage, frontier: number, limit: number): Promise<number[]> {
  const db = storage.database;
  const found = await rows<{ d: number }>(
    storage,
    'finding days to rebuild',
    `SELECT toUInt32(h.day) AS d
     FROM (SELECT toStartOfDay(hour, 'UTC') AS day, max(sealed_at) AS sealed FROM ${db}.rollup_seals
           WHERE hour < toDateTime({frontier:UInt32}, 'UTC') GROUP BY day) AS h
     LEFT JOIN (SELECT day, argMax(read_at, generation) AS read_at FROM ${db}.rollup_day_seals
                WHERE day < toDateTime({frontier:UInt32}, 'UTC') GROUP BY day) AS s ON h.day = s.day
     WHERE h.sealed > s.read_at
     ORDER BY s.read_at, d LIMIT {limit:UInt32}`,
    { frontier, limit },
  );
  return found.map((r) => Number(r.d));
}

/** The first day (seconds) in [from, to) with sealed hours in `hourly` (calls_hourly), if any. */
export async function firstDayWithHours(
  storage: Storage,
  from: number,
  to: number,
  hourly: Rollup = CALLS_HOURLY,
): Promise<number | undefined> {
  const [row] = await rows<{ d: number }>(
    storage,
    'finding the next day to seal',
    `SELECT toUInt32(toStartOfDay(hour, 'UTC')) AS d FROM ${storage.database}.${hourly.sealed}
     WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
     ORDER BY hour LIMIT 1`,
    { from, to },
  );
  return row ? Number(row.d) : undefined;
}

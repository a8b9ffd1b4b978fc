/**
 * The daily rollup of the boards (migration 0038): calls_hourly's sealed rows folded into UTC days.
 * A day is built once its 24 hours are sealed in calls_hourly, and built again when one of its hours
 * was sealed after the day read them (a late call, a repair): every hour build is recorded in
 * rollup_seals, every day build in rollup_day_seals with the time it started reading. Statements
 * only; the maintainer decides when.
 */
import type { Storage } from '../client';
import { queryRows as rows, runStatement as run } from '../statements';
import { CALLS_HOURLY } from './rollups';
import { advanceFrontier, readFrontier, serverNowMicros, type Build } from './seal';
import type { Rollup } from './rollups';

export const DAY_S = 86_400;

/** calls_hourly's columns per day; its frontier lives in rollup_frontiers. */
const CALLS_DAILY: Rollup = {
  ...CALLS_HOURLY,
  name: 'calls_daily',
  sealed: 'calls_daily_sealed',
  raw: CALLS_HOURLY.sealed,
  frontier: { table: 'rollup_frontiers', rollup: 'calls_daily' },
};

export const readDayFrontier = (storage: Storage): Promise<number> => readFrontier(storage, CALLS_DAILY);
export const advanceDayFrontier = (storage: Storage, until: number, backdateMs: number): Promise<void> =>
  advanceFrontier(storage, until, backdateMs, CALLS_DAILY);

/**
 * Builds the day starting at `day` (seconds) from calls_hourly_sealed under `build.generation`: one
 * INSERT into one partition, so readers see the old build or the new one. Groups the previous build
 * had and the hours no longer have get zero rows. Records the build with the time its read started.
 */
export async function buildDay(storage: Storage, day: number, build: Build): Promise<void> {
  const db = storage.database;
  const dims = CALLS_DAILY.dimensions.join(', ');
  const names = CALLS_DAILY.measures.map((m) => m.name).join(', ');
  const zero = CALLS_DAILY.measures.map((m) => `${m.zero} AS ${m.name}`).join(', ');
  const readAtMs = Number((await serverNowMicros(storage)) / 1000n);
  const params = { day, generation: build.generation, read_at: readAtMs };
  await run(
    storage,
    'sealing a day of calls_daily',
    `INSERT INTO ${db}.${CALLS_DAILY.sealed} (day, ${dims}, ${names}, generation)
     SELECT toDateTime({day:UInt32}, 'UTC') AS day, ${dims}, ${CALLS_DAILY.measures.map((m) => m.combine).join(', ')},
            {generation:UInt64}
     FROM (
       SELECT ${dims}, ${names} FROM ${db}.${CALLS_HOURLY.sealed} FINAL
       WHERE hour >= toDateTime({day:UInt32}, 'UTC') AND hour < toDateTime({day:UInt32} + ${DAY_S}, 'UTC') AND calls > 0
       UNION ALL
       SELECT ${dims}, ${zero}
       FROM (SELECT ${dims} FROM ${db}.${CALLS_DAILY.sealed} FINAL
             WHERE day = toDateTime({day:UInt32}, 'UTC') AND calls > 0)
     )
     GROUP BY ${dims}
     SETTINGS max_insert_threads = 1`,
    params,
  );
  await run(
    storage,
    'recording a sealed day',
    `INSERT INTO ${db}.rollup_day_seals (day, generation, read_at)
     VALUES (toDateTime({day:UInt32}, 'UTC'), {generation:UInt64}, fromUnixTimestamp64Milli({read_at:Int64}, 'UTC'))`,
    params,
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

/** The first day (seconds) in [from, to) with sealed hours in calls_hourly, if any. */
export async function firstDayWithHours(
  storage: Storage,
  from: number,
  to: number,
): Promise<number | undefined> {
  const [row] = await rows<{ d: number }>(
    storage,
    'finding the next day to seal',
    `SELECT toUInt32(toStartOfDay(hour, 'UTC')) AS d FROM ${storage.database}.${CALLS_HOURLY.sealed}
     WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')
     ORDER BY hour LIMIT 1`,
    { from, to },
  );
  return row ? Number(row.d) : undefined;
}

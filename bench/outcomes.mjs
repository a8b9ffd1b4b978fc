/**
 * Cost per outcome with millions of outcomes stored (issues 23, 24; decision 0125). Seeds N
 * business outcomes (default 3 M) over the last D days (default 90) into both outcome tables as
 * the collector stores them — `outcomes` (0009, ordered by id) and `outcomes_by_time` (0052, ordered
 * by hour, feature, id) — with 200 features (Zipf-like), two outcome kinds, unique ids; then
 * re-reports 20,000 of them at another time through the collector's write path (`OutcomeStore`:
 * the lookup, the tombstones, both inserts), timed per 10,000-outcome request beside one insert of
 * the same rows into `outcomes` alone (the write before 0052); and requests of 1, 100 and 10,000 new
 * outcomes the same two ways.
 *
 * Timed, warm, query cache off, interleaved round by round: the CFO overview's cost-per-outcome
 * panel as shipped (reads `outcomes_by_time FINAL`) beside the same SQL reading `outcomes FINAL` (what
 * it read before 0052), for month to date on day 31, the last 30 days and the last 24 hours. The two
 * answers must be equal, else the benchmark fails (exit code 1).
 *
 *   node bench/outcomes.mjs [--outcomes 3000000] [--days 90] [--rounds 5] [--store DIR]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  collectorDist as collector,
  dashboardsDist,
  fmt,
  median,
  rowCount,
  table,
  withBenchStorage,
} from './support/common.mjs';

const { DASHBOARDS, toParameterizedQuery } = dashboardsDist();
const { OutcomeStore } = collector('storage/outcomes');
const SETTINGS = { use_query_cache: 0, output_format_json_quote_decimals: 1 };
const MOVED = 20_000;
const REQUEST = 10_000;

const { values: opts } = parseArgs({
  strict: false,
  options: {
    outcomes: { type: 'string', default: '3000000' },
    days: { type: 'string', default: '90' },
    rounds: { type: 'string', default: '5' },
    store: { type: 'string' },
  },
});
const N = Number(opts.outcomes);
const DAYS = Number(opts.days);
const ROUNDS = Number(opts.rounds);

const PANEL = DASHBOARDS.flatMap((d) => d.panels).find((p) => p.id === 'cfo-cost-per-outcome');
if (!PANEL?.sql.includes('outcomes_by_time'))
  throw new Error('the cost-per-outcome panel no longer reads outcomes_by_time');
const BY_ID_SQL = PANEL.sql.replaceAll('outcomes_by_time', 'outcomes');

async function seed(storage, now) {
  const start = Math.floor(now / 1000) - DAYS * 86_400;
  const step = (DAYS * 86_400) / N;
  const t0 = performance.now();
  await storage.client.command({
    query: `
INSERT INTO bench.outcomes (id, time, feature, outcome, count, value_usd, team)
SELECT concat('o', toString(number)), toDateTime64({start:Int64} + number * {step:Float64}, 3, 'UTC'),
  concat('feature-', toString(toUInt32(pow(200, (cityHash64(number) % 10000) / 10000.0)))),
  ['ticket_resolved', 'order_placed'][number % 2 + 1], 1 + number % 3, toDecimal128(number % 100, 18),
  concat('team-', toString(cityHash64(number, 1) % 20))
FROM numbers({n:UInt64})`,
    query_params: { start, step, n: N },
  });
  await storage.client.command({
    query: `
INSERT INTO bench.outcomes_by_time (id, time, feature, outcome, count, value_usd, team)
SELECT id, time, feature, outcome, count, value_usd, team FROM bench.outcomes`,
  });
  await storage.client.command({ query: 'OPTIMIZE TABLE bench.outcomes FINAL' });
  await storage.client.command({ query: 'OPTIMIZE TABLE bench.outcomes_by_time FINAL' });
  return performance.now() - t0;
}

/** Re-reports MOVED outcomes a week later, REQUEST at a time, through the collector's write path. */
async function reReport(storage, now) {
  const store = new OutcomeStore(storage);
  const times = [];
  for (let first = 0; first < MOVED; first += REQUEST) {
    const rs = await storage.client.query({
      query: `SELECT id, toString(time + INTERVAL 7 DAY) AS time, feature, outcome, toUInt64(count) AS count,
                     toString(value_usd) AS value_usd, team
              FROM bench.outcomes FINAL WHERE id IN (SELECT concat('o', toString(number * 97 % {total:UInt64})) FROM numbers({first:UInt64}, {n:UInt64}))
                AND time + INTERVAL 7 DAY < fromUnixTimestamp64Milli({now:Int64})`,
      query_params: { first, n: REQUEST, now, total: N },
      format: 'JSONEachRow',
    });
    const rows = (await rs.json()).map((r) => ({
      ...r,
      count: Number(r.count),
      cost_center: '',
      customer: '',
      environment: '',
      service: '',
      ingest_key: 'bench',
      claimed_attribution: '',
    }));
    const t0 = performance.now();
    await store.store(rows);
    const t1 = performance.now();
    // The write before 0052, beside it: one insert into `outcomes` (the same rows again: no change).
    await storage.client.insert({ table: 'bench.outcomes', values: rows, format: 'JSONEachRow' });
    times.push([t1 - t0, performance.now() - t1]);
  }
  return times;
}

/** New outcomes per request, 1 to 10,000: OutcomeStore beside one insert into `outcomes` alone. */
async function requestTimes(storage, now) {
  const store = new OutcomeStore(storage);
  const time = new Date(now - 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
  const rows = [];
  for (const n of [1, 100, 10_000]) {
    const viaStore = [];
    const alone = [];
    for (let round = 0; round < ROUNDS; round++) {
      const batch = Array.from({ length: n }, (_, i) => ({
        ...{ id: `new-${now}-${n}-${round}-${i}`, time, feature: 'feature-1', outcome: 'order_placed' },
        ...{
          count: 1,
          value_usd: '1',
          team: '',
          cost_center: '',
          customer: '',
          environment: '',
          service: '',
        },
        ...{ ingest_key: 'bench', claimed_attribution: '' },
      }));
      const t0 = performance.now();
      await store.store(batch);
      const t1 = performance.now();
      await storage.client.insert({
        table: 'bench.outcomes',
        values: batch.map((r) => ({ ...r, id: `${r.id}-alone` })),
        format: 'JSONEachRow',
      });
      viaStore.push(t1 - t0);
      alone.push(performance.now() - t1);
    }
    rows.push([n.toLocaleString('en-US'), fmt(median(viaStore)), fmt(median(alone))]);
  }
  return rows;
}

async function timed(storage, sql, from, to) {
  const q = toParameterizedQuery(sql, {
    from,
    to,
    intervalSeconds: 3600,
    variables: { database: ['bench'] },
  });
  const t0 = performance.now();
  const rs = await storage.client.query({ ...q, format: 'JSONEachRow', clickhouse_settings: SETTINGS });
  const rows = await rs.json();
  return { ms: performance.now() - t0, rows };
}

await withBenchStorage(
  'tl-bench-outcomes-',
  async (storage) => {
    const now = Date.now();
    let seedMs = 0;
    let requests = [];
    if ((await rowCount(storage, 'outcomes_by_time')) === 0) {
      seedMs = await seed(storage, now);
      requests = await reReport(storage, now);
    }
    const stored = await rowCount(storage, 'outcomes_by_time');
    const [live] = await (
      await storage.client.query({
        query: 'SELECT count() AS n, uniqExact(feature) AS f FROM bench.outcomes_by_time FINAL',
        format: 'JSONEachRow',
      })
    ).json();
    const day = 86_400_000;
    const ranges = [
      ['month to date (day 31)', new Date(Math.floor((now - 30 * day) / day) * day), new Date(now)],
      ['last 30 days', new Date(now - 30 * day), new Date(now)],
      ['last 24 hours', new Date(now - day), new Date(now)],
    ];
    const results = [];
    let differ = 0;
    for (const [name, from, to] of ranges) {
      const byTime = [];
      const byId = [];
      let inRange = 0;
      for (let round = 0; round < ROUNDS + 1; round++) {
        const a = await timed(storage, PANEL.sql, from, to);
        const b = await timed(storage, BY_ID_SQL, from, to);
        if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) differ++;
        inRange = a.rows.reduce((n, r) => n + Number(r.outcomes), 0);
        if (round === 0) continue; // warm-up
        byTime.push(a.ms);
        byId.push(b.ms);
      }
      const t = median(byTime);
      const i = median(byId);
      results.push([name, fmt(i / t, 1) + '×', fmt(t), fmt(i), inRange.toLocaleString('en-US')]);
    }
    console.log(
      `\nCost per outcome: ${Number(live.n).toLocaleString('en-US')} outcomes (${Number(live.f)} features) over ${DAYS} days, ` +
        `${stored.toLocaleString('en-US')} rows in outcomes_by_time (tombstones and replaced rows until merged); ` +
        `median of ${ROUNDS} rounds, warm, query cache off`,
    );
    if (seedMs > 0) {
      console.log(
        `seeded in ${fmt(seedMs / 1000)} s; ${MOVED.toLocaleString('en-US')} re-reported a week later through OutcomeStore, ` +
          `${REQUEST.toLocaleString('en-US')} per request: ${requests.map(([ms]) => fmt(ms, 0) + ' ms').join(', ')} ` +
          `(one insert into outcomes alone, the write before 0052: ${requests.map(([, ms]) => fmt(ms, 0) + ' ms').join(', ')})`,
      );
    }
    console.log(
      table(
        [
          'range',
          'by time ÷ by id',
          'outcomes_by_time FINAL ms',
          'outcomes FINAL (by id) ms',
          'outcomes in range (sum of count)',
        ],
        results,
      ),
    );
    console.log(`\nPOST /v1/outcomes's write, new ids, median of ${ROUNDS}:`);
    console.log(
      table(
        [
          'outcomes per request',
          'OutcomeStore (lookup, both tables) ms',
          'one insert into outcomes (before 0052) ms',
        ],
        await requestTimes(storage, now),
      ),
    );
    if (differ > 0) {
      console.error(`${differ} answers differ between the two tables`);
      process.exitCode = 1;
    } else console.log('every answer equal in both tables');
  },
  opts.store,
);

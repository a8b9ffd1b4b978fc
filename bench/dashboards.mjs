/**
 * Dashboard refresh: seeds N calls (default 10 M) into embedded ClickHouse with INSERT … SELECT FROM
 * numbers(), seals their closed hours into the rollup as the collector's maintainer does, plus
 * budget snapshots, outcomes and catalog prices; then times every CFO-overview panel, run as the collector runs it
 * (toParameterizedQuery), reading the rollup as written versus the same SQL over the raw table
 * (spend_hourly swapped for an equivalent per-call subquery of llm_calls). Month-to-date range.
 *
 *   node bench/dashboards.mjs [--calls 10000000] [--rounds 5]
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
const TARGET_MS = 1000;

const { values: opts } = parseArgs({
  strict: false,
  options: { calls: { type: 'string', default: '10000000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(opts.calls);
const ROUNDS = Number(opts.rounds);

/** spend_hourly's columns computed per call from llm_calls, as its materialized view does. */
const RAW_AS_ROLLUP = (db) => `(
  SELECT toStartOfHour(start_time) AS hour, team, department, cost_center, feature, workflow,
    if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
    provider, environment, service, customer, toUInt64(1) AS calls, toUInt64(error_type != '') AS error_calls,
    toUInt64(priced = 0) AS unpriced_calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    reasoning_tokens, cost_usd
  FROM ${db}.llm_calls)`;

/** N calls spread evenly over the `days` before `now` (ms), with their rollup, snapshots, outcomes, prices. */
export async function seed(storage, now, days = 45, calls = CALLS) {
  const db = storage.database;
  const start = Math.floor(now / 1000) - days * 86400;
  const t0 = performance.now();
  await storage.client.command({
    query: `
INSERT INTO ${db}.llm_calls
  (trace_id, span_id, start_time, duration_ms, provider, operation, request_model, response_model,
   priced_provider, priced_model, input_tokens, output_tokens, cache_read_tokens, error_type, enforcement,
   source, team, cost_center, feature, customer, environment, service, end_user, cost_usd, input_cost_usd,
   output_cost_usd, priced)
SELECT
  hex(number) AS trace_id, hex(number) AS span_id,
  addSeconds(toDateTime64({start:Int64}, 9, 'UTC'), intDiv(number * {span:UInt64}, {n:UInt64})) AS start_time,
  100 + h % 2900 AS duration_ms,
  ['openai', 'openai', 'openai', 'anthropic', 'openai_compatible'][m] AS provider,
  'chat' AS operation,
  ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'claude-3-5-sonnet', 'llama-local'][m] AS request_model,
  request_model AS response_model,
  if(m = 5, '', provider) AS priced_provider,
  if(m = 5, '', request_model) AS priced_model,
  100 + h % 4000 AS input_tokens,
  10 + intDiv(h, 7) % 1000 AS output_tokens,
  intDiv(input_tokens * (intDiv(h, 11) % 50), 100) AS cache_read_tokens,
  if(intDiv(h, 13) % 100 < 3, 'timeout', '') AS error_type,
  multiIf(intDiv(h, 17) % 100 < 2, 'blocked', intDiv(h, 17) % 100 < 4, 'downgraded', 'allowed') AS enforcement,
  'tokenledger' AS source,
  ['search', 'support', 'billing', 'growth', 'ads', 'risk', 'infra', ''][number % 8 + 1] AS team,
  if(team = '', '', concat('cc-', team)) AS cost_center,
  ['summarizer', 'chat', 'search-answers', ''][intDiv(number, 8) % 4 + 1] AS feature,
  concat('cust-', toString(number % 24)) AS customer,
  if(number % 10 < 7, 'production', 'staging') AS environment,
  concat('svc-', toString(number % 8)) AS service,
  concat('u', toString(intDiv(h, 19) % 50000)) AS end_user,
  if(m = 5, toDecimal128(0, 18), toDecimal128(intDiv(h, 23) % 3000000, 18) / 1000000000) AS input_cost_usd,
  if(m = 5, toDecimal128(0, 18), toDecimal128(intDiv(h, 29) % 2000000, 18) / 1000000000) AS output_cost_usd,
  input_cost_usd + output_cost_usd AS cost_usd,
  m != 5 AS priced
FROM (SELECT number, cityHash64(number) AS h, 1 + cityHash64(number, 1) % 5 AS m FROM numbers({n:UInt64}))`,
    query_params: { start, span: days * 86400, n: calls },
    clickhouse_settings: { max_insert_threads: 2 },
  });
  const seedMs = performance.now() - t0;
  await storage.client.command({
    query: `
INSERT INTO ${db}.budget_snapshots
SELECT concat('policy-', toString(p)) AS policy, 'monthly' AS period, toStartOfMonth(at) AS period_start,
  toStartOfMonth(at) + toIntervalMonth(1) AS period_end, at, toDecimal128(1000 * (p + 1), 18) AS limit_usd,
  toDecimal128(p * 37 + dateDiff('day', toStartOfMonth(at), at) * 20, 18) AS spent_usd,
  spent_usd * 2 AS forecast_usd, if(spent_usd > limit_usd, 'exceeded', 'ok') AS state
FROM (SELECT number % 20 AS p, toDateTime64({start:Int64} + intDiv(number, 20) * 60, 3, 'UTC') AS at
      FROM numbers({snapshots:UInt64}))`,
    query_params: { start, snapshots: 20 * days * 24 * 60 },
  });
  await storage.client.command({
    query: `
INSERT INTO ${db}.outcomes (id, time, feature, outcome, count, value_usd)
SELECT concat('o', toString(number)), toDateTime64({start:Int64} + number * 39, 3, 'UTC'),
  ['summarizer', 'chat', 'search-answers'][number % 3 + 1], ['ticket_resolved', 'order_placed'][number % 2 + 1],
  1 + number % 3, toDecimal128(number % 100, 18)
FROM numbers(100000)`,
    query_params: { start },
  });
  await collector('storage/model-prices').syncModelPrices(storage, (l) => console.error(l));
  // The collector's maintainer seals every closed hour (the live tail stays raw), as in production.
  const t1 = performance.now();
  const { RollupMaintainer } = collector('storage/rollup/maintainer');
  const maintainer = new RollupMaintainer({ storage, log: (l) => console.error(l), publishDelayMs: 0 });
  const closed = new Date(Math.floor((now - 10 * 60_000) / 3_600_000) * 3_600_000).toISOString();
  while ((maintainer.stats.sealedUntil ?? '') < closed) await maintainer.round();
  const sealMs = performance.now() - t1;
  // Steady state: background merges would have folded the rollup's parts by now.
  await storage.client.command({ query: `OPTIMIZE TABLE ${db}.spend_hourly_sealed FINAL` });
  return { seedMs, sealMs };
}

async function timePanel(storage, query) {
  const t0 = performance.now();
  const rs = await storage.client.query({ ...query, format: 'JSONEachRow' });
  await rs.json();
  return performance.now() - t0;
}

export async function run() {
  return withBenchStorage('tl-bench-dash-', async (storage) => {
    const now = Date.now();
    console.log(`seeding ${CALLS.toLocaleString('en-US')} calls …`);
    const { seedMs, sealMs } = await seed(storage, now);
    const rawRows = await rowCount(storage, 'llm_calls');
    const rollupRows = await rowCount(storage, 'spend_hourly_sealed');
    console.log(
      `seeded in ${fmt(seedMs / 1000)} s, sealed in ${fmt(sealMs / 1000)} s: llm_calls ${rawRows.toLocaleString('en-US')} rows, spend_hourly_sealed ${rollupRows.toLocaleString('en-US')} rows`,
    );

    const cfo = DASHBOARDS.find((d) => d.uid === 'tokenledger-cfo');
    const to = new Date(now);
    const ctx = {
      from: new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), 1)),
      to,
      intervalSeconds: 3600,
      variables: { database: ['bench'] },
    };
    const variants = {
      rollup: (sql) => toParameterizedQuery(sql, ctx),
      raw: (sql) =>
        toParameterizedQuery(sql.replaceAll('${database}.spend_hourly', RAW_AS_ROLLUP('${database}')), ctx),
    };
    const times = Object.fromEntries(
      Object.keys(variants).map((v) => [v, Object.fromEntries(cfo.panels.map((p) => [p.id, []]))]),
    );
    const totals = { rollup: [], raw: [] };
    const parallel = [];
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [name, build] of Object.entries(variants)) {
        let total = 0;
        for (const panel of cfo.panels) {
          const ms = await timePanel(storage, build(panel.sql));
          total += ms;
          if (round > 0) times[name][panel.id].push(ms); // round 0 warms caches
        }
        if (round > 0) totals[name].push(total);
      }
      // As Grafana refreshes a board: all panel queries at once.
      const t0 = performance.now();
      await Promise.all(cfo.panels.map((p) => timePanel(storage, variants.rollup(p.sql))));
      if (round > 0) parallel.push(performance.now() - t0);
    }
    const tables = (p) =>
      [...new Set([...p.sql.matchAll(/\$\{database\}\.(\w+)/g)].map((m) => m[1]))].join(', ');
    const rows = cfo.panels.map((p) => [
      p.id,
      tables(p),
      fmt(median(times.rollup[p.id])),
      fmt(median(times.raw[p.id])),
    ]);
    const rollupTotal = median(totals.rollup);
    rows.push(['**whole CFO overview, one after another**', '', fmt(rollupTotal), fmt(median(totals.raw))]);
    rows.push(['**whole CFO overview, all at once (as Grafana)**', '', fmt(median(parallel)), '—']);
    const markdown = [
      `${CALLS.toLocaleString('en-US')} calls over 45 days (llm_calls ${rawRows.toLocaleString('en-US')} rows, spend_hourly_sealed ${rollupRows.toLocaleString('en-US')} rows), seeded in ${fmt(seedMs / 1000)} s, every closed hour sealed by the rollup maintainer in ${fmt(sealMs / 1000)} s; month-to-date range; median of ${ROUNDS} rounds after one warm-up. \`spend_hourly\` is the view of sealed hours and the raw tail (the hours of the last 10 minutes and the current one, \`llm_calls FINAL\`).`,
      '',
      table(['panel', 'reads', 'as shipped (ms)', 'rollup replaced by raw scan (ms)'], rows),
      '',
      `Target: whole CFO overview ≤ ${TARGET_MS} ms — one after another ${rollupTotal <= TARGET_MS ? 'met' : 'NOT met'} (${fmt(rollupTotal)} ms), all at once ${median(parallel) <= TARGET_MS ? 'met' : 'NOT met'} (${fmt(median(parallel))} ms).`,
    ].join('\n');
    console.log(markdown);
    return { markdown };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

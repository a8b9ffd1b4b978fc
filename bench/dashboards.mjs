/**
 * Dashboard refresh at production cardinality (issue 23). Seeds N calls (default 10 M) over the last
 * D days (default 30) straight into the raw table with INSERT … SELECT FROM numbers(), with skewed,
 * correlated keys: 20 teams, 200 features owned by teams (Zipf-like use), 3 models per feature out
 * of 50, 10,000 customers and 100,000 users (Zipf-like), 30 workflows, 2 environments, enforcement
 * and errors at a few percent; a before/after baseline every 2.5 days. The collector's maintainer then seals every closed hour of every
 * rollup from those raw calls, as in production, and the rollups' parts are merged (steady state).
 *
 * Timed, as the collector runs them (query parameters; query cache off), for two ranges — month to
 * date on day 31 (from a midnight 30 days back to now) and the last 30 days (now − 30 d to now):
 *  - the CFO overview, the team view of one team (the biggest), the models board (savings and
 *    downgrades saved), the budgets board (burn-down, forecast) and the bill board: every panel
 *    fired at once, as Grafana refreshes a board, and each panel alone;
 *  - budget spend (`storedSpend`, what budgets of any period read) for every policy `match` field,
 *    each with its biggest value, month to date in UTC and in Asia/Kolkata (a period that starts
 *    mid-hour), and the last 30 days (a range no budget reads);
 * beside the raw baseline, interleaved round by round, warm: the same SQL with each rollup replaced
 * by the raw table (`rawForm`: one row per call, no FINAL). Every answer must equal the raw
 * answer, else the benchmark fails (exit code 1). Ratios first; rollup rows and compression beside.
 *
 *   node bench/dashboards.mjs [--calls 10000000] [--days 30] [--rounds 3] [--store DIR [--seed-only]]
 *     [--boards cfo,team,…] [--panels id,…] [--budgets field,…|none]
 *
 * `--boards` times only those boards (the uid after `tokenledger-`), `--panels` only those panels,
 * each alone (no board at once), `--budgets` only those match fields: a quick look at a few figures
 * on a large store, the answers still compared with the raw ones.
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

const { DASHBOARDS, rawForm, toParameterizedQuery } = dashboardsDist();
const { MATCH_FIELDS } = await import('tokenledger/policy');
/** Issue 23: a board ≤ 1 s all at once; a panel whose raw answer takes ≥ 1 s ≥ 50× faster, else ≤ 50 ms. */
const BOARD_MS = 1000;
const SLOW_RAW_MS = 1000;
const MIN_RATIO = 50;
const FAST_PANEL_MS = 50;
const SETTINGS = { use_query_cache: 0, output_format_json_quote_decimals: 1 };

const { values: opts } = parseArgs({
  strict: false,
  options: {
    calls: { type: 'string', default: '10000000' },
    days: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    store: { type: 'string' },
    'seed-only': { type: 'boolean', default: false },
    boards: { type: 'string' },
    panels: { type: 'string' },
    budgets: { type: 'string' },
  },
});
/** A comma-separated option as a set, or undefined when not given (everything). */
const only = (option) =>
  option === undefined ? undefined : new Set(String(option).split(',').filter(Boolean));
const ONLY_BOARDS = only(opts.boards);
const ONLY_PANELS = only(opts.panels);
const ONLY_BUDGETS = only(opts.budgets);

const TEAMS = [
  'search',
  'support',
  'billing',
  'growth',
  'ads',
  'risk',
  'infra',
  'sales',
  'legal',
  'people',
  'finance',
  'data',
  'mobile',
  'web',
  'platform',
  'security',
  'ops',
  'research',
  'content',
  'partners',
];
const DEPARTMENTS = ['engineering', 'operations', 'commercial', 'corporate', 'product'];
/** 200 features, feature k owned by team k % 20; the three the other benchmarks name come first. */
const FEATURES = Array.from({ length: 200 }, (_, k) =>
  k < 3 ? ['chat', 'summarizer', 'search-answers'][k] : `${TEAMS[k % 20]}-feature-${k}`,
);
const MODELS = [
  ...[
    'gpt-4o',
    'gpt-4o-mini',
    'gpt-4.1',
    'gpt-4.1-mini',
    'gpt-4.1-nano',
    'o3',
    'o3-mini',
    'o4-mini',
    'gpt-5',
    'gpt-5-mini',
    'gpt-5-nano',
    'gpt-3.5-turbo',
    'text-embedding-3-small',
    'text-embedding-3-large',
    'gpt-4-turbo',
  ].map((m) => ['openai', m]),
  ...[
    'claude-3-5-sonnet',
    'claude-3-5-haiku',
    'claude-3-7-sonnet',
    'claude-sonnet-4',
    'claude-opus-4',
    'claude-3-opus',
    'claude-3-haiku',
    'claude-haiku-4-5',
    'claude-sonnet-4-5',
    'claude-opus-4-1',
  ].map((m) => ['anthropic', m]),
  ...[
    'gemini-1.5-pro',
    'gemini-1.5-flash',
    'gemini-2.0-flash',
    'gemini-2.5-pro',
    'gemini-2.5-flash',
    'gemini-2.5-flash-lite',
    'gemini-2.0-flash-lite',
    'text-embedding-004',
  ].map((m) => ['gcp.gemini', m]),
  ...[
    'mistral-large',
    'mistral-small',
    'codestral',
    'mistral-medium',
    'ministral-8b',
    'pixtral-large',
    'open-mistral-nemo',
  ].map((m) => ['mistral_ai', m]),
  ...['amazon.nova-pro', 'amazon.nova-lite', 'amazon.nova-micro', 'meta.llama3-70b', 'cohere.command-r'].map(
    (m) => ['aws.bedrock', m],
  ),
  ...['llama-local', 'qwen-local', 'phi-local', 'mixtral-local', 'deepseek-local'].map((m) => [
    'openai_compatible',
    m,
  ]),
];
const sqlArray = (xs) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
/** A Zipf-like (log-uniform) index in [0, n) from a uniform u in [0, 1). */
const zipf = (u, n) => `toUInt32(least(floor(exp(${u} * log(${n + 1}))) - 1, ${n - 1}))`;

/** N calls spread over the `days` before `now` (ms) into llm_calls, then every closed hour sealed. */
export async function seed(storage, now, days, calls) {
  const db = storage.database;
  const start = Math.floor(now / 1000) - days * 86400;
  const t0 = performance.now();
  // u1..u9: independent uniforms per call; the model is one of its feature's three (70/25/5 %).
  const u = (i) => `(cityHash64(number, ${i}) % 1000003) / 1000003`;
  await storage.client.command({
    query: `
INSERT INTO ${db}.llm_calls
  (trace_id, span_id, start_time, duration_ms, provider, operation, request_model, response_model,
   priced_provider, priced_model, input_tokens, output_tokens, cache_read_tokens, error_type, enforcement,
   source, team, department, cost_center, feature, workflow, customer, environment, service, end_user,
   cost_usd, input_cost_usd, output_cost_usd, priced)
SELECT
  hex(number) AS trace_id, hex(cityHash64(number)) AS span_id,
  addMilliseconds(toDateTime64({start:Int64}, 9, 'UTC'), intDiv(number * {span_ms:UInt64}, {n:UInt64})) AS start_time,
  round(120 * exp(${u(2)} * log(40)) + ${u(3)} * 10, 3) AS duration_ms,
  ${sqlArray(MODELS.map((m) => m[0]))}[m + 1] AS provider,
  'chat' AS operation,
  ${sqlArray(MODELS.map((m) => m[1]))}[m + 1] AS request_model,
  request_model AS response_model,
  if(provider = 'openai_compatible', '', provider) AS priced_provider,
  if(provider = 'openai_compatible', '', request_model) AS priced_model,
  toUInt64(100 * exp(${u(4)} * log(80))) AS input_tokens,
  toUInt64(10 * exp(${u(5)} * log(200))) AS output_tokens,
  intDiv(input_tokens * (cityHash64(number, 6) % 60), 100) AS cache_read_tokens,
  if(${u(7)} < 0.02, 'timeout', '') AS error_type,
  multiIf(e < 0.01, 'blocked', e < 0.03, 'downgraded', e < 0.04, 'clamped', 'allowed') AS enforcement,
  'tokenledger' AS source,
  if(unowned, '', ${sqlArray(TEAMS)}[f % 20 + 1]) AS team,
  if(unowned, '', ${sqlArray(DEPARTMENTS)}[f % 5 + 1]) AS department,
  if(team = '', '', concat('cc-', team)) AS cost_center,
  ${sqlArray(FEATURES)}[f + 1] AS feature,
  if(cityHash64(number, 8) % 2 = 0, '', concat('wf-', toString(f % 30))) AS workflow,
  if(${u(9)} < 0.1, '', concat('cust-', toString(${zipf(u(10), 10000)}))) AS customer,
  if(cityHash64(number, 11) % 100 < 85, 'production', 'staging') AS environment,
  if(team = '', 'svc-shared', concat('svc-', team, '-', toString(f % 2))) AS service,
  if(${u(12)} < 0.05, '', concat('u', toString(${zipf(u(13), 100000)}))) AS end_user,
  if(priced_model = '', toDecimal128(0, 18),
     toDecimal128(input_tokens * 25 * (1 + m % 12), 18) / 100000000) AS input_cost_usd,
  if(priced_model = '', toDecimal128(0, 18),
     toDecimal128(output_tokens * 100 * (1 + m % 12), 18) / 100000000) AS output_cost_usd,
  input_cost_usd + output_cost_usd AS cost_usd,
  priced_model != '' AS priced
FROM (
  SELECT number, ${zipf(u(1), 200)} AS f, ${u(14)} AS e, ${u(15)} < 0.03 AS unowned,
    (f * 7 + multiIf(${u(16)} < 0.7, 0, ${u(16)} < 0.95, 1, 2) * 13) % ${MODELS.length} AS m
  FROM numbers({n:UInt64})
)`,
    query_params: { start, span_ms: days * 86_400_000, n: calls },
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
  ${sqlArray(FEATURES.slice(0, 20))}[number % 20 + 1], ['ticket_resolved', 'order_placed'][number % 2 + 1],
  1 + number % 3, toDecimal128(number % 100, 18)
FROM numbers(100000)`,
    query_params: { start },
  });
  // As the collector stores them (storage/outcomes.ts): the time-ordered copy the panels read too.
  await storage.client.command({
    query: `
INSERT INTO ${db}.outcomes_by_time (id, time, feature, outcome, count, value_usd)
SELECT id, time, feature, outcome, count, value_usd FROM ${db}.outcomes FINAL`,
  });
  await collector('storage/model-prices').syncModelPrices(storage, (l) => console.error(l));
  const sealMs = await seal(storage);
  return { seedMs, sealMs };
}

/**
 * Before/after marks (the team view's baselines panel), one every 2.5 days on eight features of
 * several teams (three of the biggest team's), unless the store has some: a store seeded before
 * they were part of the seed gets them too.
 */
async function seedBaselines(storage, now, days) {
  if ((await rowCount(storage, 'baselines')) > 0) return;
  const features = [0, 20, 1, 40, 2, 3, 60, 5].map((k) => FEATURES[k]);
  await storage.client.command({
    query: `
INSERT INTO ${storage.database}.baselines (id, feature, at, label, source, created_by, created_at)
SELECT concat('bench-', toString(number)), ${sqlArray(features)}[number % ${features.length} + 1],
  toDateTime64({start:Int64} + 86400 + number * 216000 + 1234, 3, 'UTC'), concat('prompt v', toString(number + 2)),
  if(number % 3 = 0, 'service.version', 'manual'), 'bench', toDateTime64({start:Int64}, 3, 'UTC')
FROM numbers({n:UInt32})`,
    query_params: { start: Math.floor(now / 1000) - days * 86400, n: Math.floor(days / 2.5) },
  });
}

/** Each daily rollup's frontier (ISO): a store upgraded with history fills the newer ones behind calls_daily. */
async function dailyFrontiers(storage) {
  const { DAILY_ROLLUPS, readDayFrontier } = collector('storage/rollup/days');
  const out = [];
  for (const r of DAILY_ROLLUPS) out.push(new Date((await readDayFrontier(storage, r)) * 1000).toISOString());
  return out;
}

/** The maintainer seals every closed hour of every rollup (the live tail stays raw); parts merged. */
async function seal(storage) {
  const t0 = performance.now();
  const { RollupMaintainer } = collector('storage/rollup/maintainer');
  const maintainer = new RollupMaintainer({ storage, log: (l) => console.error(l), publishDelayMs: 0 });
  const closed = new Date(Math.floor((Date.now() - 10 * 60_000) / 3_600_000) * 3_600_000).toISOString();
  // Days are built once their 24 hours are sealed: every day before the closed hour's.
  const closedDay = `${closed.slice(0, 10)}T00:00:00.000Z`;
  const done = async () =>
    (maintainer.stats.sealedUntil ?? '') >= closed &&
    Object.values(maintainer.stats.followers).every((f) => (f ?? '') >= closed) &&
    (maintainer.stats.daysSealedUntil ?? '') >= closedDay &&
    (await dailyFrontiers(storage)).every((f) => f >= closedDay);
  while (!(await done())) await maintainer.round();
  // Steady state: background merges would have folded the rollups' parts by now (a partition
  // already one part is left alone: a store seeded before is not rewritten on every run).
  for (const [t] of ROLLUP_TABLES)
    await storage.client.command({
      query: `OPTIMIZE TABLE ${storage.database}.${t} FINAL`,
      clickhouse_settings: { optimize_skip_merged_partitions: 1 },
    });
  return performance.now() - t0;
}

async function run1(storage, query) {
  const t0 = performance.now();
  const rs = await storage.client.query({ ...query, format: 'JSONEachRow', clickhouse_settings: SETTINGS });
  const rows = await rs.json();
  return { ms: performance.now() - t0, rows };
}

async function one(storage, sql, params = {}) {
  const rs = await storage.client.query({
    query: sql,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: SETTINGS,
  });
  return (await rs.json())[0];
}

/** Every sealed rollup table and its time column. */
const ROLLUP_TABLES = [
  ['spend_hourly_sealed', 'hour'],
  ['calls_hourly_sealed', 'hour'],
  ['calls_daily_sealed', 'day'],
  ['users_hourly_sealed', 'hour'],
  ['users_daily_sealed', 'day'],
  ['customers_hourly_sealed', 'hour'],
  ['customers_daily_sealed', 'day'],
  ['workflows_hourly_sealed', 'hour'],
  ['workflows_daily_sealed', 'day'],
  ['team_customers_hourly_sealed', 'hour'],
  ['team_customers_daily_sealed', 'day'],
  ['team_models_hourly_sealed', 'hour'],
  ['team_models_daily_sealed', 'day'],
  ['features_hourly_sealed', 'hour'],
  ['downgrades_hourly_sealed', 'hour'],
];

/** Rows and calls of each rollup in a range: what the panels read, and how much it compresses. */
async function rollupFigures(storage, range) {
  const db = storage.database;
  const params = { from: Math.floor(range.from / 1000), to: Math.floor(range.to / 1000) };
  const out = [];
  const calls = await one(
    storage,
    `SELECT count() AS n FROM ${db}.llm_calls WHERE start_time >= toDateTime({from:UInt32}) AND start_time <= toDateTime({to:UInt32})`,
    params,
  );
  for (const [t, time] of ROLLUP_TABLES) {
    const r = await one(
      storage,
      `SELECT count() AS n, sum(calls) AS c FROM ${db}.${t} FINAL WHERE ${time} >= toDateTime({from:UInt32}) AND ${time} <= toDateTime({to:UInt32}) AND calls > 0`,
      params,
    );
    out.push([t, Number(r.n), Number(r.c)]);
  }
  return { calls: Number(calls.n), rollups: out };
}

/** How far the sketches are from exact figures over the range (the raw calls): users and p95. */
async function sketchErrors(storage, range, team) {
  const db = storage.database;
  const params = { from: Math.floor(range.from / 1000), to: Math.floor(range.to / 1000), team };
  const where = `start_time >= toDateTime({from:UInt32}) AND start_time < toDateTime({to:UInt32}) + INTERVAL 1 HOUR`;
  const users = await one(
    storage,
    `SELECT max(abs(a - e) / e) AS worst, sum(abs(a - e)) / sum(e) AS overall FROM (
       SELECT feature, uniqCombinedIf(cityHash64(end_user), end_user != '') AS a, uniqExactIf(end_user, end_user != '') AS e
       FROM ${db}.llm_calls WHERE ${where} GROUP BY feature HAVING e >= 1000)`,
    params,
  );
  const p95 = await one(
    storage,
    `SELECT max(abs(a - e) / e) AS worst FROM (
       SELECT request_model, quantileBFloat16(0.95)(duration_ms) AS a, quantileExact(0.95)(duration_ms) AS e
       FROM ${db}.llm_calls WHERE ${where} AND team = {team:String} GROUP BY request_model)`,
    params,
  );
  return { usersWorst: users.worst, usersOverall: users.overall, p95Worst: p95.worst };
}

/** The biggest team, feature and customer of the seed (the team view shows one team). */
async function biggest(storage, column) {
  const r = await one(
    storage,
    `SELECT ${column} AS v FROM ${storage.database}.calls_hourly_sealed FINAL WHERE ${column} != '' GROUP BY v ORDER BY sum(calls) DESC LIMIT 1`,
  );
  return r?.v;
}

const pct = (x) => `${fmt(x * 100, 2)} %`;
const ratio = (raw, rollup) => `${fmt(raw / rollup)}×`;

export async function run() {
  const CALLS = Number(opts.calls);
  const DAYS = Number(opts.days);
  const ROUNDS = Number(opts.rounds);
  return withBenchStorage(
    'tl-bench-dash-',
    async (storage) => {
      const db = storage.database;
      let seeded = 'a store seeded before (--store)';
      let now = Date.now();
      if ((await rowCount(storage, 'llm_calls')) === 0) {
        console.log(`seeding ${CALLS.toLocaleString('en-US')} calls over ${DAYS} days …`);
        const { seedMs, sealMs } = await seed(storage, now, DAYS, CALLS);
        seeded = `seeded in ${fmt(seedMs / 1000)} s, every closed hour of both rollups sealed by the maintainer in ${fmt(sealMs / 1000)} s`;
      } else {
        const last = await one(storage, `SELECT toUnixTimestamp(max(start_time)) AS t FROM ${db}.llm_calls`);
        now = Number(last.t) * 1000 + 1000;
        await seal(storage);
      }
      await seedBaselines(storage, now, DAYS);
      console.log(seeded);
      const rawRows = await rowCount(storage, 'llm_calls');
      if (opts['seed-only']) return { markdown: `${rawRows.toLocaleString('en-US')} calls ${seeded}` };

      const team = await biggest(storage, 'team');
      const dayMs = 86_400_000;
      const ranges = [
        [
          'month to date, day 31',
          { from: new Date(Math.floor((now - 30 * dayMs) / dayMs) * dayMs), to: new Date(now) },
        ],
        ['last 30 days', { from: new Date(now - 30 * dayMs), to: new Date(now) }],
      ];
      const boards = [
        ['CFO overview', DASHBOARDS.find((d) => d.uid === 'tokenledger-cfo'), {}],
        [`team view, team ${team}`, DASHBOARDS.find((d) => d.uid === 'tokenledger-team'), { team: [team] }],
        ['models and savings', DASHBOARDS.find((d) => d.uid === 'tokenledger-models'), {}],
        ['budgets', DASHBOARDS.find((d) => d.uid === 'tokenledger-budgets'), {}],
        ['bill vs meter', DASHBOARDS.find((d) => d.uid === 'tokenledger-bill'), {}],
      ].filter(
        ([, board]) =>
          (!ONLY_BOARDS || ONLY_BOARDS.has(board.uid.replace('tokenledger-', ''))) &&
          (!ONLY_PANELS || board.panels.some((p) => ONLY_PANELS.has(p.id))),
      );
      const differences = [];
      const summary = [];
      const panelRows = [];
      const figures = [];
      const errors = [];

      for (const [rangeName, range] of ranges) {
        const f = await rollupFigures(storage, range);
        figures.push(
          ...f.rollups.map(([t, rows, calls]) => [
            rangeName,
            t,
            rows.toLocaleString('en-US'),
            calls.toLocaleString('en-US'),
            `${fmt(calls / rows)} : 1`,
          ]),
        );
        const e = await sketchErrors(storage, range, team);
        errors.push([rangeName, pct(e.usersWorst), pct(e.usersOverall), pct(e.p95Worst)]);

        for (const [boardName, board, variables] of boards) {
          const ctx = { ...range, intervalSeconds: 3600, variables: { database: [db], ...variables } };
          const queries = board.panels
            .filter((p) => !ONLY_PANELS || ONLY_PANELS.has(p.id))
            .map((p) => ({
              id: p.id,
              reads: [...new Set([...p.sql.matchAll(/\$\{database\}\.(\w+)/g)].map((m) => m[1]))]
                .filter((t) => /_(hourly|daily)$/.test(t) || t === 'llm_calls')
                .join(', '),
              rollup: toParameterizedQuery(p.sql, ctx),
              raw: toParameterizedQuery(rawForm(p.sql), ctx),
            }));
          const alone = Object.fromEntries(queries.map((q) => [q.id, { rollup: [], raw: [] }]));
          const atOnce = { rollup: [], raw: [] };
          for (let round = 0; round <= ROUNDS; round++) {
            // Interleaved: each variant all at once (as Grafana), then each panel alone, rollup then raw.
            for (const variant of ONLY_PANELS ? [] : ['rollup', 'raw']) {
              const t0 = performance.now();
              await Promise.all(queries.map((q) => run1(storage, q[variant])));
              if (round > 0) atOnce[variant].push(performance.now() - t0);
            }
            for (const q of queries) {
              const a = await run1(storage, q.rollup);
              const b = await run1(storage, q.raw);
              if (round > 0) {
                alone[q.id].rollup.push(a.ms);
                alone[q.id].raw.push(b.ms);
              } else if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) {
                differences.push(`${boardName} / ${q.id} [${rangeName}]`);
                console.error(
                  `DIFFERS ${q.id} [${rangeName}]:\n rollup ${JSON.stringify(a.rows).slice(0, 400)}\n raw    ${JSON.stringify(b.rows).slice(0, 400)}`,
                );
              }
            }
          }
          const boardMs = median(atOnce.rollup);
          if (!ONLY_PANELS)
            summary.push([
              boardName,
              rangeName,
              ratio(median(atOnce.raw), boardMs),
              fmt(boardMs),
              fmt(median(atOnce.raw)),
              boardMs <= BOARD_MS ? 'met' : 'NOT met',
            ]);
          for (const q of queries) {
            const r = median(alone[q.id].rollup);
            const w = median(alone[q.id].raw);
            const met = w >= SLOW_RAW_MS ? w / r >= MIN_RATIO : r <= FAST_PANEL_MS;
            panelRows.push([q.id, rangeName, ratio(w, r), fmt(r), fmt(w), q.reads, met ? 'met' : 'NOT met']);
          }
        }
      }

      // Budgets of any period: what a budget reads (whole hours from a rollup, the cut hours raw).
      const { storedSpend } = collector('govern/budgets/spend');
      const budgetRows = [];
      const MODEL =
        "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))";
      // Every policy match field, each with its biggest value.
      const matches = [];
      for (const field of MATCH_FIELDS.filter((f) => !ONLY_BUDGETS || ONLY_BUDGETS.has(f))) {
        const column = field === 'model' ? MODEL : field;
        const r = await one(
          storage,
          `SELECT ${column} AS v FROM ${db}.llm_calls WHERE ${column} != '' GROUP BY v ORDER BY count() DESC LIMIT 1`,
        );
        matches.push([field, r.v]);
      }
      // A budget reads its calendar period from a local midnight to its end (periodAt). In a zone
      // on a whole-hour offset no hour is cut at the start; in Asia/Kolkata (+05:30) the first hour
      // is, so it is read from the raw calls. Its first midnight after the seeded days begin.
      const kolkataMs = 5.5 * 3_600_000;
      const kolkataFrom = Math.ceil((now + kolkataMs - 30 * dayMs) / dayMs) * dayMs - kolkataMs;
      const budgetRanges = [
        ranges[0],
        ['month to date in Asia/Kolkata, day 30', { from: new Date(kolkataFrom), to: new Date(now) }],
        // No budget reads a range cut mid-hour at both ends; kept to compare with earlier runs.
        ['last 30 days (no budget period)', ranges[1][1]],
      ];
      for (const [rangeName, range] of budgetRanges) {
        for (const [field, value] of matches) {
          const column = field === 'model' ? MODEL : field;
          const rawSql = `SELECT toString(sum(cost_usd)) AS usd FROM ${db}.llm_calls
            WHERE start_time >= fromUnixTimestamp64Milli({from:Int64}) AND start_time < fromUnixTimestamp64Milli({to:Int64})
              AND ${column} = {value:String}`;
          const times = { rollup: [], raw: [] };
          for (let round = 0; round <= ROUNDS; round++) {
            let t0 = performance.now();
            const spent = await storedSpend(storage, { [field]: value }, range.from, range.to);
            const a = performance.now() - t0;
            t0 = performance.now();
            const raw = await one(storage, rawSql, {
              from: range.from.getTime(),
              to: range.to.getTime(),
              value,
            });
            const b = performance.now() - t0;
            if (round === 0 && !spent.eq(raw.usd ?? '0')) {
              differences.push(`budget ${field}=${value} [${rangeName}]`);
              console.error(`DIFFERS budget ${field}=${value}: ${spent.toFixed()} vs raw ${raw.usd}`);
            }
            if (round > 0) {
              times.rollup.push(a);
              times.raw.push(b);
            }
          }
          const r = median(times.rollup);
          const w = median(times.raw);
          const met = w >= SLOW_RAW_MS ? w / r >= MIN_RATIO : r <= FAST_PANEL_MS;
          budgetRows.push([
            `${field} = ${value}`,
            rangeName,
            ratio(w, r),
            fmt(r),
            fmt(w),
            met ? 'met' : 'NOT met',
          ]);
        }
      }

      const spendRows = await rowCount(storage, 'spend_hourly_sealed');
      const baselines = await rowCount(storage, 'baselines');
      const callsRows = await rowCount(storage, 'calls_hourly_sealed');
      // A table a run filtered out (--boards none, --panels …, --budgets none) is left out.
      const section = (title, headers, rows) =>
        rows.length === 0 ? [] : [title, '', table(headers, rows), ''];
      const markdown = [
        `${rawRows.toLocaleString('en-US')} calls over the ${DAYS} days before now (${seeded}); 20 teams, 200 features owned by teams (Zipf-like), 3 models per feature of 50, 10,000 customers and 100,000 users (Zipf-like), 30 workflows, 2 environments, ${baselines} before/after baselines. Rollups: spend_hourly_sealed ${spendRows.toLocaleString('en-US')} rows (${fmt(rawRows / spendRows)} : 1), calls_hourly_sealed ${callsRows.toLocaleString('en-US')} rows (${fmt(rawRows / callsRows)} : 1). Median of ${ROUNDS} rounds after a warm-up round; rollup and raw interleaved; query cache off. Raw = the same SQL with each rollup replaced by \`llm_calls\` (one row per call, no FINAL).`,
        '',
        `Answers: ${differences.length === 0 ? 'every panel and budget equals its raw answer' : `DIFFER from the raw answer: ${differences.join('; ')}`}.`,
        '',
        ...section(
          '#### Boards, every panel at once (as Grafana refreshes them)',
          ['board', 'range', 'raw ÷ rollup', 'rollup (ms)', 'raw (ms)', `≤ ${BOARD_MS} ms`],
          summary,
        ),
        '#### What the panels read',
        '',
        table(['range', 'rollup', 'rows in range', 'calls in range', 'compression'], figures),
        '',
        `Sketch error against exact figures (raw calls, same range): distinct users per feature with ≥ 1,000 users (uniqCombined), p95 latency per model of team ${team} (quantileBFloat16).`,
        '',
        table(['range', 'users, worst feature', 'users, all features', 'p95, worst model'], errors),
        '',
        ...section(
          `#### Budget spend (\`storedSpend\`: whole days and hours from rollups, cut hours raw; target as for a panel)`,
          ['match', 'range', 'raw ÷ rollup', 'rollup (ms)', 'raw (ms)', 'target'],
          budgetRows,
        ),
        ...section(
          `#### Each panel alone (target: ≥ ${MIN_RATIO}× when the raw answer takes ≥ ${SLOW_RAW_MS} ms, else ≤ ${FAST_PANEL_MS} ms)`,
          ['panel', 'range', 'raw ÷ rollup', 'rollup (ms)', 'raw (ms)', 'reads', 'target'],
          panelRows,
        ),
      ].join('\n');
      console.log(markdown);
      if (differences.length > 0) process.exitCode = 1;
      return { markdown };
    },
    opts.store,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

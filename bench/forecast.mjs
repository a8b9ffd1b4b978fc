/**
 * Forecast backtest and budget report: seeds N calls (default 2 M) over the year before today into
 * embedded ClickHouse with INSERT … SELECT FROM numbers() — a year of spend with its own shape
 * (5 % a month compounding, a weekly cycle, a step up on day 200, a launch week, daily noise) — then
 * times, as the collector runs them:
 *  - the backtest of all spend and of a budget (`GET /v1/forecast/backtest`): reading the year's
 *    daily aggregates from the rollup, then replaying every day of every closed month (model and
 *    naive spent × length / elapsed side by side, with their MAPE and the interval's coverage);
 *  - the budget report of last month and of this month (`GET /v1/budgets/report`), cold and warm.
 *
 *   node bench/forecast.mjs [--calls 2000000] [--rounds 3]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { collectorDist as collector, fmt, median, table, withBenchStorage } from './support/common.mjs';
const TARGET_BACKTEST_S = 30;

const { values: opts } = parseArgs({
  strict: false,
  options: { calls: { type: 'string', default: '2000000' }, rounds: { type: 'string', default: '3' } },
});
const CALLS = Number(opts.calls);
const ROUNDS = Number(opts.rounds);
const DAYS = 365;

/** Two budgets, one in a time zone of its own (bench/history.mjs adds a daily one). */
export const POLICY = {
  version: 1,
  policies: [
    { name: 'search-monthly', match: { team: 'search' }, budget: { usd: 40000, period: 'monthly' } },
    {
      name: 'support-weekly',
      match: { team: 'support' },
      budget: { usd: 9000, period: 'weekly', timezone: 'Europe/Berlin' },
    },
  ],
};

async function seed(storage, start) {
  const db = storage.database;
  const t0 = performance.now();
  // Each call carries its day's dollars divided by the day's calls: the day's total follows the
  // shape; which team a call belongs to cycles through four.
  await storage.client.command({
    query: `
INSERT INTO ${db}.llm_calls
  (trace_id, span_id, start_time, duration_ms, provider, operation, request_model, response_model,
   priced_provider, priced_model, input_tokens, output_tokens, source, team, feature, environment, service,
   cost_usd, input_cost_usd, output_cost_usd, priced)
SELECT
  hex(number) AS trace_id, hex(number) AS span_id,
  addSeconds(toDateTime64({start:Int64}, 9, 'UTC'), intDiv(number * {span:UInt64}, {n:UInt64})) AS start_time,
  300 AS duration_ms, 'openai' AS provider, 'chat' AS operation, 'gpt-4o' AS request_model,
  'gpt-4o' AS response_model, 'openai' AS priced_provider, 'gpt-4o' AS priced_model,
  1000 AS input_tokens, 200 AS output_tokens, 'tokenledger' AS source,
  ['search', 'support', 'billing', 'search'][number % 4 + 1] AS team,
  concat(team, '-feature') AS feature, 'production' AS environment, concat(team, '-api') AS service,
  toDecimal128(daily / {per_day:Float64}, 18) AS cost_usd, cost_usd AS input_cost_usd,
  toDecimal128(0, 18) AS output_cost_usd, 1 AS priced
FROM (
  SELECT number, intDiv(number * {span:UInt64}, {n:UInt64} * 86400) AS d,
    1000 * pow(1.05, intDiv(d, 30))
      * [1.1, 1.15, 1.1, 1.05, 0.95, 0.4, 0.3][toDayOfWeek(toDate({start:Int64} + d * 86400)) ]
      * if(d >= 200, 1.4, 1) * if(d BETWEEN 120 AND 126, 2.5, 1)
      * exp(0.12 * ((cityHash64(d) % 10000) / 10000.0 - 0.5) * 3.46) AS daily
  FROM numbers({n:UInt64}))`,
    query_params: { start: start / 1000, span: DAYS * 86400, n: CALLS, per_day: CALLS / DAYS },
    clickhouse_settings: { max_insert_threads: 2 },
  });
  await storage.client.command({ query: `OPTIMIZE TABLE ${db}.spend_hourly FINAL` });
  return performance.now() - t0;
}

export async function run() {
  return withBenchStorage('tl-bench-forecast-', async (storage) => {
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    console.log(`seeding ${CALLS.toLocaleString('en-US')} calls over ${DAYS} days …`);
    const seedMs = await seed(storage, today - DAYS * 86_400_000);
    const { runBacktest } = collector('read/forecast');

    const rows = [];
    let worst = 0;
    for (const scope of ['all', 'search-monthly', 'support-weekly']) {
      const times = [];
      let r;
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        r = await runBacktest(storage, POLICY, { scope }, now);
        times.push({ total: (performance.now() - t0) / 1000, replay: r.seconds });
      }
      const total = median(times.map((t) => t.total));
      worst = Math.max(worst, total);
      rows.push([
        scope,
        `${r.periods} ${r.period}`,
        String(r.model.all.points),
        fmt(median(times.map((t) => t.total - t.replay)), 2),
        fmt(median(times.map((t) => t.replay)), 2),
        `${fmt(r.model.all.mape * 100)} %`,
        `${fmt(r.naive.all.mape * 100)} %`,
        `${fmt(r.model.midPeriod.mape * 100)} %`,
        `${fmt(r.naive.midPeriod.mape * 100)} %`,
        `${fmt(r.model.all.coverage * 100)} %`,
      ]);
    }

    const { BudgetLedger } = collector('govern/budgets/ledger');
    const { PolicyHistory } = collector('govern/policy/history');
    const ledger = new BudgetLedger({ storage, history: new PolicyHistory(storage), policy: () => POLICY });
    const month = (offset) => [
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)),
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset + 1, 1)),
    ];
    const reportRows = [];
    for (const [name, range] of [
      ['last month', month(-1)],
      ['this month', month(0)],
    ]) {
      const timed = [];
      for (let round = 0; round <= ROUNDS; round++) {
        const t0 = performance.now();
        await ledger.report(...range);
        timed.push(performance.now() - t0);
      }
      reportRows.push([name, fmt(timed[0]), fmt(median(timed.slice(1)))]);
    }
    const t0 = performance.now();
    await ledger.refresh();
    const backfill = performance.now() - t0;

    const markdown = [
      `${CALLS.toLocaleString('en-US')} calls over the ${DAYS} days before today, seeded in ${fmt(seedMs / 1000)} s; median of ${ROUNDS} rounds.`,
      '',
      '#### Backtest (`GET /v1/forecast/backtest`): every day of every closed period forecasts its end',
      '',
      table(
        [
          'scope',
          'periods',
          'forecasts',
          'read daily aggregates (s)',
          'replay (s)',
          'MAPE model',
          'MAPE naive',
          'mid-period model',
          'mid-period naive',
          '80 % interval coverage',
        ],
        rows,
      ),
      '',
      `Target: a year's backtest ≤ ${TARGET_BACKTEST_S} s — ${worst <= TARGET_BACKTEST_S ? 'met' : 'NOT met'} (slowest ${fmt(worst, 2)} s).`,
      '',
      '#### Budget report (`GET /v1/budgets/report`): two budgets, all and unbudgeted spend, with burn-down and forecasts',
      '',
      table(['range', 'first (ms)', 'again (ms)'], reportRows),
      '',
      `Burn-down backfill of the whole year (every period of both budgets, all and unbudgeted spend): ${fmt(backfill / 1000, 2)} s.`,
    ].join('\n');
    console.log(markdown);
    return { markdown };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

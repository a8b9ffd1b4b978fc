/**
 * A store with a long history: seeds N calls (default 100 M) over the year before today into
 * embedded ClickHouse (the dashboards benchmark's calls: teams, features, models, customers, users,
 * enforcement, at its cardinality; every rollup sealed by the maintainer), a policy with a monthly, a weekly and a daily budget,
 * and a few before/after baselines; then times, as the collector runs them:
 *  - the burn-down refresh (`BudgetLedger.refresh`): the first one computes every period of every
 *    budget back to the first call, the next ones the open and recent periods (every minute);
 *  - the budget report of last month and this month (`GET /v1/budgets/report`);
 *  - the backtest of all spend (`GET /v1/forecast/backtest`) and the baselines (`GET /v1/baselines`);
 *  - every panel of every board for this month and last month, one after another and all at once.
 *
 *   node bench/history.mjs [--calls 100000000] [--days 365] [--rounds 3] [--store DIR [--seed-only]]
 *
 * --store DIR keeps the seeded store in DIR (a 100 M-call year takes ~15 min to seed on 2 cores and
 * ~10 GB): a later run on the same DIR measures without seeding again; --seed-only seeds and stops.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seed } from './dashboards.mjs';
import { POLICY as FORECAST_POLICY } from './forecast.mjs';
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
/** The speed issue's bar for a board's refresh. */
const TARGET_BOARD_MS = 1000;

const { values: opts } = parseArgs({
  strict: false,
  options: {
    calls: { type: 'string', default: '100000000' },
    days: { type: 'string', default: '365' },
    rounds: { type: 'string', default: '3' },
    store: { type: 'string' },
    'seed-only': { type: 'boolean', default: false },
  },
});
const CALLS = Number(opts.calls);
const DAYS = Number(opts.days);
const ROUNDS = Number(opts.rounds);

const POLICY = {
  ...FORECAST_POLICY,
  policies: [
    ...FORECAST_POLICY.policies,
    { name: 'billing-daily', match: { team: 'billing' }, budget: { usd: 1500, period: 'daily' } },
  ],
};

async function timed(fn) {
  const t0 = performance.now();
  const result = await fn();
  return { ms: performance.now() - t0, result };
}

async function runQuery(storage, query) {
  const rs = await storage.client.query({ ...query, format: 'JSONEachRow' });
  await rs.json();
}

export async function run() {
  return withBenchStorage(
    'tl-bench-history-',
    async (storage) => {
      const now = new Date();
      let seeded = 'a store seeded before (--store)';
      if ((await rowCount(storage, 'llm_calls')) === 0) {
        console.log(`seeding ${CALLS.toLocaleString('en-US')} calls over ${DAYS} days …`);
        const { seedMs, sealMs } = await seed(storage, now.getTime(), DAYS, CALLS);
        seeded = `seeded in ${fmt(seedMs / 1000)} s, sealed in ${fmt(sealMs / 1000)} s`;
        console.log(seeded);
      }
      const rawRows = await rowCount(storage, 'llm_calls');
      const rollupRows = await rowCount(storage, 'spend_hourly');
      if (opts['seed-only']) return { markdown: `${rawRows.toLocaleString('en-US')} calls ${seeded}` };

      const { PolicyHistory } = collector('govern/policy/history');
      const history = new PolicyHistory(storage);
      if ((await history.versions()).length === 0)
        await history.record({ policy: POLICY, version: 'bench', file: 'bench.policy.yaml' }, 'loaded');
      const { BaselineStore } = collector('govern/baselines/store');
      const marks = [];
      for (const [i, feature] of ['summarizer', 'chat', 'search-answers'].entries())
        for (const daysAgo of [20 + i, 50 + i])
          marks.push({
            feature,
            at: new Date(now.getTime() - daysAgo * 86_400_000),
            label: `prompt v${daysAgo}`,
            source: 'manual',
            createdBy: 'bench',
          });
      await new BaselineStore(storage).add(marks);

      const { BudgetLedger } = collector('govern/budgets/ledger');
      const ledger = new BudgetLedger({ storage, history, policy: () => POLICY });
      const ops = [];
      const first = await timed(() => ledger.refresh());
      ops.push(['burn-down refresh, first (every period back to the first call)', fmt(first.ms), '—']);
      const again = [];
      for (let round = 0; round < ROUNDS; round++) again.push((await timed(() => ledger.refresh())).ms);
      ops.push([
        'burn-down refresh, each minute after (open and recent periods)',
        fmt(again[0]),
        fmt(median(again)),
      ]);
      const month = (offset) => [
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)),
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset + 1, 1)),
      ];
      const repeat = async (name, fn) => {
        const times = [];
        for (let round = 0; round <= ROUNDS; round++) times.push((await timed(fn)).ms);
        ops.push([name, fmt(times[0]), fmt(median(times.slice(1)))]);
      };
      await repeat('budget report, last month', () => ledger.report(...month(-1)));
      await repeat('budget report, this month', () => ledger.report(...month(0)));
      const { runBacktest } = collector('read/forecast');
      await repeat('backtest of all spend, a year', () =>
        runBacktest(storage, POLICY, { scope: 'all' }, now),
      );
      const { baselineComparisons } = collector('read/baselines');
      const from90 = new Date(now.getTime() - 90 * 86_400_000).toISOString();
      await repeat('baselines, last 90 days', () =>
        baselineComparisons(storage, { from: from90, to: now.toISOString() }, now),
      );

      const ranges = [
        ['this month', { from: month(0)[0], to: now }],
        ['last month', { from: month(-1)[0], to: new Date(month(-1)[1].getTime() - 1000) }],
      ];
      const boardRows = [];
      const panelRows = new Map();
      let worstBoard = 0;
      for (const board of DASHBOARDS) {
        for (const [rangeName, range] of ranges) {
          const ctx = { ...range, intervalSeconds: 3600, variables: { database: ['bench'] } };
          const queries = board.panels.map((p) => ({ id: p.id, query: toParameterizedQuery(p.sql, ctx) }));
          const perPanel = Object.fromEntries(queries.map((q) => [q.id, []]));
          const serial = [];
          const parallel = [];
          for (let round = 0; round <= ROUNDS; round++) {
            let total = 0;
            for (const q of queries) {
              const { ms } = await timed(() => runQuery(storage, q.query));
              total += ms;
              if (round > 0) perPanel[q.id].push(ms); // round 0 warms caches
            }
            const all = await timed(() => Promise.all(queries.map((q) => runQuery(storage, q.query))));
            if (round > 0) {
              serial.push(total);
              parallel.push(all.ms);
            }
          }
          for (const q of queries) {
            const row = panelRows.get(q.id) ?? [board.uid, q.id, '—', '—'];
            row[rangeName === 'this month' ? 2 : 3] = fmt(median(perPanel[q.id]));
            panelRows.set(q.id, row);
          }
          const slowest = queries.map((q) => [q.id, median(perPanel[q.id])]).sort((a, b) => b[1] - a[1])[0];
          worstBoard = Math.max(worstBoard, median(parallel));
          boardRows.push([
            board.uid,
            rangeName,
            String(queries.length),
            fmt(median(serial)),
            fmt(median(parallel)),
            `${slowest[0]} ${fmt(slowest[1])}`,
          ]);
        }
      }

      const markdown = [
        `${CALLS.toLocaleString('en-US')} calls over the ${DAYS} days before today (llm_calls ${rawRows.toLocaleString('en-US')} rows, spend_hourly ${rollupRows.toLocaleString('en-US')} rows), ${seeded}; three budgets (monthly, weekly in Europe/Berlin, daily), six baselines; median of ${ROUNDS} rounds after one warm-up.`,
        '',
        '#### Budgets, forecasts, baselines',
        '',
        table(['operation', 'first (ms)', 'again (ms)'], ops),
        '',
        '#### Every board, as the report page and Grafana refresh it',
        '',
        table(
          ['board', 'range', 'panels', 'one after another (ms)', 'all at once (ms)', 'slowest panel (ms)'],
          boardRows,
        ),
        '',
        `Target: every board ≤ ${TARGET_BOARD_MS} ms all at once — ${worstBoard <= TARGET_BOARD_MS ? 'met' : 'NOT met'} (slowest ${fmt(worstBoard)} ms).`,
        '',
        '#### Each panel, run alone',
        '',
        table(['board', 'panel', 'this month (ms)', 'last month (ms)'], [...panelRows.values()]),
      ].join('\n');
      console.log(markdown);
      return { markdown };
    },
    opts.store,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

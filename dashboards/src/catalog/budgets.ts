/** Budgets and approvals: every policy's burn-down, forecast and state; approval requests. */
import type { DashboardDef } from './types';
import { share, SNAPSHOT_LOOKBACK, table } from './sql';

const SNAPSHOTS = table('budget_snapshots');
const APPROVALS = table('approvals');

export const BUDGETS_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-budgets',
  title: 'tokenledger — Budgets and approvals',
  description:
    'Each policy’s budget burn-down, forecast and state, and the approval requests for expensive jobs.',
  tags: ['tokenledger', 'budgets', 'approvals'],
  timeFrom: 'now/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'budgets-current',
      title: 'Budgets now',
      question: 'Where does every policy stand in its current period: spent, remaining, forecast, state?',
      sql: `
SELECT
  policy,
  argMax(period, at) AS period,
  argMax(period_end, at) AS period_end,
  argMax(limit_usd, at) AS limit_usd,
  argMax(spent_usd, at) AS spent_usd,
  limit_usd - spent_usd AS remaining_usd,
  argMax(forecast_usd, at) AS forecast_usd,
  ${share('spent_usd', 'limit_usd')} AS used_share,
  argMax(state, at) AS state
FROM ${SNAPSHOTS}
WHERE at <= $__toTime AND at > $__toTime - ${SNAPSHOT_LOOKBACK}
GROUP BY policy
ORDER BY used_share DESC, policy`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'budgets-burndown',
      title: 'Budget remaining (burn-down)',
      question: 'How fast is each budget being used up?',
      sql: `
SELECT
  toStartOfInterval(at, toIntervalSecond($__interval_s)) AS time,
  policy,
  argMax(limit_usd - spent_usd, at) AS remaining_usd
FROM ${SNAPSHOTS}
WHERE $__timeFilter(at)
GROUP BY time, policy
ORDER BY time, policy`,
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'currencyUSD',
    },
    {
      id: 'budgets-forecast',
      title: 'Forecast vs limit',
      question: 'Will each policy end its period over its budget?',
      sql: `
SELECT
  toStartOfInterval(at, toIntervalSecond($__interval_s)) AS time,
  policy,
  argMax(${share('forecast_usd', 'limit_usd')}, at) AS forecast_share_of_limit
FROM ${SNAPSHOTS}
WHERE $__timeFilter(at)
GROUP BY time, policy
ORDER BY time, policy`,
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'percentunit',
    },
    {
      id: 'approvals-pending',
      title: 'Pending approvals',
      question: 'Which expensive jobs are waiting for an approval?',
      sql: `
SELECT id, job, requester, approver, cost_center, estimated_usd, created_at, justification
FROM ${APPROVALS} FINAL
WHERE status = 'pending'
ORDER BY created_at, id`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
    {
      id: 'approvals-decided',
      title: 'Decided approvals',
      question:
        'Which requests were approved, rejected or used up in this period, and how much did they spend?',
      sql: `
SELECT id, job, status, decided_by, cost_center, estimated_usd, approved_usd, spent_usd, decided_at
FROM ${APPROVALS} FINAL
WHERE status != 'pending' AND $__timeFilter(decided_at)
ORDER BY decided_at DESC, id`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
  ],
};

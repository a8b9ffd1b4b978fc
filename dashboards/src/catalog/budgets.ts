/** Budgets and approvals: every policy's burn-down, forecast and state; approval requests. */
import type { DashboardDef } from './types';
import { BURNDOWN, latestPoints, share, table } from './sql';

const APPROVALS = table('approvals');

/**
 * One value per budget and day (per hour for a daily budget, at most an hour's grain) over the
 * range: each bucket's latest point, the point closing a period that ends with the range included.
 */
const perBudgetPerDay = (value: string, alias: string): string => `
SELECT
  toStartOfInterval(bucket_start, toIntervalSecond(greatest($__interval_s, 3600))) AS time,
  policy,
  argMax(${value}, at) AS ${alias}
FROM ${BURNDOWN} FINAL
WHERE scope = 'budget' AND at > $__fromTime AND at <= $__toTime + INTERVAL 1 SECOND
GROUP BY time, policy
ORDER BY time, policy`;

export const BUDGETS_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-budgets',
  title: 'tokenledger — Budgets and approvals',
  description:
    'Each budget in its period — spent, the limit in force, forecast with its 80 % interval and breach date, state — its burn-down, and the approval requests for expensive jobs.',
  tags: ['tokenledger', 'budgets', 'approvals'],
  timeFrom: 'now/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'budgets-current',
      gridId: 1,
      columns: [
        'policy',
        'period',
        'period_start',
        'period_end',
        'spent_usd',
        'limit_usd',
        'limit_source',
        'remaining_usd',
        'forecast_usd',
        'forecast_low_usd',
        'forecast_high_usd',
        'breach_at',
        'used_share',
        'state',
      ],
      title: 'Budgets in this period',
      question:
        'Where does every budget stand in its period at the end of the range: spent, limit (the one in force then), forecast, state?',
      sql: `
SELECT
  policy,
  period,
  period_start,
  period_end,
  spent_usd,
  limit_usd,
  limit_source,
  greatest(limit_usd - spent_usd, 0) AS remaining_usd,
  forecast_usd,
  forecast_low_usd,
  forecast_high_usd,
  breach_at,
  ${share('spent_usd', 'limit_usd')} AS used_share,
  state
FROM (${latestPoints('budget', [
        'period',
        'period_start',
        'period_end',
        'spent_usd',
        'limit_usd',
        'limit_source',
        'forecast_usd',
        'forecast_low_usd',
        'forecast_high_usd',
        'breach_at',
        'state',
      ])})
ORDER BY used_share DESC, policy`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'budgets-burndown',
      gridId: 2,
      columns: ['time', 'policy', 'remaining_usd'],
      title: 'Budget remaining (burn-down)',
      question: 'How fast is each budget being used up over its period, against the limit in force each day?',
      sql: perBudgetPerDay('greatest(limit_usd - spent_usd, 0)', 'remaining_usd'),
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'currencyUSD',
    },
    {
      id: 'budgets-forecast',
      gridId: 3,
      columns: ['time', 'policy', 'forecast_share_of_limit'],
      title: 'Forecast vs limit',
      question:
        'As each day ended, where was each budget forecast to end its period, as a share of its limit?',
      sql: perBudgetPerDay(share('forecast_usd', 'limit_usd'), 'forecast_share_of_limit'),
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'percentunit',
    },
    {
      id: 'approvals-pending',
      gridId: 4,
      columns: [
        'id',
        'job',
        'requester',
        'approver',
        'cost_center',
        'estimated_usd',
        'created_at',
        'justification',
      ],
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
      gridId: 5,
      columns: [
        'id',
        'job',
        'status',
        'decided_by',
        'cost_center',
        'estimated_usd',
        'approved_usd',
        'spent_usd',
        'decided_at',
      ],
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

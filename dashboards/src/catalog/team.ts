/** Team view: one team's (or several teams') spend, usage, reliability and enforcement. */
import type { DashboardDef, VariableDef } from './types';
import { BASELINES_PANEL } from './baselines';
import {
  boardRows,
  CALLS_HOURLY as HOURLY,
  labelled,
  P95_MS,
  share,
  teamCustomerRows,
  teamModelRows,
  variableFilter,
} from './sql';

/** The boards' rollup over the range, mostly whole days (panels not bucketed finer than the range). */
const BOARD = boardRows();

/** Same filter on the rollup and on the raw table (identical column names). */
const FILTER = ['team', 'environment', 'feature'].map((v) => variableFilter(v)).join(' AND ');
/** Hourly rollup: buckets are never finer than an hour. */
const BUCKET = 'toStartOfInterval(hour, toIntervalSecond(greatest($__interval_s, 3600)))';

const variable = (name: string, label: string): VariableDef => ({
  name,
  label,
  sql: `SELECT DISTINCT ${name} FROM ${HOURLY} WHERE ${name} != '' ORDER BY ${name}`,
  multi: true,
});

const spendBy = (column: string, title: string, visualization: 'piechart' | 'barchart', gridId: number) => ({
  id: `team-spend-by-${column}`,
  gridId,
  columns: [column, 'spend_usd', 'calls'],
  title: `Spend by ${title}`,
  question: `Where does the spend go, by ${title}?`,
  sql: `
SELECT ${labelled(column)} AS ${column}, sum(cost_usd) AS spend_usd, sum(calls) AS calls
FROM ${BOARD}
WHERE $__timeFilter(hour) AND ${FILTER}
GROUP BY ${column}
ORDER BY spend_usd DESC, ${column}`,
  format: 'table' as const,
  visualization,
  unit: 'currencyUSD' as const,
  width: 8,
});

export const TEAM_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-team',
  title: 'tokenledger — Team view',
  description:
    'A team’s AI spend by feature, model and environment; usage, latency, errors, customers, enforcement, and before/after a change.',
  tags: ['tokenledger', 'ai-spend'],
  timeFrom: 'now-7d',
  timeTo: 'now',
  variables: [
    variable('team', 'Team'),
    variable('environment', 'Environment'),
    variable('feature', 'Feature'),
  ],
  panels: [
    {
      id: 'team-usage',
      gridId: 1,
      columns: [
        'spend_usd',
        'calls',
        'input_tokens',
        'output_tokens',
        'cache_read_tokens',
        'error_calls',
        'cache_hit_share',
        'error_rate',
      ],
      title: 'Spend, calls and tokens',
      question:
        'How much did we spend, on how many calls and tokens, and how much of the input came from cache?',
      sql: `
SELECT
  sum(cost_usd) AS spend_usd,
  sum(calls) AS calls,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(error_calls) AS error_calls,
  ${share('cache_read_tokens', 'input_tokens')} AS cache_hit_share,
  ${share('error_calls', 'calls')} AS error_rate
FROM ${BOARD}
WHERE $__timeFilter(hour) AND ${FILTER}`,
      format: 'table',
      visualization: 'stat',
      unit: 'short',
      width: 24,
      height: 5,
    },
    {
      id: 'team-spend-over-time',
      gridId: 2,
      columns: ['time', 'feature', 'spend_usd'],
      title: 'Spend over time by feature',
      question: 'How does our spend move over time, per feature?',
      sql: `
SELECT ${BUCKET} AS time, ${labelled('feature')} AS feature, sum(cost_usd) AS spend_usd
FROM ${HOURLY}
WHERE $__timeFilter(hour) AND ${FILTER}
GROUP BY time, feature
ORDER BY time, feature`,
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'currencyUSD',
      width: 24,
    },
    spendBy('feature', 'feature', 'barchart', 3),
    spendBy('model', 'model', 'piechart', 4),
    spendBy('environment', 'environment', 'piechart', 5),
    {
      id: 'team-latency-p95',
      gridId: 6,
      columns: ['model', 'calls', 'p95_ms'],
      title: 'p95 latency by model',
      question: 'How slow are our AI calls (95th percentile, within 1 %), per model?',
      sql: `
SELECT
  model,
  sum(calls) AS calls,
  ${P95_MS} AS p95_ms
FROM ${teamModelRows()}
WHERE $__timeFilter(hour) AND ${FILTER}
GROUP BY model
ORDER BY p95_ms DESC, model`,
      format: 'table',
      visualization: 'bargauge',
      unit: 'ms',
    },
    {
      id: 'team-error-rate',
      gridId: 7,
      columns: ['time', 'error_rate'],
      title: 'Error rate',
      question: 'What share of our AI calls fail, over time?',
      sql: `
SELECT ${BUCKET} AS time, ${share('sum(error_calls)', 'sum(calls)')} AS error_rate
FROM ${HOURLY}
WHERE $__timeFilter(hour) AND ${FILTER}
GROUP BY time
ORDER BY time`,
      format: 'time_series',
      visualization: 'timeseries',
      unit: 'percentunit',
    },
    {
      id: 'team-top-customers',
      gridId: 8,
      columns: ['customer', 'spend_usd', 'calls'],
      title: 'Top customers',
      question: 'Which customers drive our AI spend?',
      sql: `
SELECT ${labelled('customer', '(none)')} AS customer, sum(cost_usd) AS spend_usd, sum(calls) AS calls
FROM ${teamCustomerRows()}
WHERE $__timeFilter(hour) AND ${FILTER}
GROUP BY customer
ORDER BY spend_usd DESC, customer
LIMIT 10`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
    {
      id: 'team-enforcement',
      gridId: 9,
      columns: ['enforcement', 'feature', 'calls'],
      title: 'Blocked, downgraded and clamped calls',
      question: 'How many calls did the policy guard block, downgrade or clamp, and where?',
      sql: `
SELECT enforcement, ${labelled('feature')} AS feature, calls
FROM (
  SELECT feature, sum(blocked_calls) AS blocked, sum(downgraded_calls) AS downgraded, sum(clamped_calls) AS clamped
  FROM ${BOARD}
  WHERE $__timeFilter(hour) AND ${FILTER}
  GROUP BY feature
)
ARRAY JOIN ['blocked', 'downgraded', 'clamped'] AS enforcement, [blocked, downgraded, clamped] AS calls
WHERE calls > 0
ORDER BY calls DESC, enforcement, feature`,
      format: 'table',
      visualization: 'table',
      unit: 'short',
    },
    BASELINES_PANEL,
  ],
};

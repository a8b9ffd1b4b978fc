/** CFO overview: what AI costs, who spends it, whether it is attributed, where the month will end. */
import type { DashboardDef } from './types';
import { BILL_COVERAGE_PANEL } from './bill';
import { AI_OUTSIDE_API_PANEL } from './expenses';
import { boardRows, featureUserRows, labelled, latestPoints, share, table, USERS } from './sql';

/** The boards' rollup over the range, mostly whole days. */
const BOARD = boardRows();
/** The twelve months up to the range's end. */
const YEAR_START = "toDateTime(toStartOfMonth($__toTime, 'UTC'), 'UTC') - toIntervalMonth(11)";

const OUTCOMES = table('outcomes_by_time');

/** The monthly budgets at the range's end (like with like: a quarter's forecast is not a month's). */
const MONTHLY_BUDGETS = `SELECT * FROM (${latestPoints('budget', ['period', 'limit_usd', 'forecast_usd'])}) WHERE period = 'monthly'`;

export const CFO_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-cfo',
  title: 'tokenledger — CFO overview',
  description:
    'AI spend in the range, by team and feature, against budgets, with unit economics per user and outcome.',
  tags: ['tokenledger', 'finops', 'ai-spend'],
  timeFrom: 'now/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'cfo-total-spend',
      gridId: 1,
      columns: ['spend_usd'],
      title: 'AI spend',
      question: 'How much have we spent on AI in this period?',
      sql: `SELECT sum(cost_usd) AS spend_usd FROM ${BOARD} WHERE $__timeFilter(hour)`,
      format: 'table',
      visualization: 'stat',
      unit: 'currencyUSD',
      width: 6,
      height: 5,
    },
    {
      id: 'cfo-projected-month-end',
      gridId: 2,
      columns: [
        'month_to_date_usd',
        'projected_usd',
        'budgeted_projected_usd',
        'monthly_budgets_usd',
        'unbudgeted_projected_usd',
      ],
      title: 'Month-end projection: budgeted spend against its budgets, the rest apart',
      question:
        'Where will the month end — the spend under monthly budgets against those budgets, and the spend no budget covers?',
      sql: `
SELECT
  (SELECT sum(spent_usd) FROM (${latestPoints('all', ['spent_usd'])})) AS month_to_date_usd,
  (SELECT sum(forecast_usd) FROM (${latestPoints('all', ['forecast_usd'])})) AS projected_usd,
  (SELECT sum(forecast_usd) FROM (${MONTHLY_BUDGETS})) AS budgeted_projected_usd,
  (SELECT sum(limit_usd) FROM (${MONTHLY_BUDGETS})) AS monthly_budgets_usd,
  (SELECT sum(forecast_usd) FROM (${latestPoints('unbudgeted', ['forecast_usd'])})) AS unbudgeted_projected_usd`,
      format: 'table',
      visualization: 'stat',
      unit: 'currencyUSD',
      width: 10,
      height: 5,
    },
    {
      id: 'cfo-unattributed-share',
      gridId: 3,
      columns: ['unattributed_usd', 'unattributed_share', 'unpriced_calls', 'unpriced_call_share'],
      title: 'Unattributed and unpriced',
      question:
        'How much of the spend has no owner (no team and no cost center), and how many calls could not be priced?',
      sql: `
SELECT
  sumIf(cost_usd, team = '' AND cost_center = '') AS unattributed_usd,
  ${share("sumIf(cost_usd, team = '' AND cost_center = '')", 'sum(cost_usd)')} AS unattributed_share,
  sum(unpriced_calls) AS unpriced_calls,
  ${share('unpriced_calls', 'sum(calls)')} AS unpriced_call_share
FROM ${BOARD}
WHERE $__timeFilter(hour)`,
      format: 'table',
      visualization: 'stat',
      unit: 'percentunit',
      width: 8,
      height: 5,
    },
    {
      id: 'cfo-spend-by-team',
      gridId: 4,
      columns: ['team', 'spend_usd', 'calls'],
      title: 'Spend by team',
      question: 'Which teams spend the most on AI?',
      sql: `
SELECT ${labelled('team')} AS team, sum(cost_usd) AS spend_usd, sum(calls) AS calls
FROM ${BOARD}
WHERE $__timeFilter(hour)
GROUP BY team
ORDER BY spend_usd DESC, team`,
      format: 'table',
      visualization: 'barchart',
      unit: 'currencyUSD',
    },
    {
      id: 'cfo-budgets-near-cap',
      gridId: 5,
      columns: ['policy', 'period', 'spent_usd', 'limit_usd', 'forecast_usd', 'used_share', 'state'],
      title: 'Budgets approaching their caps',
      question: 'Which services and policies are close to (or over) their budget?',
      sql: `
SELECT policy, period, spent_usd, limit_usd, forecast_usd, ${share('spent_usd', 'limit_usd')} AS used_share, state
FROM (${latestPoints('budget', ['period', 'spent_usd', 'limit_usd', 'forecast_usd', 'state'])})
ORDER BY used_share DESC, policy`,
      format: 'table',
      visualization: 'bargauge',
      unit: 'percentunit',
    },
    {
      id: 'cfo-monthly-trend',
      gridId: 6,
      columns: ['time', 'spend_usd'],
      title: 'Month over month',
      question: 'How does AI spend trend month over month (last 12 months)?',
      sql: `
SELECT toDateTime(toStartOfMonth(hour), 'UTC') AS time, sum(cost_usd) AS spend_usd
FROM ${boardRows(YEAR_START)}
WHERE hour >= ${YEAR_START} AND hour <= $__toTime
GROUP BY time
ORDER BY time`,
      format: 'time_series',
      visualization: 'barchart',
      unit: 'currencyUSD',
    },
    {
      id: 'cfo-models-in-use',
      gridId: 7,
      columns: ['provider', 'model', 'calls', 'spend_usd'],
      title: 'Models in use',
      question: 'Which models do we pay for, and how much each?',
      sql: `
SELECT provider, model, sum(calls) AS calls, sum(cost_usd) AS spend_usd
FROM ${BOARD}
WHERE $__timeFilter(hour)
GROUP BY provider, model
ORDER BY spend_usd DESC, provider, model`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
    {
      id: 'cfo-cost-per-feature',
      gridId: 8,
      columns: ['feature', 'spend_usd', 'calls'],
      title: 'Cost per feature',
      question: 'What does each AI feature cost?',
      sql: `
SELECT ${labelled('feature')} AS feature, sum(cost_usd) AS spend_usd, sum(calls) AS calls
FROM ${BOARD}
WHERE $__timeFilter(hour)
GROUP BY feature
ORDER BY spend_usd DESC, feature`,
      format: 'table',
      visualization: 'barchart',
      unit: 'currencyUSD',
    },
    {
      id: 'cfo-cost-per-user',
      gridId: 9,
      columns: ['feature', 'spend_usd', 'users', 'cost_per_user_usd'],
      title: 'Cost per user',
      question: 'What does each AI feature cost per active user (distinct enduser.id, within 1 %)?',
      sql: `
SELECT
  ${labelled('feature')} AS feature,
  sum(cost_usd) AS spend_usd,
  ${USERS} AS users,
  if(users = 0, NULL, spend_usd / users) AS cost_per_user_usd
FROM ${featureUserRows()}
WHERE $__timeFilter(hour)
GROUP BY feature
ORDER BY spend_usd DESC, feature`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
    {
      id: 'cfo-cost-per-outcome',
      gridId: 10,
      columns: ['feature', 'outcome', 'outcomes', 'outcome_value_usd', 'spend_usd', 'cost_per_outcome_usd'],
      title: 'Cost per outcome',
      question:
        'What does each business outcome (transaction, resolved ticket, ...) cost in AI spend, per feature?',
      sql: `
SELECT
  o.feature AS feature,
  o.outcome AS outcome,
  o.outcomes AS outcomes,
  o.value_usd AS outcome_value_usd,
  s.spend_usd AS spend_usd,
  if(o.outcomes = 0, NULL, s.spend_usd / o.outcomes) AS cost_per_outcome_usd
FROM
  (SELECT feature, outcome, sum(count) AS outcomes, sum(value_usd) AS value_usd
   FROM ${OUTCOMES} FINAL WHERE $__timeFilter(time) GROUP BY feature, outcome) AS o
  LEFT JOIN
  (SELECT feature, sum(cost_usd) AS spend_usd FROM ${BOARD} WHERE $__timeFilter(hour) GROUP BY feature) AS s
  ON o.feature = s.feature
ORDER BY feature, outcome`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    // Issue 25 (the bill): imported bills vs the meter, defined with the Bill vs meter board; AI
    // bought outside the APIs, from imported expenses.
    BILL_COVERAGE_PANEL,
    AI_OUTSIDE_API_PANEL,
  ],
};

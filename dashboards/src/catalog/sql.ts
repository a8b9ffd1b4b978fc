/**
 * Small SQL fragments shared by the panel definitions, so every panel filters and labels the same way.
 */
import { ALL_VALUE_SQL } from './macros';

/** A table of tokenledger's database, as Grafana and the collector both resolve it. */
export const table = (name: string): string => `\${database}.${name}`;

/**
 * The model a raw call is counted under — the catalog id it was priced as, else the model as
 * reported — exactly the rollup's `model`, so every panel names a model the same way.
 */
export const PRICED_MODEL =
  "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))";

/** `column` restricted to the multi-select variable, which may be at All. */
export const variableFilter = (variable: string, column = variable): string =>
  `(${ALL_VALUE_SQL} IN (\${${variable}:singlequote}) OR ${column} IN (\${${variable}:singlequote}))`;

/**
 * The raw calls, deduplicated: a span stored twice (a retry racing a crash, two collectors on one
 * server) counts once. The hourly spend (`spend_hourly`) is deduplicated already.
 */
export const RAW_CALLS = `${table('llm_calls')} FINAL`;

/**
 * The boards' hourly rollup (migration 0037): every attribution field but customer and workflow,
 * with enforcement counts, the input/output cost split, distinct users and latency; sealed hours
 * and the live tail, equal to the raw calls like `spend_hourly`.
 */
export const CALLS_HOURLY = table('calls_hourly');

/**
 * The downgraded calls per hour by the model asked for and the one served (migration 0040): what
 * "Saved by downgrades" reads instead of a month of raw calls.
 */
export const DOWNGRADES_HOURLY = table('downgrades_hourly');

/** The columns both board rollups have besides their time (`hour`, `day`). */
const BOARD_COLUMNS = [
  'team',
  'department',
  'cost_center',
  'feature',
  'service',
  'environment',
  'provider',
  'model',
  'calls',
  'error_calls',
  'unpriced_calls',
  'blocked_calls',
  'downgraded_calls',
  'clamped_calls',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'cost_usd',
  'input_cost_usd',
  'output_cost_usd',
  'users',
  'latency',
].join(', ');

/**
 * Days before this are in `rollup` (a daily one): the very subquery its view filters on, so
 * ClickHouse evaluates it once per query and the two branches of `dailyRows` split the range at one instant.
 */
const dailyFrontier = (rollup: string): string => `(SELECT max(sealed_until) FROM ${table('rollup_frontiers')}
             WHERE rollup = '${rollup}' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)`;

/**
 * Rows of an hourly rollup with `hour` in [from, to] read mostly per day: the UTC days the range
 * covers whole (and that are sealed) from its daily rollup, their `hour` the day's first; the hours
 * at the ends and of the days not sealed yet from the hourly one. `when`: a condition on the query's
 * variables alone (constant once they are bound), under which these rows are read at all.
 */
const dayBranches = (
  daily: string,
  hourly: string,
  columns: string,
  from: string,
  to: string,
  when = '1',
): string => {
  const firstDay = `toStartOfDay(${from} + INTERVAL 86399 SECOND, 'UTC')`;
  const pastDays = `least(toStartOfDay(${to} - INTERVAL 23 HOUR, 'UTC') + INTERVAL 1 DAY, ${dailyFrontier(daily)})`;
  return `
  SELECT day AS hour, ${columns} FROM ${table(daily)}
  WHERE (${when}) AND day >= ${firstDay} AND day < ${pastDays}
  UNION ALL
  SELECT hour, ${columns} FROM ${table(hourly)}
  WHERE (${when}) AND hour >= ${from} AND hour <= ${to} AND (hour < ${firstDay} OR hour >= ${pastDays})`;
};

/**
 * Rows of an hourly rollup with `hour` in [from, to], whole days from its daily rollup (see
 * dayBranches). Any aggregate over it not grouped finer than the day equals the same over the
 * hourly rollup (and so over the raw calls). The comments mark it for `rawForm`, which reads the
 * raw calls instead.
 */
const dailyRows = (daily: string, hourly: string, columns: string, from: string, to: string): string =>
  `(/* board rows */${dayBranches(daily, hourly, columns, from, to)}
  /* end of board rows */)`;

/** A pair of rollups, daily and hourly, and the columns read from them (each named as the panel reads it). */
interface Grain {
  daily: string;
  hourly: string;
  columns: string;
}

/**
 * Rows with `hour` in Grafana's range from the `coarse` pair of rollups while `when` holds (a
 * condition on the variables alone: the coarse rows have what the panel groups and filters by),
 * else from the `fine` pair. Both are exact, so the answer is the same either way; the coarse one
 * has far fewer rows. One `rawForm` block: the raw calls answer both.
 */
const rowsEither = (when: string, coarse: Grain, fine: Grain): string => {
  const [from, to] = ['$__fromTime', '$__toTime'];
  return `(/* board rows */${dayBranches(coarse.daily, coarse.hourly, coarse.columns, from, to, when)}
  UNION ALL${dayBranches(fine.daily, fine.hourly, fine.columns, from, to, `NOT (${when})`)}
  /* end of board rows */)`;
};

/** The team view's environment and feature variables are both at All: its team-grain rollups answer. */
const TEAM_ONLY = ['environment', 'feature']
  .map((v) => `${ALL_VALUE_SQL} IN (\${${v}:singlequote})`)
  .join(' AND ');

/**
 * The boards' rows with `hour` in [from, to] (SQL DateTime expressions, Grafana's range by default),
 * as `calls_hourly` has them, whole days from `calls_daily` (see dailyRows).
 */
export const boardRows = (from = '$__fromTime', to = '$__toTime'): string =>
  dailyRows('calls_daily', 'calls_hourly', BOARD_COLUMNS, from, to);

/**
 * Calls, money and distinct users per feature (migration 0041) with `hour` in Grafana's range,
 * whole days from `users_daily`: ~200 states a day where the boards' rows have thousands.
 */
export const featureUserRows = (): string =>
  dailyRows(
    'users_daily',
    'users_hourly',
    'feature, calls, input_tokens, output_tokens, cost_usd, users',
    '$__fromTime',
    '$__toTime',
  );

/**
 * Calls and money per team and customer with `hour` in Grafana's range (the team view's variables
 * team, environment, feature and the customer): from `team_customers_daily`/`_hourly` (migration
 * 0050, one team a short range) while environment and feature are at All, else from the customers
 * rollups. The team-grain rows stand for every environment and feature ('').
 */
export const teamCustomerRows = (): string =>
  rowsEither(
    TEAM_ONLY,
    {
      daily: 'team_customers_daily',
      hourly: 'team_customers_hourly',
      columns: "team, '' AS environment, '' AS feature, customer, calls, cost_usd",
    },
    {
      daily: 'customers_daily',
      hourly: 'customers_hourly',
      columns: 'team, environment, feature, customer, calls, cost_usd',
    },
  );

/**
 * Calls and latency states per team and model with `hour` in Grafana's range (the team view's
 * variables and the model): from `team_models_daily`/`_hourly` (migration 0050: a state per model
 * and day) while environment and feature are at All, else the boards' rows (a state per feature,
 * environment, service and model).
 */
export const teamModelRows = (): string =>
  rowsEither(
    TEAM_ONLY,
    {
      daily: 'team_models_daily',
      hourly: 'team_models_hourly',
      columns: "team, '' AS environment, '' AS feature, model, calls, latency",
    },
    {
      daily: 'calls_daily',
      hourly: 'calls_hourly',
      columns: 'team, environment, feature, model, calls, latency',
    },
  );

/**
 * Distinct end users of the rows read: their uniqCombined states merged, which is exactly what
 * `uniqCombined` gives over the same raw calls (its own error against an exact count: ≈0.5 %,
 * printed by bench/dashboards.mjs).
 */
export const USERS = 'uniqCombinedMerge(users)';

/** p95 latency (ms) of the rows read: quantileBFloat16 states merged, as the raw calls give it (≤ 0.8 %). */
export const P95_MS = 'quantileBFloat16Merge(0.95)(latency)';

/** Shows an empty attribution value as a readable label. */
export const labelled = (column: string, label = '(unattributed)'): string =>
  `if(${column} = '', '${label}', ${column})`;

/** A ratio as Float64 (ratios are shares, not money; Decimal ÷ Decimal would overflow the scale). */
export const share = (part: string, whole: string): string =>
  `if(${whole} = 0, 0, toFloat64(${part}) / toFloat64(${whole}))`;

/**
 * The current state of a budget is its latest snapshot or burn-down point, looked for only this far
 * back (policies removed longer ago drop off; scans stay small).
 */
export const SNAPSHOT_LOOKBACK = 'INTERVAL 7 DAY';

/**
 * The budget burn-down the collector computes from the stored calls (migration 0020): a row per
 * budget (or all spend, or unbudgeted spend), period and day; read with FINAL (a recomputed bucket
 * replaces itself).
 */
export const BURNDOWN = table('budget_burndown');

/**
 * The latest burn-down point of each `scope` row at the range's end: `at` is a bucket's end, so the
 * point closing a period that ends with the range counts (`$__toTime` is its last whole second)
 * and the first bucket of the next period, ending later, does not.
 */
export const latestPoints = (scope: 'budget' | 'all' | 'unbudgeted', columns: string[]): string => `
  SELECT
    policy,
    ${columns.map((c) => `argMax(${c}, at) AS ${c}`).join(',\n    ')}
  FROM ${BURNDOWN} FINAL
  WHERE scope = '${scope}' AND at <= $__toTime + INTERVAL 1 SECOND AND at > $__toTime - ${SNAPSHOT_LOOKBACK}
  GROUP BY policy`;

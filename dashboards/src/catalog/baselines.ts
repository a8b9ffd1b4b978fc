/**
 * Before and after a change to a feature (a new prompt, a model switch, a release): each baseline
 * marked in the range (by hand, or found when a feature's spans carried a new service.version)
 * with the feature's cost per call, tokens per call and cost per outcome in the week before and
 * the week after, with the counts behind them. Whole hours from `features_hourly`: the hour the change
 * happened in is left out of both sides; a side stops at the feature's previous / next change.
 * The collector's GET /v1/baselines runs this same SQL.
 */
import type { PanelDef } from './types';
import { share, table, variableFilter } from './sql';

/**
 * Calls, tokens and spend per feature, team and environment per hour (migration 0051), ordered by
 * feature: the baselined features' weeks are short ranges of its index, where `calls_hourly` made
 * every row of the range a read.
 */
const HOURLY = table('features_hourly');

const OUTCOMES = table('outcomes_by_time');
const BASELINES = table('baselines');

/** Days compared on each side of a change. */
export const BASELINE_WINDOW_DAYS = 7;

/** Each baseline of the range with its windows: [before_from, hour) and (hour, after_to). */
const WINDOWS = `
  SELECT * FROM (
    SELECT
      id,
      feature,
      label,
      at,
      source,
      toStartOfHour(toDateTime(at, 'UTC')) AS hour,
      greatest(
        hour - INTERVAL ${BASELINE_WINDOW_DAYS} DAY,
        lagInFrame(toStartOfHour(toDateTime(at, 'UTC')) + INTERVAL 1 HOUR, 1, toDateTime(0, 'UTC')) OVER w
      ) AS before_from,
      least(
        hour + INTERVAL 1 HOUR + INTERVAL ${BASELINE_WINDOW_DAYS} DAY,
        leadInFrame(toStartOfHour(toDateTime(at, 'UTC')), 1, toDateTime('2106-01-01 00:00:00', 'UTC')) OVER w
      ) AS after_to
    FROM ${BASELINES} FINAL
    WINDOW w AS (PARTITION BY feature ORDER BY at, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  )
  WHERE $__timeFilter(at) AND ${variableFilter('feature')}`;

/** The features with a change in the range: the rows read are theirs alone (the index's first key). */
const BASELINED = `SELECT feature FROM ${BASELINES} FINAL WHERE $__timeFilter(at) AND ${variableFilter('feature')}`;

/** Which of the two sources a joined row came from: a feature's hourly calls, or its outcomes. */
const CALLS = 0;
const OUTCOME_ROWS = 1;

/** `sum` over the rows of one source, NULL when the feature has none of them in the range. */
const ifAny = (kind: number, sum: string): string => `if(countIf(h.kind = ${kind}) = 0, NULL, ${sum})`;

const before = (h: string) => `${h}.hour >= b.before_from AND ${h}.hour < b.hour`;
const after = (h: string) => `${h}.hour > b.hour AND ${h}.hour < b.after_to`;

export const BASELINES_PANEL: PanelDef = {
  id: 'team-baselines',
  gridId: 10,
  columns: [
    'feature',
    'label',
    'at',
    'source',
    'calls_before',
    'calls_after',
    'cost_per_call_before_usd',
    'cost_per_call_after_usd',
    'cost_per_call_change',
    'tokens_per_call_before',
    'tokens_per_call_after',
    'outcomes_before',
    'outcomes_after',
    'cost_per_outcome_before_usd',
    'cost_per_outcome_after_usd',
  ],
  title: 'Before and after a change',
  question:
    'Did a change to a feature (a prompt, a model, a release) make its calls cheaper: cost per call, tokens per call and cost per outcome in the week before and after?',
  sql: `
SELECT
  feature,
  label,
  at,
  source,
  s.calls_before AS calls_before,
  s.calls_after AS calls_after,
  if(s.calls_before = 0, NULL, s.spend_before / s.calls_before) AS cost_per_call_before_usd,
  if(s.calls_after = 0, NULL, s.spend_after / s.calls_after) AS cost_per_call_after_usd,
  if(s.calls_before = 0 OR s.calls_after = 0 OR s.spend_before = 0, NULL,
     ${share('cost_per_call_after_usd', 'cost_per_call_before_usd')} - 1) AS cost_per_call_change,
  if(s.calls_before = 0, NULL, ${share('s.tokens_before', 's.calls_before')}) AS tokens_per_call_before,
  if(s.calls_after = 0, NULL, ${share('s.tokens_after', 's.calls_after')}) AS tokens_per_call_after,
  s.outcomes_before AS outcomes_before,
  s.outcomes_after AS outcomes_after,
  if(s.outcomes_before = 0, NULL, s.spend_before / s.outcomes_before) AS cost_per_outcome_before_usd,
  if(s.outcomes_after = 0, NULL, s.spend_after / s.outcomes_after) AS cost_per_outcome_after_usd
FROM (
  SELECT
    b.id AS id,
    any(b.feature) AS feature,
    any(b.label) AS label,
    any(b.at) AS at,
    any(b.source) AS source,
    ${ifAny(CALLS, `sumIf(h.calls, ${before('h')})`)} AS calls_before,
    ${ifAny(CALLS, `sumIf(h.calls, ${after('h')})`)} AS calls_after,
    ${ifAny(CALLS, `sumIf(h.cost_usd, ${before('h')})`)} AS spend_before,
    ${ifAny(CALLS, `sumIf(h.cost_usd, ${after('h')})`)} AS spend_after,
    ${ifAny(CALLS, `sumIf(h.tokens, ${before('h')})`)} AS tokens_before,
    ${ifAny(CALLS, `sumIf(h.tokens, ${after('h')})`)} AS tokens_after,
    ${ifAny(OUTCOME_ROWS, `sumIf(h.outcomes, ${before('h')})`)} AS outcomes_before,
    ${ifAny(OUTCOME_ROWS, `sumIf(h.outcomes, ${after('h')})`)} AS outcomes_after
  FROM (${WINDOWS}) AS b
  LEFT JOIN (
    SELECT ${CALLS} AS kind, feature, hour, sum(calls) AS calls, sum(cost_usd) AS cost_usd,
           sum(input_tokens + output_tokens) AS tokens, toUInt64(0) AS outcomes
    FROM ${HOURLY}
    WHERE feature IN (${BASELINED})
      AND hour >= $__fromTime - INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
      AND hour <= $__toTime + INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
      AND ${variableFilter('team')} AND ${variableFilter('environment')}
    GROUP BY feature, hour
    UNION ALL
    SELECT ${OUTCOME_ROWS} AS kind, feature, toStartOfHour(toDateTime(time, 'UTC')) AS hour, toUInt64(0) AS calls,
           toDecimal128(0, 18) AS cost_usd, toUInt64(0) AS tokens, sum(count) AS outcomes
    FROM ${OUTCOMES} FINAL
    WHERE feature IN (${BASELINED})
      AND time >= $__fromTime - INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
      AND time <= $__toTime + INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
    GROUP BY feature, hour
  ) AS h ON h.feature = b.feature
  GROUP BY b.id
) AS s
ORDER BY at DESC, feature, label
SETTINGS join_use_nulls = 1`,
  format: 'table',
  visualization: 'table',
  unit: 'currencyUSD',
  width: 24,
};

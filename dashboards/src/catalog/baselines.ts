/**
 * Before and after a change to a feature (a new prompt, a model switch, a release): each baseline
 * marked in the range (by hand, or found when a feature's spans carried a new service.version)
 * with the feature's cost per call, tokens per call and cost per outcome in the week before and
 * the week after, with the counts behind them. Whole hours: the hour the change happened in is left
 * out of both sides; a side stops at the feature's previous / next change. The baselined features'
 * days are read from the daily rollup, the days a side starts or ends in from the hourly one.
 * The collector's GET /v1/baselines runs this same SQL.
 */
import type { PanelDef } from './types';
import { boardRowsSplitting, share, table, variableFilter } from './sql';

const OUTCOMES = table('outcomes');
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

/**
 * The (feature, day) pairs in which a window starts or ends: read per hour, every other day of a
 * baselined feature whole from the daily rollup (a window covers such a day whole or not at all).
 */
const SPLIT_DAYS = `
  SELECT feature, toStartOfDay(edge, 'UTC') FROM (${WINDOWS}) ARRAY JOIN [before_from, hour, after_to] AS edge`;

/** The rows the windows can reach: every window lies within a day of its baseline's range. */
const ROWS = boardRowsSplitting(
  `SELECT feature FROM (${WINDOWS})`,
  SPLIT_DAYS,
  `$__fromTime - INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY`,
  `$__toTime + INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY`,
  `${variableFilter('team')} AND ${variableFilter('environment')}`,
);

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
  b.feature AS feature,
  b.label AS label,
  b.at AS at,
  b.source AS source,
  s.calls_before AS calls_before,
  s.calls_after AS calls_after,
  if(s.calls_before = 0, NULL, s.spend_before / s.calls_before) AS cost_per_call_before_usd,
  if(s.calls_after = 0, NULL, s.spend_after / s.calls_after) AS cost_per_call_after_usd,
  if(s.calls_before = 0 OR s.calls_after = 0 OR s.spend_before = 0, NULL,
     ${share('cost_per_call_after_usd', 'cost_per_call_before_usd')} - 1) AS cost_per_call_change,
  if(s.calls_before = 0, NULL, ${share('s.tokens_before', 's.calls_before')}) AS tokens_per_call_before,
  if(s.calls_after = 0, NULL, ${share('s.tokens_after', 's.calls_after')}) AS tokens_per_call_after,
  oc.outcomes_before AS outcomes_before,
  oc.outcomes_after AS outcomes_after,
  if(oc.outcomes_before = 0, NULL, s.spend_before / oc.outcomes_before) AS cost_per_outcome_before_usd,
  if(oc.outcomes_after = 0, NULL, s.spend_after / oc.outcomes_after) AS cost_per_outcome_after_usd
FROM (${WINDOWS}) AS b
LEFT JOIN (
  SELECT
    b.id AS id,
    sumIf(h.calls, ${before('h')}) AS calls_before,
    sumIf(h.calls, ${after('h')}) AS calls_after,
    sumIf(h.cost_usd, ${before('h')}) AS spend_before,
    sumIf(h.cost_usd, ${after('h')}) AS spend_after,
    sumIf(h.input_tokens + h.output_tokens, ${before('h')}) AS tokens_before,
    sumIf(h.input_tokens + h.output_tokens, ${after('h')}) AS tokens_after
  FROM ${ROWS} AS h
  INNER JOIN (${WINDOWS}) AS b ON h.feature = b.feature
  WHERE h.hour >= $__fromTime - INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
    AND h.hour <= $__toTime + INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
    AND ${variableFilter('team', 'h.team')} AND ${variableFilter('environment', 'h.environment')}
  GROUP BY b.id
) AS s ON s.id = b.id
LEFT JOIN (
  SELECT
    b.id AS id,
    sumIf(o.count, ${before('o')}) AS outcomes_before,
    sumIf(o.count, ${after('o')}) AS outcomes_after
  FROM (SELECT feature, count, toStartOfHour(toDateTime(time, 'UTC')) AS hour FROM ${OUTCOMES} FINAL
        WHERE time >= $__fromTime - INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY
          AND time <= $__toTime + INTERVAL ${BASELINE_WINDOW_DAYS + 1} DAY) AS o
  INNER JOIN (${WINDOWS}) AS b ON o.feature = b.feature
  GROUP BY b.id
) AS oc ON oc.id = b.id
ORDER BY at DESC, feature, label
SETTINGS join_use_nulls = 1`,
  format: 'table',
  visualization: 'table',
  unit: 'currencyUSD',
  width: 24,
};

/**
 * Bill vs meter: how much of each provider's imported bill the meter covers, and where the rest
 * comes from. Reads the stored reconciliation (each provider × month's latest run, written by the
 * collector after imports, on API reads and every 15 minutes) — small tables, no scan of the calls.
 */
import type { DashboardDef, PanelDef } from './types';
import { share, table } from './sql';

const LINES = table('reconciliation_lines');
const RUNS = table('reconciliation_runs');

/**
 * The lines of each provider × month's latest run, on the UTC days of the time range; amounts
 * renamed (billed, metered, …) so the panels' `sum(billed) AS billed_usd` shadows nothing.
 */
export const CURRENT_LINES = `(
  SELECT provider, day, model, project, status, explanation, billed_usd AS billed, metered_usd AS metered,
    covered_usd AS covered, unmetered_usd AS unmetered, metered_not_billed_usd AS not_billed,
    late_usd AS late, credits_usd AS credits, other_usd AS other
  FROM ${LINES}
  WHERE (provider, toStartOfMonth(day), run_id) IN (
      SELECT provider, month, argMax(run_id, computed_at) FROM ${RUNS} GROUP BY provider, month)
    AND day >= toDate($__fromTime) AND day <= toDate($__toTime))`;

/** The token lines of each provider × month's latest run (usage exports vs meter), on the range's days. */
const CURRENT_TOKEN_LINES = `(
  SELECT provider, day, status, billed_input_tokens AS billed_input, metered_input_tokens AS metered_input,
    billed_cached_input_tokens AS billed_cached, metered_cached_input_tokens AS metered_cached,
    billed_output_tokens AS billed_output, metered_output_tokens AS metered_output
  FROM ${table('reconciliation_token_lines')}
  WHERE (provider, toStartOfMonth(day), run_id) IN (
      SELECT provider, month, argMax(run_id, computed_at) FROM ${RUNS} GROUP BY provider, month)
    AND day >= toDate($__fromTime) AND day <= toDate($__toTime))`;

/** Reasons metered spend was not billed, as the reconciliation explains them. */
const REASONS = "('free_tier', 'batch_discount', 'flex_discount', 'priority_commitment', 'cache_discount')";

/** The CFO overview's panel (appended to that board) and the first of this one. */
export const BILL_COVERAGE_PANEL: PanelDef = {
  id: 'cfo-bill-coverage',
  gridId: 11,
  columns: ['provider', 'billed_usd', 'metered_usd', 'coverage_share', 'unmetered_usd'],
  title: 'Meter coverage of the bill',
  question: 'How much of each provider’s bill does the meter account for, and how much is unmetered?',
  sql: `
SELECT
  provider,
  sum(billed) AS billed_usd,
  sum(metered) AS metered_usd,
  ${share('sum(covered)', 'sum(billed)')} AS coverage_share,
  sum(unmetered) AS unmetered_usd
FROM ${CURRENT_LINES}
GROUP BY provider
ORDER BY billed_usd DESC, provider`,
  format: 'table',
  visualization: 'table',
  unit: 'currencyUSD',
  width: 24,
  height: 6,
};

export const BILL_DASHBOARD: DashboardDef = {
  uid: 'tokenledger-bill',
  title: 'tokenledger — Bill vs meter',
  description:
    'Imported provider bills against the meter: coverage per provider, the unmetered remainder, what was metered but not billed, and the lines that do not match (tokenledger reconcile import).',
  tags: ['tokenledger', 'finops', 'reconciliation'],
  timeFrom: 'now-1M/M',
  timeTo: 'now',
  variables: [],
  panels: [
    {
      id: 'bill-coverage-by-provider',
      gridId: 1,
      columns: [
        'provider',
        'billed_usd',
        'metered_usd',
        'covered_usd',
        'coverage_share',
        'unmetered_usd',
        'metered_not_billed_usd',
        'credits_usd',
        'other_charges_usd',
      ],
      title: 'Bill vs meter by provider',
      question:
        'Per provider: what was billed, what the meter saw, the share it covers, the unmetered remainder, and credits and other charges beside them.',
      sql: `
SELECT
  provider,
  sum(billed) AS billed_usd,
  sum(metered) AS metered_usd,
  sum(covered) AS covered_usd,
  ${share('sum(covered)', 'sum(billed)')} AS coverage_share,
  sum(unmetered) AS unmetered_usd,
  sum(not_billed) AS metered_not_billed_usd,
  sum(credits) AS credits_usd,
  sum(other) AS other_charges_usd
FROM ${CURRENT_LINES}
GROUP BY provider
ORDER BY billed_usd DESC, provider`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
      height: 7,
    },
    {
      id: 'bill-daily',
      gridId: 2,
      columns: ['time', 'billed_usd', 'metered_usd'],
      title: 'Billed and metered per day',
      question: 'Day by day (UTC), what the providers billed and what the meter saw.',
      sql: `
SELECT toDateTime(day, 'UTC') AS time, sum(billed) AS billed_usd, sum(metered) AS metered_usd
FROM ${CURRENT_LINES}
GROUP BY time
ORDER BY time`,
      format: 'time_series',
      visualization: 'barchart',
      unit: 'currencyUSD',
    },
    {
      id: 'bill-metered-not-billed',
      gridId: 3,
      columns: ['provider', 'reason', 'metered_not_billed_usd'],
      title: 'Metered but not billed',
      question:
        'What the meter counted that the bill did not charge, and why: free tier, batch, Flex or cache discount, Priority Tier commitment.',
      sql: `
SELECT provider, if(explanation IN ${REASONS}, explanation, 'unexplained') AS reason, sum(not_billed) AS metered_not_billed_usd
FROM ${CURRENT_LINES}
WHERE not_billed > 0
GROUP BY provider, reason
ORDER BY provider, reason`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
    },
    {
      id: 'bill-unmatched-lines',
      gridId: 4,
      columns: [
        'provider',
        'line_day',
        'model',
        'project',
        'status',
        'explanation',
        'billed_usd',
        'metered_usd',
        'late_usd',
        'unmetered_usd',
        'metered_not_billed_usd',
      ],
      title: 'Lines that do not match',
      question:
        'Which provider × day × model lines are billed-only, metered-only or differ beyond the tolerance (and which matched a later bill)?',
      sql: `
SELECT provider, toString(day) AS line_day, model, project, status, explanation,
  billed AS billed_usd, metered AS metered_usd, late AS late_usd, unmetered AS unmetered_usd,
  not_billed AS metered_not_billed_usd
FROM ${CURRENT_LINES}
WHERE status != 'matched' OR explanation != ''
ORDER BY unmetered DESC, not_billed DESC, provider, line_day, model, project
LIMIT 500`,
      format: 'table',
      visualization: 'table',
      unit: 'currencyUSD',
      width: 24,
    },
    {
      id: 'bill-uninstrumented',
      gridId: 5,
      columns: ['provider', 'service', 'host', 'requests'],
      title: 'Uninstrumented AI traffic',
      question:
        'Where the unmetered remainder likely comes from: services calling AI APIs without GenAI instrumentation.',
      sql: `
SELECT provider, service, host, uniqExact(trace_id, span_id) AS requests
FROM ${table('ai_http_calls')}
WHERE $__timeFilter(start_time)
GROUP BY provider, service, host
ORDER BY requests DESC, provider, service, host`,
      format: 'table',
      visualization: 'table',
      unit: 'short',
      width: 24,
    },
    {
      id: 'bill-tokens-by-provider',
      gridId: 7,
      columns: [
        'provider',
        'billed_input_tokens',
        'metered_input_tokens',
        'input_coverage_share',
        'billed_cached_input_tokens',
        'metered_cached_input_tokens',
        'billed_output_tokens',
        'metered_output_tokens',
        'output_coverage_share',
        'unmatched_token_lines',
      ],
      title: 'Tokens: usage export vs meter',
      question:
        'Per provider, the tokens its usage export counts (input with cached, cached input, output) against the tokens the meter stored, and how many day × model lines differ beyond the tolerance.',
      sql: `
SELECT
  provider,
  sum(billed_input) AS billed_input_tokens,
  sum(metered_input) AS metered_input_tokens,
  ${share('sum(least(billed_input, metered_input))', 'sum(billed_input)')} AS input_coverage_share,
  sum(billed_cached) AS billed_cached_input_tokens,
  sum(metered_cached) AS metered_cached_input_tokens,
  sum(billed_output) AS billed_output_tokens,
  sum(metered_output) AS metered_output_tokens,
  ${share('sum(least(billed_output, metered_output))', 'sum(billed_output)')} AS output_coverage_share,
  countIf(status != 'matched') AS unmatched_token_lines
FROM ${CURRENT_TOKEN_LINES}
GROUP BY provider
ORDER BY billed_input_tokens DESC, provider`,
      format: 'table',
      visualization: 'table',
      unit: 'short',
      width: 24,
      height: 6,
    },
    {
      id: 'bill-imports',
      gridId: 6,
      columns: [
        'imported_at',
        'file_name',
        'format',
        'providers',
        'covers_from',
        'covers_until',
        'lines_kept',
        'problem_rows',
        'imported_by',
      ],
      title: 'Imported bills',
      question: 'Which bills were imported for this period, by whom, and how many rows could not be read?',
      sql: `
SELECT imported_at, file_name, format, arrayStringConcat(providers, ', ') AS providers,
  toString(period_from) AS covers_from, toString(period_to) AS covers_until, lines_kept,
  JSONExtractUInt(problems, 'count') AS problem_rows, imported_by
FROM ${table('bill_imports')}
WHERE period_from <= toDate($__toTime) AND period_to > toDate($__fromTime)
ORDER BY imported_at DESC, file_name`,
      format: 'table',
      visualization: 'table',
      unit: 'none',
      width: 24,
    },
  ],
};

/**
 * Each panel's raw form: the same SQL with every rollup replaced by the raw calls, one row per call
 * carrying the rollup's columns, and each merge of a rollup state by the same function over the
 * raw column. A rollup is right when a panel's answer equals its raw form's: the benchmark's
 * baseline and the tests' reference (issue 23).
 */
import { PRICED_MODEL, USERS, P95_MS, table } from './sql';

const ONE = (condition: string): string => `toUInt64(${condition})`;

/** The columns both rollups have, per call. */
const COMMON = [
  "toDateTime(toStartOfHour(start_time), 'UTC') AS hour",
  'team',
  'department',
  'cost_center',
  'feature',
  'service',
  'environment',
  'provider',
  `${PRICED_MODEL} AS model`,
  'toUInt64(1) AS calls',
  `${ONE("error_type != ''")} AS error_calls`,
  `${ONE('priced = 0')} AS unpriced_calls`,
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'cost_usd',
];

const perCall = (columns: string[], final: boolean): string =>
  `(SELECT ${columns.join(', ')} FROM ${table('llm_calls')}${final ? ' FINAL' : ''})`;

/**
 * `sql` with `calls_hourly` (and `boardRows`, which reads it and `calls_daily`), `features_hourly` and `spend_hourly` read from the raw calls (`final`: deduplicated, as
 * the rollups are; the benchmark's baseline reads the table as it is, its seed has no duplicates).
 */
export function rawForm(sql: string, { final = false }: { final?: boolean } = {}): string {
  const calls = perCall(
    [
      ...COMMON,
      `${ONE("enforcement = 'blocked'")} AS blocked_calls`,
      `${ONE("enforcement = 'downgraded'")} AS downgraded_calls`,
      `${ONE("enforcement = 'clamped'")} AS clamped_calls`,
      'input_cost_usd',
      'output_cost_usd',
      'end_user',
      'duration_ms',
      'workflow',
      'customer',
    ],
    final,
  );
  const spend = perCall([...COMMON, 'workflow', 'customer'], final);
  const downgrades = `(SELECT * FROM ${perCall([...COMMON, 'asked_model', 'request_model', 'enforcement'], final)}
    WHERE enforcement = 'downgraded' AND asked_model NOT IN ('', request_model))`;
  return sql
    .replace(/\(\/\* board rows \*\/[\s\S]*?\/\* end of board rows \*\/\)/g, calls)
    .replaceAll(`${table('calls_hourly')}`, calls)
    .replaceAll(`${table('features_hourly')}`, calls)
    .replaceAll(`${table('spend_hourly')}`, spend)
    .replaceAll(`${table('downgrades_hourly')}`, downgrades)
    .replaceAll(USERS, "uniqCombinedIf(cityHash64(end_user), end_user != '')")
    .replaceAll(P95_MS, 'quantileBFloat16(0.95)(duration_ms)');
}

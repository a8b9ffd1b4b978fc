/**
 * Small SQL fragments shared by the panel definitions, so every panel filters and labels the same way.
 */
import { ALL_VALUE_SQL } from './macros';

/** A table of tokenledger's database, as Grafana and the collector both resolve it. */
export const table = (name: string): string => `\${database}.${name}`;

/** `column` restricted to the multi-select variable, which may be at All. */
export const variableFilter = (variable: string, column = variable): string =>
  `(${ALL_VALUE_SQL} IN (\${${variable}:singlequote}) OR ${column} IN (\${${variable}:singlequote}))`;

/**
 * The raw calls, deduplicated: a span stored twice (a retry racing a crash, two collectors on one
 * server) counts once. The hourly spend (`spend_hourly`) is deduplicated already.
 */
export const RAW_CALLS = `${table('llm_calls')} FINAL`;

/** Shows an empty attribution value as a readable label. */
export const labelled = (column: string, label = '(unattributed)'): string =>
  `if(${column} = '', '${label}', ${column})`;

/** A ratio as Float64 (ratios are shares, not money; Decimal ÷ Decimal would overflow the scale). */
export const share = (part: string, whole: string): string =>
  `if(${whole} = 0, 0, toFloat64(${part}) / toFloat64(${whole}))`;

/**
 * The budget engine writes a snapshot per policy per minute: the current state is the latest one,
 * looked for only this far back (policies removed longer ago drop off; scans stay small).
 */
export const SNAPSHOT_LOOKBACK = 'INTERVAL 7 DAY';

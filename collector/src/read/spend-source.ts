/**
 * Where a spend read takes its rows from, chosen in one place: whole hours from `spend_hourly`
 * (sealed hours from the rollup, the live tail from the raw calls: equal to the raw calls, decision
 * 0044), a range off the hour from the raw calls (`llm_calls FINAL`: a span two racing collectors
 * both stored counts once). The spend report and reconciliation's metered spend both read through
 * it, so every report shows the same figures, corrected the same way after a fault.
 */
import { MODEL_SQL } from '../storage/rows';

/** The columns a spend read may group or filter on (each a column of `spend_hourly`). */
type SpendColumn =
  | 'hour'
  | 'team'
  | 'department'
  | 'cost_center'
  | 'feature'
  | 'workflow'
  | 'model'
  | 'provider'
  | 'environment'
  | 'service'
  | 'customer'
  /** Not in the rollup: only with `rawOnly`. */
  | 'asked_model';

/** The same columns computed from a raw call (as `spend_hourly_raw` defines them). */
const RAW_COLUMNS: Record<SpendColumn, string> = {
  hour: "toDateTime(toStartOfHour(start_time), 'UTC')",
  team: 'team',
  department: 'department',
  cost_center: 'cost_center',
  feature: 'feature',
  workflow: 'workflow',
  model: MODEL_SQL,
  // The model the app asked for: set only when the guard downgraded the call, else the model itself.
  asked_model: `if(asked_model != '', asked_model, ${MODEL_SQL})`,
  provider: 'provider',
  environment: 'environment',
  service: 'service',
  customer: 'customer',
};

export interface SpendSource {
  /** True: whole hours, read from `spend_hourly`; false: the raw calls. */
  hourly: boolean;
  /** What to read FROM. */
  relation: string;
  /** Rows in [from, to): needs the query parameters `from` and `to` (Int64, ms), see rangeParams. */
  inRange: string;
  column(name: SpendColumn): string;
  /** Aggregates, named `calls`, `unpriced_calls`, `input_tokens`, `output_tokens`, `cache_read_tokens`, `cost_usd`. */
  measures: {
    calls: string;
    unpricedCalls: string;
    inputTokens: string;
    outputTokens: string;
    /** Cached input tokens read (a part of inputTokens). */
    cacheReadTokens: string;
    costUsd: string;
  };
}

const isHourAligned = (d: Date): boolean => d.getTime() % 3_600_000 === 0;

/**
 * The source for [from, to): the hourly spend when both ends fall on the hour, else (or when the
 * read needs a column only the raw calls have: `rawOnly`) the raw calls.
 */
export function spendSource(
  database: string,
  from: Date,
  to: Date,
  opts: { rawOnly?: boolean } = {},
): SpendSource {
  const hourly = !opts.rawOnly && isHourAligned(from) && isHourAligned(to);
  const time = hourly ? 'hour' : 'start_time';
  return {
    hourly,
    relation: hourly ? `${database}.spend_hourly` : `${database}.llm_calls FINAL`,
    inRange:
      `${time} >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ` +
      `${time} < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`,
    column: (name) => (hourly ? name : RAW_COLUMNS[name]),
    measures: {
      calls: hourly ? 'sum(calls)' : 'count()',
      unpricedCalls: hourly ? 'sum(unpriced_calls)' : 'countIf(priced = 0)',
      inputTokens: 'sum(input_tokens)',
      outputTokens: 'sum(output_tokens)',
      cacheReadTokens: 'sum(cache_read_tokens)',
      costUsd: 'sum(cost_usd)',
    },
  };
}

/** The `from` and `to` query parameters `inRange` reads. */
export const rangeParams = (from: Date, to: Date): { from: string; to: string } => ({
  from: String(from.getTime()),
  to: String(to.getTime()),
});

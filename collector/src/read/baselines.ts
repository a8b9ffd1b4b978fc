/**
 * Before/after comparisons of the baselines marked in a range: the Team view's "Before and after a
 * change" panel, run with the range (and features) asked — one SQL for the API, the page and
 * Grafana.
 */
import { BASELINES_PANEL, BASELINE_WINDOW_DAYS, toParameterizedQuery } from '@tokenledger/dashboards';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { resolvePeriod } from './period';

interface BaselineComparison {
  feature: string;
  label: string;
  at: string;
  source: string;
  calls_before: string | null;
  calls_after: string | null;
  cost_per_call_before_usd: string | null;
  cost_per_call_after_usd: string | null;
  cost_per_call_change: number | null;
  tokens_per_call_before: number | null;
  tokens_per_call_after: number | null;
  outcomes_before: string | null;
  outcomes_after: string | null;
  cost_per_outcome_before_usd: string | null;
  cost_per_outcome_after_usd: string | null;
}

export interface BaselinesReport {
  period: string;
  from: string;
  to: string;
  window_days: number;
  baselines: BaselineComparison[];
}

export async function baselineComparisons(
  storage: Storage,
  input: { period?: string; from?: string; to?: string; feature?: string[] },
  now: Date = new Date(),
): Promise<BaselinesReport> {
  const range = resolvePeriod(input.period || input.from || input.to ? input : { period: 'last_30d' }, now);
  const to = new Date(Math.min(range.to.getTime(), now.getTime()));
  const { query, query_params } = toParameterizedQuery(BASELINES_PANEL.sql, {
    from: range.from,
    to,
    intervalSeconds: 3600,
    variables: { database: [storage.database], feature: input.feature ?? [], team: [], environment: [] },
  });
  let rows: BaselineComparison[];
  try {
    const rs = await storage.client.query({
      query,
      query_params,
      format: 'JSONEachRow',
      clickhouse_settings: {
        output_format_json_quote_decimals: 1,
        output_format_json_quote_64bit_integers: 1,
        date_time_output_format: 'iso',
      },
    });
    rows = await rs.json<BaselineComparison>();
  } catch (cause) {
    throw new StorageError('reading baselines', { cause });
  }
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: to.toISOString(),
    window_days: BASELINE_WINDOW_DAYS,
    baselines: rows,
  };
}

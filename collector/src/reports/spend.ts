/**
 * The spend report: exact dollars per group over a period, from the hourly rollup (or the raw
 * table when the range does not fall on hour boundaries). Group-by columns come from a fixed map,
 * values travel as query parameters; money stays Decimal end to end (strings out).
 */
import Decimal from 'decimal.js';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { resolvePeriod, type PeriodRange } from './period';

export const GROUP_BY_DIMENSIONS = [
  'team',
  'cost_center',
  'feature',
  'model',
  'provider',
  'environment',
  'service',
  'customer',
] as const;
export type Dimension = (typeof GROUP_BY_DIMENSIONS)[number];

export class ReportQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportQueryError';
  }
}

export interface SpendRow {
  [dimension: string]: string | number;
  spend_usd: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  unpriced_calls: number;
}

export interface SpendReport {
  period: string;
  from: string;
  to: string;
  total_usd: string;
  breakdown: SpendRow[];
}

export function parseGroupBy(value: string | undefined): Dimension[] {
  if (!value) return [];
  const dims = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const d of dims) {
    if (!(GROUP_BY_DIMENSIONS as readonly string[]).includes(d)) {
      throw new ReportQueryError(`unknown groupBy "${d}": use any of ${GROUP_BY_DIMENSIONS.join(', ')}`);
    }
  }
  return [...new Set(dims)] as Dimension[];
}

/** Column expression per dimension, for the rollup and for the raw table. */
const RAW_EXPRESSIONS: Record<Dimension, string> = {
  team: 'team',
  cost_center: 'cost_center',
  feature: 'feature',
  model: "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))",
  provider: 'provider',
  environment: 'environment',
  service: 'service',
  customer: 'customer',
};

const isHourAligned = (d: Date): boolean => d.getTime() % 3_600_000 === 0;
const toClickHouseTime = (d: Date): string => String(Math.floor(d.getTime() / 1000));

export async function spendReport(
  storage: Storage,
  input: { period?: string; from?: string; to?: string; groupBy?: Dimension[] },
  now: Date = new Date(),
): Promise<SpendReport> {
  const range: PeriodRange = resolvePeriod(input, now);
  const dims = input.groupBy ?? [];
  const db = storage.database;
  const fromRollup = isHourAligned(range.from) && isHourAligned(range.to);
  const select = dims.map((d) => `${fromRollup ? d : RAW_EXPRESSIONS[d]} AS ${d}`);
  const query = fromRollup
    ? `SELECT ${[...select, 'toString(sum(cost_usd)) AS spend_usd', 'sum(calls) AS calls', 'sum(input_tokens) AS input_tokens', 'sum(output_tokens) AS output_tokens', 'sum(unpriced_calls) AS unpriced_calls'].join(', ')}
       FROM ${db}.spend_hourly
       WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour < toDateTime({to:UInt32}, 'UTC')`
    : `SELECT ${[...select, 'toString(sum(cost_usd)) AS spend_usd', 'count() AS calls', 'sum(input_tokens) AS input_tokens', 'sum(output_tokens) AS output_tokens', 'countIf(priced = 0) AS unpriced_calls'].join(', ')}
       FROM ${db}.llm_calls FINAL
       WHERE start_time >= toDateTime64({from:UInt32}, 9, 'UTC') AND start_time < toDateTime64({to:UInt32}, 9, 'UTC')`;
  const grouped = dims.length > 0 ? `${query} GROUP BY ${dims.join(', ')} HAVING calls > 0` : query;
  let rows: Array<Record<string, string | number>>;
  try {
    const rs = await storage.client.query({
      query: grouped,
      query_params: { from: toClickHouseTime(range.from), to: toClickHouseTime(range.to) },
      format: 'JSONEachRow',
    });
    rows = await rs.json<Record<string, string | number>>();
  } catch (cause) {
    throw new StorageError('spend report', {
      cause,
      detail: `${range.period}, groupBy ${dims.join(',') || '-'}`,
    });
  }
  let total = new Decimal(0);
  const breakdown: SpendRow[] = [];
  for (const r of rows) {
    if (Number(r.calls) === 0) continue;
    const spend = new Decimal(String(r.spend_usd));
    total = total.plus(spend);
    const row: SpendRow = {
      spend_usd: spend.toFixed(),
      calls: Number(r.calls),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      unpriced_calls: Number(r.unpriced_calls),
    };
    for (const d of dims) row[d] = String(r[d] ?? '');
    breakdown.push(row);
  }
  breakdown.sort((a, b) => new Decimal(b.spend_usd).comparedTo(a.spend_usd) || b.calls - a.calls);
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    total_usd: total.toFixed(),
    breakdown,
  };
}

/** CSV with a header row; group keys first, then the measures. */
export function spendReportCsv(report: SpendReport, dims: Dimension[]): string {
  const header = [...dims, 'spend_usd', 'calls', 'input_tokens', 'output_tokens', 'unpriced_calls'];
  const escape = (v: string | number): string => {
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [header.join(',')];
  for (const row of report.breakdown) lines.push(header.map((h) => escape(row[h] ?? '')).join(','));
  return lines.join('\n') + '\n';
}

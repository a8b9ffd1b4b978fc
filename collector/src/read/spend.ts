/**
 * The spend report: exact dollars per group over a period, from the hourly rollup (or the raw
 * table when the range does not fall on hour boundaries). Group-by columns come from a fixed map,
 * values travel as query parameters; money stays Decimal end to end (strings out).
 */
import Decimal from 'decimal.js';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { resolvePeriod, type PeriodRange } from './period';
import { rangeParams, spendSource } from './spend-source';

export const GROUP_BY_DIMENSIONS = [
  'team',
  'cost_center',
  'feature',
  'model',
  'provider',
  'environment',
  'service',
  'customer',
  'asked_model',
] as const;
export type Dimension = (typeof GROUP_BY_DIMENSIONS)[number];

/** Dimensions the hourly rollup has no column for: a report on them reads the raw calls. */
const RAW_ONLY: ReadonlySet<Dimension> = new Set(['asked_model']);

export class ReportQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportQueryError';
  }
}

interface SpendRow {
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
  /** Only when the report was filtered: the values each dimension was limited to. */
  filters?: SpendFilters;
  breakdown: SpendRow[];
}

/** Keep only calls whose dimension equals one of the values (exact match). */
export type SpendFilters = Partial<Record<Dimension, string[]>>;

export interface SpendQuery {
  period?: string;
  from?: string;
  to?: string;
  groupBy?: Dimension[];
  filters?: SpendFilters;
}

const isDimension = (name: string): name is Dimension =>
  (GROUP_BY_DIMENSIONS as readonly string[]).includes(name);

export function parseGroupBy(value: string | undefined): Dimension[] {
  if (!value) return [];
  const dims = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const d of dims) {
    if (!isDimension(d)) {
      throw new ReportQueryError(`unknown groupBy "${d}": use any of ${GROUP_BY_DIMENSIONS.join(', ')}`);
    }
  }
  return [...new Set(dims)] as Dimension[];
}

/** `team=search` / `model=gpt-4o,gpt-4o-mini` pairs → filters; the names must be dimensions. */
export function parseFilters(pairs: Array<[name: string, value: string]>): SpendFilters {
  const filters: SpendFilters = {};
  for (const [name, value] of pairs) {
    if (!isDimension(name)) {
      throw new ReportQueryError(`unknown filter "${name}": use any of ${GROUP_BY_DIMENSIONS.join(', ')}`);
    }
    const values = value.split(',').map((v) => v.trim());
    filters[name] = [...new Set([...(filters[name] ?? []), ...values])];
  }
  return filters;
}

export async function spendReport(
  storage: Storage,
  input: SpendQuery,
  now: Date = new Date(),
): Promise<SpendReport> {
  const range: PeriodRange = resolvePeriod(input, now);
  const dims = input.groupBy ?? [];
  const filters = Object.entries(input.filters ?? {}).filter(
    (e): e is [Dimension, string[]] => isDimension(e[0]) && Array.isArray(e[1]) && e[1].length > 0,
  );
  // Whole hours from the hourly spend, anything finer from the raw calls (one choice, spend-source.ts);
  // a column the rollup does not have (the asked model) is read from the raw calls too.
  const rawOnly = [...dims, ...filters.map(([d]) => d)].some((d) => RAW_ONLY.has(d));
  const source = spendSource(storage.database, range.from, range.to, { rawOnly });
  const { measures } = source;
  const select = [
    ...dims.map((d) => `${source.column(d)} AS ${d}`),
    `toString(${measures.costUsd}) AS spend_usd`,
    `${measures.calls} AS calls`,
    `${measures.unpricedCalls} AS unpriced_calls`,
    `${measures.inputTokens} AS input_tokens`,
    `${measures.outputTokens} AS output_tokens`,
  ];
  const where = [source.inRange];
  const params: Record<string, unknown> = rangeParams(range.from, range.to);
  for (const [d, values] of filters) {
    where.push(`${source.column(d)} IN {filter_${d}:Array(String)}`);
    params[`filter_${d}`] = values;
  }
  let query = `SELECT ${select.join(', ')}
    FROM ${source.relation}
    WHERE ${where.join(' AND ')}`;
  if (dims.length > 0) query += ` GROUP BY ${dims.join(', ')} HAVING calls > 0`;

  let rows: Array<Record<string, string | number>>;
  try {
    const rs = await storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
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
    const row = {} as SpendRow;
    for (const d of dims) row[d] = String(r[d] ?? '');
    row.spend_usd = spend.toFixed();
    row.calls = Number(r.calls);
    row.input_tokens = Number(r.input_tokens);
    row.output_tokens = Number(r.output_tokens);
    row.unpriced_calls = Number(r.unpriced_calls);
    breakdown.push(row);
  }
  // Spend desc; ties by calls desc, then by the group keys, so the order is stable.
  const keyOf = (row: SpendRow): string => dims.map((d) => row[d]).join('\u0000');
  breakdown.sort(
    (a, b) =>
      new Decimal(b.spend_usd).comparedTo(a.spend_usd) ||
      b.calls - a.calls ||
      (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0),
  );
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    total_usd: total.toFixed(),
    ...(filters.length > 0 ? { filters: Object.fromEntries(filters) } : {}),
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

/** Metered spend of one provider × UTC day × model × service, for reconciling bills. */
export interface MeteredDay {
  day: string;
  provider: string;
  model: string;
  service: string;
  spend_usd: string;
  calls: number;
  /** Tokens as stored: input includes cache reads and writes (each also apart). */
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
}

/**
 * The meter's spend per UTC day × provider × model × service over whole days [from, to): the one
 * place reconciliation reads metered spend. It reads through spendSource like the spend report
 * (whole days are whole hours: the hourly spend, equal to the raw calls), so a bill is compared with
 * the same figures every other report shows.
 */
export async function meteredSpendByDay(storage: Storage, from: string, to: string): Promise<MeteredDay[]> {
  const range = { from: utcDay(from), to: utcDay(to) };
  const source = spendSource(storage.database, range.from, range.to);
  const { measures } = source;
  const query = `SELECT toString(toDate(${source.column('hour')})) AS day,
      ${source.column('provider')} AS provider, ${source.column('model')} AS model,
      ${source.column('service')} AS service,
      toString(${measures.costUsd}) AS spend_usd, ${measures.calls} AS calls,
      ${measures.inputTokens} AS input_tokens, ${measures.cacheReadTokens} AS cached_input_tokens,
      ${measures.outputTokens} AS output_tokens
    FROM ${source.relation}
    WHERE ${source.inRange}
    GROUP BY day, provider, model, service
    HAVING calls > 0
    ORDER BY day, provider, model, service`;
  try {
    const rs = await storage.client.query({
      query,
      query_params: rangeParams(range.from, range.to),
      format: 'JSONEachRow',
    });
    const rows = await rs.json<MeteredDay>();
    return rows.map((r) => ({
      ...r,
      spend_usd: new Decimal(r.spend_usd).toFixed(),
      calls: Number(r.calls),
      input_tokens: Number(r.input_tokens),
      cached_input_tokens: Number(r.cached_input_tokens),
      output_tokens: Number(r.output_tokens),
    }));
  } catch (cause) {
    throw new StorageError('metered spend by day', { cause, detail: `${from} – ${to}` });
  }
}

/** A UTC day (`YYYY-MM-DD`, or a timestamp whose day is taken) as its midnight. */
function utcDay(value: string): Date {
  const d = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a day: "${value}"`);
  return d;
}

/** Tiers a bill prices apart from the standard one, as the meter stores them (lower case). */
const PRICED_APART_TIERS = ['flex', 'priority'] as const;
type PricedApartTier = (typeof PRICED_APART_TIERS)[number];

export interface MeteredTierDay {
  day: string;
  provider: string;
  model: string;
  service: string;
  tier: PricedApartTier;
  spend_usd: string;
  calls: number;
}

/**
 * The part of meteredSpendByDay served on a Flex or Priority tier, per UTC day × provider × model ×
 * service × tier over whole days [from, to), keyed like it. Read from the raw calls (the rollups
 * have no tier): only the tier calls are read, each once (the latest version of a stored span).
 */
export async function meteredTierSpendByDay(
  storage: Storage,
  from: string,
  to: string,
): Promise<MeteredTierDay[]> {
  const range = { from: utcDay(from), to: utcDay(to) };
  const source = spendSource(storage.database, range.from, range.to, { rawOnly: true });
  const query = `SELECT toString(toDate(any(start_time))) AS day, any(provider) AS provider,
        argMax(${source.column('model')}, inserted_at) AS model, argMax(service, inserted_at) AS service,
        argMax(service_tier, inserted_at) AS tier, argMax(cost_usd, inserted_at) AS cost
      FROM ${storage.database}.llm_calls
      WHERE ${source.inRange} AND service_tier IN {tiers:Array(String)}
      GROUP BY toStartOfHour(start_time), trace_id, span_id`;
  try {
    const rs = await storage.client.query({
      query: `SELECT day, provider, model, service, tier, toString(sum(cost)) AS spend_usd, count() AS calls
        FROM (${query}) GROUP BY day, provider, model, service, tier ORDER BY day, provider, model, service, tier`,
      query_params: { ...rangeParams(range.from, range.to), tiers: [...PRICED_APART_TIERS] },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<MeteredTierDay>();
    return rows.map((r) => ({ ...r, spend_usd: new Decimal(r.spend_usd).toFixed(), calls: Number(r.calls) }));
  } catch (cause) {
    throw new StorageError('metered tier spend by day', { cause, detail: `${from} – ${to}` });
  }
}

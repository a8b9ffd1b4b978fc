/**
 * A line of a provider's bill (an invoice, a cost export, a cost API answer), as every import
 * format is read into: one provider, one UTC day, an amount in its own currency.
 */

/** What the charge is: only usage is compared with the meter; the rest is shown beside it. */
export type ChargeKind = 'usage' | 'credit' | 'tax' | 'purchase' | 'adjustment';

/**
 * How a usage line was priced, as far as the export says: lets a reconciliation tell why the meter
 * (list prices) and the bill differ — batch and cached-input rates, a free tier billed at 0.
 */
export type PricingKind = 'standard' | 'batch' | 'cached' | 'free_tier';

export interface BillLine {
  /** 1-based line (CSV) or record (JSON) number in the file, for problems and audit. */
  sourceLine: number;
  /** Canonical provider name (core/providers), as the meter names it. */
  provider: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  /** The model as the bill names it ('' when the bill does not say). */
  model: string;
  project: string;
  apiKey: string;
  account: string;
  service: string;
  sku: string;
  lineItem: string;
  charge: ChargeKind;
  pricing: PricingKind;
  /** Exact decimal text in `currency`. */
  amount: string;
  /** ISO 4217, upper case. */
  currency: string;
  /** Exact decimal text, or undefined when the export gives none. */
  quantity?: string;
  unit: string;
}

/** A row that could not be read: its line number and why; the rest of the file is kept. */
export interface BillProblem {
  line: number;
  message: string;
}

/** The days a file says it covers, per provider: [from, to) in UTC days. */
export interface BillPeriod {
  provider: string;
  from: string;
  /** Exclusive. */
  to: string;
}

/**
 * A line of a provider's token usage export (OpenAI's Usage API, Anthropic's messages usage
 * report): tokens, no money. Counted the way the meter stores them: `inputTokens` includes cached
 * reads and cache writes (each also given apart).
 */
export interface UsageLine {
  sourceLine: number;
  provider: string;
  day: string;
  /** The model as the export names it ('' when the export is not grouped by model). */
  model: string;
  project: string;
  apiKey: string;
  /** standard, batch, priority, … as the export says ('' when not grouped by it). */
  tier: string;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  /** Requests the provider counted, when the export gives them. */
  requests?: number;
}

/** Whether a file is a bill (money) or a token usage export: each supersedes only its own kind. */
export type ImportKind = 'cost' | 'usage';

export interface ParsedBill {
  format: string;
  /** 'cost' unless the file is a token usage export. */
  kind?: ImportKind;
  lines: BillLine[];
  /** Token usage lines (usage exports only). */
  usage?: UsageLine[];
  problems: BillProblem[];
  /** Rows read (data rows, or result records of a JSON answer). */
  rowsRead: number;
  /** Rows that are not AI spend (other cloud services) and were left out on purpose. */
  rowsSkipped: number;
  /** Declared coverage; providers whose period the file does not declare get their lines' span. */
  periods: BillPeriod[];
}

const DAY_MS = 86_400_000;

/** YYYY-MM-DD of a Date in UTC. */
export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);

/** The day after `day` (YYYY-MM-DD). */
export const nextDay = (day: string): string => utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS));

/** Every day in [from, to). */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = from; d < to; d = nextDay(d)) days.push(d);
  return days;
}

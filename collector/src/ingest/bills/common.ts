/** What every bill reader shares: exact amounts, UTC days, CSV rows with their line numbers. */
import { parse } from 'csv-parse/sync';
import { Money } from '../../core/money';
import { nextDay, utcDay, type BillLine, type BillPeriod, type BillProblem } from '../../core/bill';

/** A row could not be read; the reader records it with its line and goes on. */
export class RowError extends Error {}

/** Plain decimal or E notation (FOCUS NumericFormat); never a float on the way. */
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE]-?\d+)?$/;

export function decimal(value: unknown, field: string): string {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (text === '' || !DECIMAL.test(text))
    throw new RowError(`${field} must be a decimal number, got ${JSON.stringify(value ?? null)}`);
  return new Money(text).toFixed();
}

/** A decimal, or undefined when absent or empty. */
export function optionalDecimal(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === ''))
    return undefined;
  return decimal(value, field);
}

/** An ISO 8601 date or date-time (UTC unless a zone is given) or Unix seconds → Date. */
export function instant(value: unknown, field: string): Date {
  let d: Date;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{9,11}$/.test(value.trim()))) {
    d = new Date(Number(value) * 1000);
  } else if (
    typeof value === 'string' &&
    /^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(value.trim())
  ) {
    const text = value.trim().replace(' ', 'T');
    d = new Date(/T/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text);
  } else {
    throw new RowError(`${field} must be an ISO 8601 date or time, got ${JSON.stringify(value ?? null)}`);
  }
  if (Number.isNaN(d.getTime())) throw new RowError(`${field} is not a valid date: ${JSON.stringify(value)}`);
  return d;
}

/** The UTC day of an instant. */
export const dayOf = (value: unknown, field: string): string => utcDay(instant(value, field));

/** ISO 4217 code, upper case; `fallback` when the export leaves it empty. */
export function currency(value: unknown, fallback?: string): string {
  const text = typeof value === 'string' ? value.trim().toUpperCase() : '';
  if (text === '' && fallback) return fallback;
  if (!/^[A-Z]{3}$/.test(text))
    throw new RowError(`currency must be an ISO 4217 code, got ${JSON.stringify(value ?? null)}`);
  return text;
}

export const text = (value: unknown): string =>
  value === undefined || value === null ? '' : String(value).trim();

export interface CsvRow {
  line: number;
  record: Record<string, string>;
}

/**
 * CSV (or tab-separated) text with a header row → records with the line each starts on. A record
 * the parser cannot read (a broken quote, a stray character) is skipped and returned as a problem
 * with its line; the rest are kept.
 */
export function readCsv(content: string): { header: string[]; rows: CsvRow[]; broken: BillProblem[] } {
  const body = content.replace(/^\uFEFF/, '');
  const end = body.indexOf('\n');
  const firstLine = end < 0 ? body : body.slice(0, end);
  const delimiter = firstLine.split('\t').length > firstLine.split(',').length ? '\t' : ',';
  let header: string[] = [];
  const broken: BillProblem[] = [];
  const parsed = parse(body, {
    delimiter,
    columns: (names: string[]) => (header = names.map((h) => h.trim())),
    info: true,
    skip_empty_lines: true,
    // A '#' line before the data (a fixture's source note) is a comment; a '#' inside a field is not.
    comment: '#',
    comment_no_infix: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) broken.push({ line: err.lines ?? 0, message: `unreadable CSV record: ${err.message}` });
    },
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  return { header, rows: parsed.map((p) => ({ line: p.info.lines, record: p.record })), broken };
}

/** Per provider, the span of days its lines fall in (for files that declare no period). */
export function spanOf(lines: Array<Pick<BillLine, 'provider' | 'day'>>): BillPeriod[] {
  const spans = new Map<string, { from: string; to: string }>();
  for (const l of lines) {
    const s = spans.get(l.provider);
    const to = nextDay(l.day);
    if (!s) spans.set(l.provider, { from: l.day, to });
    else {
      if (l.day < s.from) s.from = l.day;
      if (to > s.to) s.to = to;
    }
  }
  return [...spans].map(([provider, s]) => ({ provider, ...s }));
}

/** A line with the fields a reader leaves empty filled in. */
export function billLine(
  fields: Partial<BillLine> & Pick<BillLine, 'sourceLine' | 'provider' | 'day' | 'amount' | 'currency'>,
): BillLine {
  return {
    model: '',
    project: '',
    apiKey: '',
    account: '',
    service: '',
    sku: '',
    lineItem: '',
    charge: 'usage',
    pricing: 'standard',
    unit: '',
    ...fields,
  };
}

/**
 * JSON.parse with every number kept as its exact decimal text: a cost API's `0.1` must not
 * become a float on the way in. Numbers outside strings are quoted before parsing.
 */
export function parseJsonExact(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
      const token = m ? m[0] : ch;
      out += m ? `"${token}"` : token;
      i += token.length;
    } else {
      out += ch;
      i++;
    }
  }
  return JSON.parse(out) as unknown;
}

/** Pages of a saved answer, whichever way they were saved. */
export function jsonPages(content: string): unknown[] {
  const trimmed = content.trim();
  try {
    const whole = parseJsonExact(trimmed);
    return Array.isArray(whole) ? whole : [whole];
  } catch {
    // JSON Lines: one page per line.
    return trimmed
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        try {
          return parseJsonExact(l);
        } catch {
          throw new RowError(`line ${i + 1} is not JSON`);
        }
      });
  }
}

/** `period` widened to cover [from, to) (a new one for `provider` when there is none yet). */
export function widen(
  period: BillPeriod | undefined,
  provider: string,
  from: string,
  to: string,
): BillPeriod {
  if (!period) return { provider, from, to };
  return { provider, from: from < period.from ? from : period.from, to: to > period.to ? to : period.to };
}

/** The covered days of one provider as a period (first day to the day after the last). */
export function periodOfDays(provider: string, days: Set<string>): BillPeriod[] {
  if (days.size === 0) return [];
  const sorted = [...days].sort();
  return [{ provider, from: sorted[0]!, to: nextDay(sorted[sorted.length - 1]!) }];
}

/**
 * Every result of a cost API's daily buckets (OpenAI's start_time / end_time, Anthropic's
 * starting_at / ending_at), numbered in file order, with its bucket's UTC day. A result `visit`
 * cannot read (RowError), and every result of a bucket whose time cannot be read, is a problem.
 */
export function forEachBucketResult(
  pages: unknown[],
  bounds: { start: string; end: string },
  visit: (result: Record<string, unknown>, day: string, record: number) => void,
): { records: number; problems: BillProblem[]; covered: Set<string> } {
  const problems: BillProblem[] = [];
  const covered = new Set<string>();
  let record = 0;
  for (const page of pages) {
    for (const bucket of ((page as { data?: unknown[] })?.data ?? []) as Array<Record<string, unknown>>) {
      const results = (Array.isArray(bucket.results) ? bucket.results : []) as Array<Record<string, unknown>>;
      let day: string;
      try {
        day = utcDay(instant(bucket[bounds.start], bounds.start));
        const end = bucket[bounds.end] ? utcDay(instant(bucket[bounds.end], bounds.end)) : nextDay(day);
        for (let d = day; d < (end > day ? end : nextDay(day)); d = nextDay(d)) covered.add(d);
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        record += Math.max(results.length, 1);
        problems.push({ line: record, message: `bucket: ${err.message}` });
        continue;
      }
      for (const result of results) {
        record++;
        try {
          visit(result, day, record);
        } catch (err) {
          if (!(err instanceof RowError)) throw err;
          problems.push({ line: record, message: err.message });
        }
      }
    }
  }
  return { records: record, problems, covered };
}

/** A token count: a whole number ≥ 0; absent or null is 0 (a field the grouping leaves out). */
export function tokenCount(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const t = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t)))
    throw new RowError(`${field} must be a whole number of tokens, got ${JSON.stringify(value)}`);
  return Number(t);
}

/**
 * Whether a saved cost or usage API page (`data` of buckets with `results`) has a bucket whose
 * results pass `test` (and whose `start` field is a string, when named).
 */
export function pageHasResults(
  page: unknown,
  test: (results: Array<Record<string, unknown>>) => boolean,
  start?: string,
): boolean {
  const data = (page as { data?: unknown })?.data;
  return (
    Array.isArray(data) &&
    (data as Array<Record<string, unknown> | null>).some(
      (b) =>
        !!b &&
        (start === undefined || typeof b[start] === 'string') &&
        Array.isArray(b.results) &&
        test(b.results as Array<Record<string, unknown>>),
    )
  );
}

/**
 * Bringing a bill in: read the file, convert its amounts to USD with known rates (the import's
 * own, else the policy file's; never looked up on the network), store it. An identical file is a
 * no-op that answers with the earlier import; a file covering provider × days already imported
 * supersedes those days (the earlier import is kept, for audit).
 */
import { createHash, randomBytes } from 'node:crypto';
import { daysBetween, type BillPeriod, type BillProblem, type ParsedBill } from '../../core/bill';
import { Money } from '../../core/money';
import { readBill, readBillTable, type ReadBillOptions } from '../../ingest/bills/read';
import { isParquet, parquetRows } from '../../storage/parquet';
import { spanOf } from '../../ingest/bills/common';
import { BillStore, clickhouseTime, type BillImportRecord, type StoredBillLine } from '../../storage/bills';
import type { Storage } from '../../storage/client';

/** Problems kept in the import record and the answer; the count is always exact. */
const MAX_PROBLEMS_SHOWN = 100;

export interface BillImportRequest extends ReadBillOptions {
  bytes: Buffer;
  fileName: string;
  importedBy: string;
  /** Currency → USD per unit, from the request (wins over the policy's). */
  rates?: Record<string, string>;
  /** The policy file's rates. */
  policyRates?: Record<string, string>;
  /** The covered period, when the caller states it (wins over the file's own). */
  from?: string;
  to?: string;
}

export interface BillImportResult {
  import_id: string;
  duplicate: boolean;
  format: string;
  file_name: string;
  providers: string[];
  period_from: string;
  period_to: string;
  rows_read: number;
  lines_kept: number;
  rows_skipped: number;
  problem_count: number;
  problems: BillProblem[];
  /** Earlier imports whose lines for these provider × days this import replaces. */
  replaces: string[];
  /** Lines kept without a USD amount: no rate for their currency. */
  unconverted_lines: number;
  rates: Record<string, string>;
}

export class BillImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BillImportError';
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class BillImporter {
  private readonly store: BillStore;
  /** One import at a time: the duplicate check and the write must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly storage: Storage) {
    this.store = new BillStore(storage);
  }

  import(req: BillImportRequest): Promise<BillImportResult> {
    const run = this.queue.then(() => this.importNow(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async importNow(req: BillImportRequest): Promise<BillImportResult> {
    const sha256 = createHash('sha256').update(req.bytes).digest('hex');
    const earlier = await this.store.importBySha(sha256);
    if (earlier) return { ...resultOf(earlier, []), duplicate: true };

    const parsed = isParquet(req.bytes)
      ? readBillTable(await parquetRows(this.storage, req.bytes), req)
      : readBill(req.bytes, req);
    const kind = parsed.kind ?? 'cost';
    const usage = parsed.usage ?? [];
    const periods = coveredPeriods(parsed, req);
    if (parsed.lines.length === 0 && usage.length === 0 && periods.length === 0)
      throw new BillImportError(
        `no bill lines in ${req.fileName}: ${parsed.problems.length} rows with problems, ${parsed.rowsSkipped} rows of other services` +
          (parsed.problems[0] ? ` (line ${parsed.problems[0].line}: ${parsed.problems[0].message})` : ''),
      );
    const rates = ratesFor(req);
    const lines: StoredBillLine[] = parsed.lines.map((l) => {
      const rate = rates[l.currency];
      return {
        ...l,
        importId: '',
        ...(rate ? { rateToUsd: rate, amountUsd: new Money(l.amount).times(rate).toFixed() } : {}),
      };
    });
    const coverage = periods.flatMap((p) =>
      daysBetween(p.from, p.to).map((day) => ({ provider: p.provider, day })),
    );
    const replaces = await this.store.currentImportsCovering(coverage, kind);
    const now = new Date();
    const importId = `bill_${now.getTime().toString(36)}_${randomBytes(4).toString('hex')}`;
    const record: BillImportRecord = {
      import_id: importId,
      sha256,
      file_name: req.fileName,
      format: parsed.format,
      imported_at: clickhouseTime(now),
      imported_by: req.importedBy,
      providers: [...new Set(periods.map((p) => p.provider))].sort(),
      period_from: periods.reduce((m, p) => (p.from < m ? p.from : m), periods[0]?.from ?? ''),
      period_to: periods.reduce((m, p) => (p.to > m ? p.to : m), periods[0]?.to ?? ''),
      rows_read: parsed.rowsRead,
      lines_kept: lines.length + usage.length,
      rows_skipped: parsed.rowsSkipped,
      problems: JSON.stringify({
        count: parsed.problems.length,
        first: parsed.problems.slice(0, MAX_PROBLEMS_SHOWN),
      }),
      rates: JSON.stringify(usedRates(lines)),
    };
    await this.store.save(record, lines, coverage, usage, kind);
    return {
      ...resultOf(record, replaces),
      unconverted_lines: lines.filter((l) => l.amountUsd === undefined).length,
    };
  }
}

/** The days the import covers per provider: the caller's range, the file's declared period, or its lines' span. */
function coveredPeriods(parsed: ParsedBill, req: BillImportRequest): BillPeriod[] {
  const declared = new Map(parsed.periods.map((p) => [p.provider, p]));
  const dated = [...parsed.lines, ...(parsed.usage ?? [])];
  for (const span of spanOf(dated)) if (!declared.has(span.provider)) declared.set(span.provider, span);
  if (req.from === undefined && req.to === undefined) return [...declared.values()];
  if (!req.from || !req.to || !DAY.test(req.from) || !DAY.test(req.to) || req.to <= req.from)
    throw new BillImportError(
      'from and to must be given together as YYYY-MM-DD days, to exclusive and after from',
    );
  const outside = dated.find((l) => l.day < req.from! || l.day >= req.to!);
  if (outside)
    throw new BillImportError(
      `line ${outside.sourceLine} is dated ${outside.day}, outside the stated period ${req.from} – ${req.to}`,
    );
  return [...declared.keys()].map((provider) => ({ provider, from: req.from!, to: req.to! }));
}

function ratesFor(req: BillImportRequest): Record<string, string> {
  const rates: Record<string, string> = { USD: '1' };
  for (const source of [req.policyRates ?? {}, req.rates ?? {}]) {
    for (const [code, rate] of Object.entries(source)) {
      const c = code.trim().toUpperCase();
      if (!/^[A-Z]{3}$/.test(c))
        throw new BillImportError(`rate for "${code}": currency must be an ISO 4217 code`);
      let r: Money;
      try {
        r = new Money(String(rate));
      } catch {
        throw new BillImportError(`rate for ${c} must be a decimal number (USD per ${c}), got "${rate}"`);
      }
      if (!r.isFinite() || r.lte(0))
        throw new BillImportError(`rate for ${c} must be above 0 (USD per ${c})`);
      rates[c] = r.toFixed();
    }
  }
  return rates;
}

function usedRates(lines: StoredBillLine[]): Record<string, string> {
  const used: Record<string, string> = {};
  for (const l of lines) if (l.rateToUsd) used[l.currency] = l.rateToUsd;
  return used;
}

function resultOf(r: BillImportRecord, replaces: string[]): BillImportResult {
  const problems = JSON.parse(r.problems || '{"count":0,"first":[]}') as {
    count: number;
    first: BillProblem[];
  };
  return {
    import_id: r.import_id,
    duplicate: false,
    format: r.format,
    file_name: r.file_name,
    providers: r.providers,
    period_from: r.period_from,
    period_to: r.period_to,
    rows_read: r.rows_read,
    lines_kept: r.lines_kept,
    rows_skipped: r.rows_skipped,
    problem_count: problems.count,
    problems: problems.first,
    replaces,
    unconverted_lines: 0,
    rates: JSON.parse(r.rates || '{}') as Record<string, string>,
  };
}

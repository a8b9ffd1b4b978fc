/**
 * Bringing a card or expense-tool export in, as bills are: an identical file is a no-op, a file of
 * the same source covering days already imported supersedes them (the earlier import is kept),
 * amounts keep their currency and are converted to USD only with a known rate.
 */
import { createHash, randomBytes } from 'node:crypto';
import { daysBetween, type BillProblem } from '../../core/bill';
import { Money } from '../../core/money';
import { readExpenses, type ColumnMap } from '../../ingest/expenses/read';
import { clickhouseTime } from '../../storage/bills';
import type { Storage } from '../../storage/client';
import { ExpenseStore, type ExpenseImportRecord, type StoredExpenseLine } from '../../storage/expenses';
import { BillImportError } from '../bills/import';

export interface ExpenseImportRequest {
  bytes: Buffer;
  fileName: string;
  importedBy: string;
  /** Which card or tool this export is from; imports of one source supersede each other per day. */
  source?: string;
  preset?: string;
  map?: ColumnMap;
  /** Currency of rows whose export has no currency column (default USD). */
  currency?: string;
  /** Currency → USD per unit: the request's, over the policy's. */
  rates: Record<string, string>;
}

export interface ExpenseImportResult {
  import_id: string;
  duplicate: boolean;
  source: string;
  preset: string;
  period_from: string;
  period_to: string;
  rows_read: number;
  lines_kept: number;
  ai_lines: number;
  problem_count: number;
  problems: BillProblem[];
  unconverted_lines: number;
}

export class ExpenseImporter {
  private readonly store: ExpenseStore;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(storage: Storage) {
    this.store = new ExpenseStore(storage);
  }

  import(req: ExpenseImportRequest): Promise<ExpenseImportResult> {
    const run = this.queue.then(() => this.importNow(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async importNow(req: ExpenseImportRequest): Promise<ExpenseImportResult> {
    const sha256 = createHash('sha256').update(req.bytes).digest('hex');
    const earlier = await this.store.importBySha(sha256);
    if (earlier) return { ...resultOf(earlier), duplicate: true };
    const parsed = readExpenses(req.bytes, {
      preset: req.preset,
      map: req.map,
      defaultCurrency: req.currency,
    });
    if (parsed.lines.length === 0)
      throw new BillImportError(
        `no expense lines in ${req.fileName}` +
          (parsed.problems[0] ? ` (line ${parsed.problems[0].line}: ${parsed.problems[0].message})` : ''),
      );
    const lines: StoredExpenseLine[] = parsed.lines.map((l) => {
      const rate = l.currency === 'USD' ? '1' : req.rates[l.currency];
      return rate ? { ...l, rateToUsd: rate, amountUsd: new Money(l.amount).times(rate).toFixed() } : l;
    });
    const now = new Date();
    const record: ExpenseImportRecord = {
      import_id: `exp_${now.getTime().toString(36)}_${randomBytes(4).toString('hex')}`,
      sha256,
      source: req.source?.trim() || parsed.preset,
      file_name: req.fileName,
      preset: parsed.preset,
      imported_at: clickhouseTime(now),
      imported_by: req.importedBy,
      period_from: parsed.from,
      period_to: parsed.to,
      rows_read: parsed.rowsRead,
      lines_kept: lines.length,
      ai_lines: lines.filter((l) => l.vendor !== '').length,
      problems: JSON.stringify({ count: parsed.problems.length, first: parsed.problems.slice(0, 100) }),
    };
    await this.store.save(record, lines, daysBetween(parsed.from, parsed.to));
    return { ...resultOf(record), unconverted_lines: lines.filter((l) => l.amountUsd === undefined).length };
  }
}

function resultOf(r: ExpenseImportRecord): ExpenseImportResult {
  const problems = JSON.parse(r.problems || '{"count":0,"first":[]}') as {
    count: number;
    first: BillProblem[];
  };
  return {
    import_id: r.import_id,
    duplicate: false,
    source: r.source,
    preset: r.preset,
    period_from: r.period_from,
    period_to: r.period_to,
    rows_read: Number(r.rows_read),
    lines_kept: Number(r.lines_kept),
    ai_lines: Number(r.ai_lines),
    problem_count: problems.count,
    problems: problems.first,
    unconverted_lines: 0,
  };
}

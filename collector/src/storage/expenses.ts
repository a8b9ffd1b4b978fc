/** Expense imports in ClickHouse: kept whole (audit), the latest import of a source current per day. */
import type { ExpenseLine } from '../ingest/expenses/read';
import type { Storage } from './client';
import { StorageError } from './errors';
import { insertRows } from './statements';

export interface ExpenseImportRecord {
  import_id: string;
  sha256: string;
  source: string;
  file_name: string;
  preset: string;
  imported_at: string;
  imported_by: string;
  period_from: string;
  period_to: string;
  rows_read: number;
  lines_kept: number;
  ai_lines: number;
  problems: string;
}

export interface StoredExpenseLine extends ExpenseLine {
  rateToUsd?: string;
  amountUsd?: string;
}

/** The current expense lines (latest import of each source per day), as SQL over the tables. */
export const currentExpenseLines = (db: string): string => `(
  SELECT * FROM ${db}.expense_lines
  WHERE (source, day, import_id) IN (
    SELECT source, day, argMax(import_id, imported_at) FROM ${db}.expense_coverage
    WHERE import_id IN (SELECT import_id FROM ${db}.expense_imports)
    GROUP BY source, day))`;

export class ExpenseStore {
  constructor(private readonly storage: Storage) {}

  async importBySha(sha256: string): Promise<ExpenseImportRecord | undefined> {
    try {
      const rs = await this.storage.client.query({
        query: `SELECT * FROM ${this.storage.database}.expense_imports WHERE sha256 = {sha:String} ORDER BY imported_at LIMIT 1`,
        query_params: { sha: sha256 },
        format: 'JSONEachRow',
      });
      return (await rs.json<ExpenseImportRecord>())[0];
    } catch (cause) {
      throw new StorageError('looking up an expense import', { cause });
    }
  }

  /** Lines, then coverage, then the import record: a crash midway leaves nothing current. */
  async save(record: ExpenseImportRecord, lines: StoredExpenseLine[], days: string[]): Promise<void> {
    const insert = async (table: string, values: unknown[]): Promise<void> => {
      if (values.length > 0) await insertRows(this.storage, `writing ${table}`, table, values);
    };
    await insert(
      'expense_lines',
      lines.map((l) => ({
        import_id: record.import_id,
        source: record.source,
        source_line: l.sourceLine,
        day: l.day,
        merchant: l.merchant,
        vendor: l.vendor,
        product: l.product,
        amount: l.amount,
        currency: l.currency,
        rate_to_usd: l.rateToUsd ?? null,
        amount_usd: l.amountUsd ?? null,
        employee: l.employee,
        department: l.department,
      })),
    );
    await insert(
      'expense_coverage',
      days.map((day) => ({
        source: record.source,
        day,
        import_id: record.import_id,
        imported_at: record.imported_at,
      })),
    );
    await insert('expense_imports', [record]);
  }
}

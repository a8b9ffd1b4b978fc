/**
 * Parquet bills read by the ClickHouse engine the collector already runs (no Parquet library in
 * JavaScript): the upload is written to a private temporary file and read with the `file` table
 * function, schema inferred. Only the embedded engine can see the collector's files; a ClickHouse
 * server cannot, so there Parquet is refused with what to do instead.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Storage } from './client';
import { StorageError } from './errors';

export class ParquetUnavailableError extends Error {
  constructor() {
    super(
      'Parquet bills are read through the embedded ClickHouse engine; with CLICKHOUSE_URL, export the bill as CSV (or gzip-free CSV from the same export) and import that',
    );
    this.name = 'ParquetUnavailableError';
  }
}

export const isParquet = (bytes: Buffer): boolean =>
  bytes.length > 8 && bytes.subarray(0, 4).toString('latin1') === 'PAR1';

/** Every row of a Parquet file as text values (numbers as their shortest exact text). */
export async function parquetRows(
  storage: Storage,
  bytes: Buffer,
): Promise<{ header: string[]; rows: Array<{ line: number; record: Record<string, string> }> }> {
  if (!storage.embedded) throw new ParquetUnavailableError();
  const dir = await mkdtemp(path.join(tmpdir(), 'tl-bill-'));
  const file = path.join(dir, 'bill.parquet');
  try {
    await writeFile(file, bytes, { mode: 0o600 });
    // The path is ours (mkdtemp), never request input; ClickHouse takes it as a string literal.
    const rs = await storage.client.query({
      query: `SELECT * FROM file('${file.replaceAll("'", "\\'")}', Parquet)`,
      format: 'JSONEachRow',
      clickhouse_settings: {
        output_format_json_quote_decimals: 1,
        output_format_json_quote_64bit_integers: 1,
        date_time_output_format: 'iso',
      },
    });
    const rows = await rs.json<Record<string, unknown>>();
    const header = Object.keys(rows[0] ?? {});
    return {
      header,
      rows: rows.map((r, i) => ({
        line: i + 1,
        record: Object.fromEntries(
          Object.entries(r).map(([k, v]) => [
            k,
            v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v),
          ]),
        ),
      })),
    };
  } catch (cause) {
    throw new StorageError('reading a Parquet bill', { cause });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

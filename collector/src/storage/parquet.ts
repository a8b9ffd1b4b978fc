/**
 * Parquet bills read by the ClickHouse engine the collector already runs, so values come out as
 * the engine reads them (decimals exact). Embedded: the upload is written to a private temporary
 * file and read with the `file` table function, schema inferred. A ClickHouse server cannot see the
 * collector's files: there the file is sent as an INSERT in `FORMAT Parquet` into a staging table
 * whose columns come from the file's own schema (its footer, read with hyparquet), read back and
 * dropped (decision 0077).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Storage } from './client';
import { StorageError } from './errors';

/** A Parquet file whose schema cannot be staged (no flat column the engine can take). */
export class ParquetSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParquetSchemaError';
  }
}

/** Values as the engine writes them: decimals and 64-bit integers as text, times in ISO 8601. */
const TEXT_OUTPUT = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 1,
  date_time_output_format: 'iso',
} as const;

export const isParquet = (bytes: Buffer): boolean =>
  bytes.length > 8 && bytes.subarray(0, 4).toString('latin1') === 'PAR1';

/** Every row of a Parquet file as text values (numbers as their shortest exact text). */
export async function parquetRows(
  storage: Storage,
  bytes: Buffer,
): Promise<{ header: string[]; rows: Array<{ line: number; record: Record<string, string> }> }> {
  if (!storage.embedded) return parquetRowsOnServer(storage, bytes);
  const dir = await mkdtemp(path.join(tmpdir(), 'tl-bill-'));
  const file = path.join(dir, 'bill.parquet');
  try {
    await writeFile(file, bytes, { mode: 0o600 });
    // The path is ours (mkdtemp), never request input; ClickHouse takes it as a string literal.
    const rs = await storage.client.query({
      query: `SELECT * FROM file('${file.replaceAll("'", "\\'")}', Parquet)`,
      format: 'JSONEachRow',
      clickhouse_settings: TEXT_OUTPUT,
    });
    return asTable(await rs.json<Record<string, unknown>>());
  } catch (cause) {
    throw new StorageError('reading a Parquet bill', { cause });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Table = { header: string[]; rows: Array<{ line: number; record: Record<string, string> }> };

function asTable(rows: Array<Record<string, unknown>>): Table {
  return {
    header: Object.keys(rows[0] ?? {}),
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
}

async function parquetRowsOnServer(storage: Storage, bytes: Buffer): Promise<Table> {
  const { parquetMetadata } = await import('hyparquet');
  let columns: Array<{ name: string; type: string }>;
  try {
    columns = stagingColumns(parquetMetadata(new Uint8Array(bytes)).schema);
  } catch (err) {
    if (err instanceof ParquetSchemaError) throw err;
    throw new ParquetSchemaError(`not a readable Parquet file: ${(err as Error).message}`);
  }
  const table = `${storage.database}.bill_parquet_${randomBytes(6).toString('hex')}`;
  // Column names come from the file; DDL takes no Identifier parameters, so each is quoted as a
  // ClickHouse identifier (backslash and backtick escaped): text, never SQL.
  const definition = columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ');
  try {
    await storage.client.command({
      query: `CREATE TABLE ${table} (${definition}) ENGINE = Memory`,
    });
    await storage.client.insert({
      table,
      values: Readable.from([bytes], { objectMode: false }),
      format: 'Parquet',
    });
    const rs = await storage.client.query({
      query: `SELECT * FROM ${table}`,
      format: 'JSONEachRow',
      clickhouse_settings: TEXT_OUTPUT,
    });
    return asTable(await rs.json<Record<string, unknown>>());
  } catch (cause) {
    throw new StorageError('reading a Parquet bill through the ClickHouse server', { cause });
  } finally {
    await storage.client.command({ query: `DROP TABLE IF EXISTS ${table}` }).catch(() => undefined);
  }
}

const quoteIdentifier = (name: string): string =>
  `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;

interface SchemaElement {
  name: string;
  type?: string;
  num_children?: number;
  repetition_type?: string;
  converted_type?: string;
  logical_type?: { type: string; unit?: string; bitWidth?: number; isSigned?: boolean };
  precision?: number;
  scale?: number;
}

/**
 * The file's top-level columns as ClickHouse types the Parquet input maps onto. Nested columns
 * (maps, lists, structs) are left out: no bill format reads them.
 */
function stagingColumns(schema: SchemaElement[]): Array<{ name: string; type: string }> {
  const columns: Array<{ name: string; type: string }> = [];
  const skip = (i: number): number => {
    let next = i + 1;
    for (let k = 0; k < (schema[i]?.num_children ?? 0); k++) next = skip(next);
    return next;
  };
  for (let i = 1; i < schema.length; i = skip(i)) {
    const e = schema[i]!;
    if ((e.num_children ?? 0) > 0 || e.repetition_type === 'REPEATED') continue;
    const type = clickhouseType(e);
    if (type)
      columns.push({ name: e.name, type: e.repetition_type === 'REQUIRED' ? type : `Nullable(${type})` });
  }
  if (columns.length === 0) throw new ParquetSchemaError('the Parquet file has no flat column to read');
  return columns;
}

function clickhouseType(e: SchemaElement): string | undefined {
  const logical = e.logical_type?.type;
  if (logical === 'DECIMAL' || e.converted_type === 'DECIMAL') {
    const precision = e.precision ?? 38;
    return `Decimal(${Math.min(Math.max(precision, 1), 76)}, ${e.scale ?? 0})`;
  }
  if (logical === 'DATE' || e.converted_type === 'DATE') return 'Date32';
  const unit =
    logical === 'TIMESTAMP'
      ? e.logical_type?.unit
      : e.converted_type === 'TIMESTAMP_MILLIS'
        ? 'MILLIS'
        : e.converted_type === 'TIMESTAMP_MICROS'
          ? 'MICROS'
          : undefined;
  if (unit) return `DateTime64(${unit === 'MILLIS' ? 3 : unit === 'MICROS' ? 6 : 9}, 'UTC')`;
  switch (e.type) {
    case 'BOOLEAN':
      return 'Bool';
    case 'INT32':
      return /^UINT/.test(e.converted_type ?? '') || e.logical_type?.isSigned === false ? 'UInt32' : 'Int32';
    case 'INT64':
      return /^UINT/.test(e.converted_type ?? '') || e.logical_type?.isSigned === false ? 'UInt64' : 'Int64';
    case 'INT96':
      return "DateTime64(9, 'UTC')";
    case 'FLOAT':
      return 'Float32';
    case 'DOUBLE':
      return 'Float64';
    case 'BYTE_ARRAY':
    case 'FIXED_LEN_BYTE_ARRAY':
      return 'String';
    default:
      return undefined;
  }
}

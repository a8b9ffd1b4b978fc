/** One statement or query, its failure a StorageError saying what was being done. */
import type { Storage } from './client';
import { StorageError } from './errors';

export async function runStatement(
  storage: Storage,
  what: string,
  query: string,
  params: Record<string, unknown> = {},
): Promise<void> {
  try {
    await storage.client.command({ query, query_params: params });
  } catch (cause) {
    throw new StorageError(what, { cause });
  }
}

export async function queryRows<T>(
  storage: Storage,
  what: string,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  try {
    const rs = await storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return await rs.json<T>();
  } catch (cause) {
    throw new StorageError(what, { cause });
  }
}

/** Inserts `values` (JSON rows) into `table` of the store's database. */
export async function insertRows(
  storage: Storage,
  what: string,
  table: string,
  values: unknown[],
): Promise<void> {
  try {
    await storage.client.insert({ table: `${storage.database}.${table}`, values, format: 'JSONEachRow' });
  } catch (cause) {
    throw new StorageError(what, { cause });
  }
}

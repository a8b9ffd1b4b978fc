/**
 * Fills `model_prices` (migration 0008) at collector start, so dashboards can price a workload on
 * other models with SQL. Never stops the collector: a failure is logged and the table keeps its
 * previous sync.
 */
import type { Storage } from '../client';
import { catalogPrices } from './prices';

export async function syncModelPrices(
  storage: Storage,
  log: (line: string) => void,
  at = new Date(),
): Promise<number> {
  try {
    const rows = catalogPrices(at);
    const synced_at = at.toISOString().replace('T', ' ').replace('Z', '');
    await storage.client.insert({
      table: `${storage.database}.model_prices`,
      values: rows.map((r) => ({ ...r, synced_at })),
      format: 'JSONEachRow',
    });
    return rows.length;
  } catch (err) {
    log(
      `tokenledger: model price sync failed (savings panels use the previous prices): ${(err as Error).message}`,
    );
    return 0;
  }
}

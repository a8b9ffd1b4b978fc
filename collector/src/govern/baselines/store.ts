/**
 * Before/after baselines (`baselines`, migration 0023): a change to a feature at a moment, marked by
 * hand or found in the spans. The id is derived from what was marked, so a retried mark (or the
 * same service.version found twice) is stored once.
 */
import { createHash } from 'node:crypto';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';

type BaselineSource = 'manual' | 'service.version';

export interface Baseline {
  id: string;
  feature: string;
  at: Date;
  label: string;
  source: BaselineSource;
  createdBy: string;
}

/** ClickHouse DateTime64(3) text in UTC. */
const chTime = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

export function baselineId(feature: string, at: Date, label: string): string {
  return createHash('sha256')
    .update(`${feature}\u0000${at.getTime()}\u0000${label}`)
    .digest('hex')
    .slice(0, 32);
}

export class BaselineStore {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async add(baselines: Array<Omit<Baseline, 'id'> & { id?: string }>): Promise<Baseline[]> {
    const rows = baselines.map((b) => ({ ...b, id: b.id ?? baselineId(b.feature, b.at, b.label) }));
    if (rows.length === 0) return [];
    const { client, database } = this.storage;
    try {
      await client.insert({
        table: `${database}.baselines`,
        values: rows.map((b) => ({
          id: b.id,
          feature: b.feature,
          at: chTime(b.at),
          label: b.label,
          source: b.source,
          created_by: b.createdBy,
          created_at: chTime(this.now()),
        })),
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError('writing baselines', { cause, detail: `${database}.baselines` });
    }
    return rows;
  }

  /** Ids already stored (the detector's memory across restarts). */
  async ids(): Promise<Set<string>> {
    const { client, database } = this.storage;
    try {
      const rs = await client.query({
        query: `SELECT DISTINCT id FROM ${database}.baselines`,
        format: 'JSONEachRow',
      });
      return new Set((await rs.json<{ id: string }>()).map((r) => r.id));
    } catch (cause) {
      throw new StorageError('reading baselines', { cause, detail: `${database}.baselines` });
    }
  }
}

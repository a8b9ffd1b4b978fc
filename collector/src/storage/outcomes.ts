/**
 * Stores business outcomes (POST /v1/outcomes) once per client id (decision 0125): in
 * `outcomes_by_time`, ordered by hour and feature (what the boards read), then in `outcomes`, ordered
 * by id (the record by id that earlier dashboards read). An id reported again replaces its row; when
 * the report moves it to another hour or feature, the same insert carries a tombstone over every row
 * of the id it replaces, so a read with FINAL counts the id once.
 */
import type { Storage } from './client';
import { StorageError } from './errors';
import { queryRows } from './statements';

/** One outcome as stored; `time` is ClickHouse DateTime64(3) text in UTC. */
export interface OutcomeRow {
  id: string;
  time: string;
  feature: string;
  outcome: string;
  count: number;
  value_usd: string;
  team: string;
  cost_center: string;
  customer: string;
  environment: string;
  service: string;
  ingest_key: string;
  claimed_attribution: string;
}

/** A stored row of an id: its key (hour, feature) and the build that wrote it. */
interface StoredRow {
  id: string;
  time: string;
  feature: string;
  hour: number;
  version: string;
  deleted: number;
}

const HOUR_MS = 3_600_000;

/** The hour (seconds) of a DateTime64(3) text in UTC, as the table's key computes it. */
const hourOf = (time: string): number =>
  (Math.floor(Date.parse(`${time.replace(' ', 'T')}Z`) / HOUR_MS) * HOUR_MS) / 1000;

const keyOf = (id: string, hour: number, feature: string): string => JSON.stringify([id, hour, feature]);

/**
 * The rows each id has now, by key: per key the newest version, kept unless it is a tombstone.
 * Several when another collector raced this one, or a write stopped between two inserts.
 */
function liveRows(stored: StoredRow[]): Map<string, StoredRow[]> {
  const newest = new Map<string, StoredRow>();
  for (const row of stored) {
    const key = keyOf(row.id, row.hour, row.feature);
    const seen = newest.get(key);
    if (!seen || BigInt(row.version) > BigInt(seen.version)) newest.set(key, row);
  }
  const byId = new Map<string, StoredRow[]>();
  for (const row of newest.values()) {
    if (row.deleted) continue;
    const rows = byId.get(row.id) ?? [];
    rows.push(row);
    byId.set(row.id, rows);
  }
  return byId;
}

export class OutcomeStore {
  /** Writes run one at a time: two reports of one id at once would each keep their own row. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly storage: Storage) {}

  /** Stores `rows` (a later row of an id in the batch wins); resolves once both tables have them. */
  store(rows: OutcomeRow[]): Promise<void> {
    const run = this.tail.then(() => this.write(rows));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(batch: OutcomeRow[]): Promise<void> {
    const { storage } = this;
    const rows = [...new Map(batch.map((r) => [r.id, r])).values()];
    if (rows.length === 0) return;
    const stored = await queryRows<StoredRow>(
      storage,
      'reading the stored rows of the outcomes reported',
      `SELECT id, toString(o.time) AS time, feature, toUInt32(toStartOfHour(o.time)) AS hour,
              toString(version) AS version, deleted
       FROM ${storage.database}.outcomes_by_time AS o WHERE id IN {ids:Array(String)}`,
      { ids: rows.map((r) => r.id) },
    );
    const live = liveRows(stored.map((r) => ({ ...r, hour: Number(r.hour), deleted: Number(r.deleted) })));
    const tombstones = rows.flatMap((row) => {
      const key = keyOf(row.id, hourOf(row.time), row.feature);
      return (live.get(row.id) ?? [])
        .filter((old) => keyOf(old.id, old.hour, old.feature) !== key)
        .map((old) => ({ id: old.id, time: old.time, feature: old.feature, deleted: 1 }));
    });
    // One insert (one part): readers see the moved row and its tombstones together, or neither.
    await this.insert('outcomes_by_time', [...tombstones, ...rows]);
    await this.insert('outcomes', rows);
  }

  private async insert(table: string, values: object[]): Promise<void> {
    try {
      await this.storage.client.insert({
        table: `${this.storage.database}.${table}`,
        values,
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError(`writing outcomes into ${table}`, { cause });
    }
  }
}

/**
 * Stores business outcomes (POST /v1/outcomes) once per client id (decision 0125): in
 * `outcomes_by_time`, ordered by hour and feature (what the boards read), then in `outcomes`, ordered
 * by id (the record by id that earlier dashboards read). An id reported again replaces its row; when
 * the report moves it to another hour or feature, the same insert carries a tombstone over the row
 * it replaces (found in `outcomes`, ordered by id), so a read with FINAL counts the id once.
 */
import type { Storage } from './client';
import { insertRows, queryRows } from './statements';

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

/** A key (hour, feature) an id was stored under in `outcomes`: its rows there, not yet merged away. */
interface StoredKey {
  id: string;
  time: string;
  feature: string;
  hour: number;
}

const HOUR_MS = 3_600_000;

/** The hour (seconds) of a DateTime64(3) text in UTC, as the table's key computes it. */
const hourOf = (time: string): number =>
  (Math.floor(Date.parse(`${time.replace(' ', 'T')}Z`) / HOUR_MS) * HOUR_MS) / 1000;

export class OutcomeStore {
  /** The write in flight for each id: a report of an id waits for the one before it. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly storage: Storage) {}

  /**
   * Stores `rows` (a later row of an id in the batch wins); resolves once both tables have them.
   * Reports of other ids go on at once; two of one id at once would each miss the other's key.
   */
  store(rows: OutcomeRow[]): Promise<void> {
    const ids = [...new Set(rows.map((r) => r.id))];
    const before = new Set(ids.flatMap((id) => this.inFlight.get(id) ?? []));
    const run = Promise.allSettled(before).then(() => this.write(rows));
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    for (const id of ids) this.inFlight.set(id, done);
    void done.then(() => {
      for (const id of ids) if (this.inFlight.get(id) === done) this.inFlight.delete(id);
    });
    return run;
  }

  private async write(batch: OutcomeRow[]): Promise<void> {
    const { storage } = this;
    const rows = [...new Map(batch.map((r) => [r.id, r])).values()];
    if (rows.length === 0) return;
    // `outcomes` is ordered by id: a short index range per id. Its rows of an id not merged yet
    // hold every key the id had lately; after a merge, the latest, which this process wrote last.
    const stored = await queryRows<StoredKey>(
      storage,
      'reading the keys the outcomes reported were stored under',
      `SELECT id, feature, toUInt32(toStartOfHour(o.time)) AS hour, toString(any(o.time)) AS time
       FROM ${storage.database}.outcomes AS o WHERE id IN {ids:Array(String)}
       GROUP BY id, feature, hour`,
      { ids: rows.map((r) => r.id) },
    );
    const newKey = new Map(rows.map((r) => [r.id, [hourOf(r.time), r.feature].join('\n')]));
    const tombstones = stored
      .filter((old) => newKey.get(old.id) !== [Number(old.hour), old.feature].join('\n'))
      .map((old) => ({ id: old.id, time: old.time, feature: old.feature, deleted: 1 }));
    // One insert (one part): readers see the moved row and its tombstones together, or neither.
    // Then `outcomes`: a write that stops between the two is retried by the client (no answer),
    // and the retry finds the old key still there.
    await insertRows(storage, 'writing outcomes into outcomes_by_time', 'outcomes_by_time', [
      ...tombstones,
      ...rows,
    ]);
    await insertRows(storage, 'writing outcomes into outcomes', 'outcomes', rows);
  }
}

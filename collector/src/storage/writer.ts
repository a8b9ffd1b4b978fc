/**
 * Writes priced calls to ClickHouse for at-least-once delivery without double counting.
 *
 * An OTLP exporter retries a batch it did not see acknowledged, so the same span can arrive twice.
 * The rollup (a materialized view over llm_calls) must see each span once, so:
 *  1. all writes in this process go through one queue, one batch at a time (no race between
 *     the lookup and the insert below);
 *  2. a batch is deduplicated by (trace_id, span_id), then the keys already stored are looked up
 *     — bounded to the batch's hours so the primary key prunes — and only new rows are inserted;
 *  3. llm_calls is a ReplacingMergeTree on the same key (raw rows converge even if two collector
 *     processes race), and each insert carries an insert_deduplication_token derived from its rows,
 *     so an identical block retried against the engine is dropped, MV included.
 * `write` resolves only once the rows are inserted (durable), so the HTTP layer acks after it.
 */
import { createHash } from 'node:crypto';
import type { PricedCall } from '../model';
import type { Storage } from './client';
import { StorageError } from './errors';
import { toRow, type CallRow } from './rows';

export interface WriteResult {
  inserted: number;
  duplicates: number;
}

const NS_PER_HOUR = 3_600_000_000_000n;

export class CallWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly storage: Storage) {}

  write(calls: PricedCall[]): Promise<WriteResult> {
    const next = this.queue.then(() => this.writeNow(calls));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when every write queued so far has finished. */
  async drain(): Promise<void> {
    await this.queue;
  }

  private async writeNow(calls: PricedCall[]): Promise<WriteResult> {
    if (calls.length === 0) return { inserted: 0, duplicates: 0 };
    const unique = new Map<string, PricedCall>();
    for (const c of calls) unique.set(c.traceId + c.spanId, c);
    const existing = await this.existingKeys([...unique.values()]);
    const rows: CallRow[] = [];
    for (const [key, call] of unique) if (!existing.has(key)) rows.push(toRow(call));
    if (rows.length > 0) await this.insert(rows);
    return { inserted: rows.length, duplicates: calls.length - rows.length };
  }

  private async existingKeys(calls: PricedCall[]): Promise<Set<string>> {
    let min = BigInt(calls[0]!.startTimeUnixNano);
    let max = min;
    for (const c of calls) {
      const t = BigInt(c.startTimeUnixNano);
      if (t < min) min = t;
      if (t > max) max = t;
    }
    const { client, database } = this.storage;
    try {
      const rs = await client.query({
        query: `SELECT concat(trace_id, span_id) AS k FROM ${database}.llm_calls
                WHERE toStartOfHour(start_time) BETWEEN toStartOfHour(fromUnixTimestamp64Nano({min:Int64}, 'UTC'))
                                                    AND toStartOfHour(fromUnixTimestamp64Nano({max:Int64}, 'UTC'))
                  AND k IN {keys:Array(String)}`,
        query_params: {
          min: ((min / NS_PER_HOUR) * NS_PER_HOUR).toString(),
          max: max.toString(),
          keys: calls.map((c) => c.traceId + c.spanId),
        },
        format: 'JSONEachRow',
      });
      return new Set((await rs.json<{ k: string }>()).map((r) => r.k));
    } catch (cause) {
      throw new StorageError('looking up already stored spans', {
        cause,
        detail: `${database}.llm_calls, ${calls.length} keys`,
      });
    }
  }

  private async insert(rows: CallRow[]): Promise<void> {
    const { client, database } = this.storage;
    const token = createHash('sha256');
    for (const r of rows) token.update(r.trace_id).update(r.span_id);
    try {
      await client.insert({
        table: `${database}.llm_calls`,
        values: rows,
        format: 'JSONEachRow',
        clickhouse_settings: {
          insert_deduplication_token: token.digest('hex'),
          deduplicate_blocks_in_dependent_materialized_views: 1,
        },
      });
    } catch (cause) {
      throw new StorageError('inserting calls', {
        cause,
        detail: `${database}.llm_calls, ${rows.length} rows`,
      });
    }
  }
}

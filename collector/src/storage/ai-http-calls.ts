/**
 * ai_http_calls rows in (collector/migrations/0004_ai_http_calls.sql): new uninstrumented
 * requests inserted, earlier ones a later GenAI span turned out to cover deleted.
 *
 * Deletion is a lightweight DELETE (synchronous, by exact key and start time, so only the
 * partition and granules of those rows are touched). It is needed only when a request's HTTP span
 * was exported before the GenAI span that records it (per-span exporters, or a batch boundary
 * between the two), and it is idempotent, so a retried export may repeat it safely. The operations
 * on one storage run one at a time, in the order they were asked for, so a delete never overtakes
 * the insert of the row it removes.
 */
import { LOCAL_SUFFIX } from './cluster-ddl';
import { createHash } from 'node:crypto';
import type { Storage } from './client';
import { StorageError } from './errors';
import { spanKeysWhere } from './span-keys';
import { nanosToDateTime64 } from './rows';
import type { AiHttpCall } from '../core/ai-http-call';

const queues = new WeakMap<Storage, Promise<unknown>>();

/** Stores the new rows and deletes the ones marked `coveredLater`; resolves once both are done. */
export function insertAiHttpCalls(storage: Storage, calls: AiHttpCall[]): Promise<void> {
  const fresh = calls.filter((c) => c.coveredLater !== true);
  const covered = calls.filter((c) => c.coveredLater === true);
  if (fresh.length === 0 && covered.length === 0) return Promise.resolve();
  const previous = queues.get(storage) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined) // an earlier failure is its own caller's to report
    .then(async () => {
      await insertRows(storage, fresh);
      await deleteRows(storage, covered);
    });
  queues.set(storage, run);
  return run;
}

/**
 * A retried export repeats the same block: the deduplication token drops it, ReplacingMergeTree
 * converges any other repeat, and the inventory counts distinct span keys.
 */
async function insertRows(storage: Storage, calls: AiHttpCall[]): Promise<void> {
  if (calls.length === 0) return;
  const { client, database } = storage;
  const hash = createHash('sha256');
  for (const k of calls.map((c) => c.traceId + c.spanId).sort()) hash.update(k);
  try {
    await client.insert({
      // Settings in the statement, as the call writer does (chdb keeps clickhouse_settings session-wide).
      table: `${database}.ai_http_calls SETTINGS insert_deduplication_token = '${hash.digest('hex')}'`,
      values: calls.map((c) => ({
        trace_id: c.traceId,
        span_id: c.spanId,
        start_time: nanosToDateTime64(c.startTimeUnixNano),
        duration_ms: c.durationMs,
        service: c.service,
        environment: c.environment,
        host: c.host,
        provider: c.provider,
        method: c.method,
        path: c.path,
        status_code: c.statusCode,
        source: c.source,
        truncated: c.truncated ? 1 : 0,
      })),
      format: 'JSONEachRow',
    });
  } catch (cause) {
    throw new StorageError('inserting uninstrumented AI calls', {
      cause,
      detail: `${database}.ai_http_calls, ${calls.length} rows`,
    });
  }
}

async function deleteRows(storage: Storage, calls: AiHttpCall[]): Promise<void> {
  if (calls.length === 0) return;
  const { client, database, cluster } = storage;
  const { where, params } = spanKeysWhere(calls);
  // A Distributed table takes no DELETE: on a cluster the rows are deleted on every node.
  const target = cluster
    ? `${database}.ai_http_calls${LOCAL_SUFFIX} ON CLUSTER '${cluster}'`
    : `${database}.ai_http_calls`;
  try {
    await client.command({
      query: `DELETE FROM ${target} WHERE ${where}`,
      query_params: params,
    });
  } catch (cause) {
    throw new StorageError('deleting AI calls a GenAI span covered', {
      cause,
      detail: `${database}.ai_http_calls, ${calls.length} rows`,
    });
  }
}

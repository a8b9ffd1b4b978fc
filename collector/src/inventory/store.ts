/** ai_http_calls rows in, the inventory out (clickhouse/migrations/0004_ai_http_calls.sql). */
import { createHash } from 'node:crypto';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { nanosToDateTime64 } from '../storage/rows';
import type { AiHttpCall } from './model';

/**
 * Inserts the rows. A retried export repeats the same block: the deduplication token drops it,
 * ReplacingMergeTree converges any other repeat, and the inventory counts distinct span keys.
 */
export async function insertAiHttpCalls(storage: Storage, calls: AiHttpCall[]): Promise<void> {
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

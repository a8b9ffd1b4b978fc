/**
 * Keyed calls (`tokenledger.call.key`): one call that several spans may record, from any process —
 * every read that finds an OpenAI background response finished records it. Such a call's row takes
 * ids derived from the key and starts at the key's creation time (`tokenledger.call.created_at`), so
 * storage's deduplication by (trace_id, span_id) and start time keeps exactly one of them.
 */
import { createHash } from 'node:crypto';
import { ATTR_TL_CALL_CREATED_AT, ATTR_TL_CALL_KEY } from 'tokenledger/semconv';
import type { ExtractedCall } from '../../core/call';
import type { Attributes } from '../otlp/types';
import { intAttr, strAttr } from './attrs';

export interface CallKey {
  key: string;
  /** Unix seconds; undefined when the span did not say (the row keeps the span's start). */
  createdAt: number | undefined;
}

/** Seconds a row's start time may hold (the rollup's hour is a UInt32 DateTime). */
const MAX_UNIX_SECONDS = 2 ** 32 - 1;

export function callKeyOf(a: Attributes): CallKey | undefined {
  const key = strAttr(a, ATTR_TL_CALL_KEY);
  if (key === '') return undefined;
  const created = intAttr(a, ATTR_TL_CALL_CREATED_AT);
  return {
    key,
    createdAt: created !== undefined && created > 0 && created <= MAX_UNIX_SECONDS ? created : undefined,
  };
}

/** Gives `call` the row identity of its key. */
export function applyCallKey(call: ExtractedCall, k: CallKey): void {
  const digest = createHash('sha256').update(k.key).digest('hex');
  call.traceId = digest.slice(0, 32);
  call.spanId = digest.slice(32, 48);
  if (k.createdAt !== undefined) call.startTimeUnixNano = (BigInt(k.createdAt) * 1_000_000_000n).toString();
}

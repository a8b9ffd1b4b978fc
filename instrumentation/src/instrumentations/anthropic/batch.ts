/**
 * Message Batches: the requests leave with `batches.create`, but usage is known only when the app
 * reads `batches.results(id)`, a JSONL decoder yielding one `{ custom_id, result }` per request.
 * Each `succeeded` result (the only billed kind) becomes one chat span, ended at once, marked with
 * the batch id so the collector prices it at the batch rate. The app's objects are untouched.
 */
import { context, SpanKind, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ANTHROPIC_MESSAGE_BATCH_CUSTOM_ID,
  ATTR_ANTHROPIC_MESSAGE_BATCH_ID,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
} from '../../semconv';
import { requestAttributes, serverInfo, setUsageAttributes, spanName, type AnyRecord } from './usage';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Results already recorded in this process, per batch: reading a batch twice must not bill it twice. */
const recorded = new Map<string, Set<string>>();
const MAX_REMEMBERED_BATCHES = 1000;

export function createPatchedResults(original: Method, tracer: () => Tracer): Method {
  return function patchedResults(this: unknown, ...args: unknown[]): unknown {
    const result = original.apply(this, args);
    try {
      const batchId = args[0];
      if (typeof batchId === 'string' && result && typeof (result as Promise<unknown>).then === 'function') {
        const parent = context.active();
        const client = (this as AnyRecord | undefined)?._client as AnyRecord | undefined;
        // Observed beside the app's own await (registered first, so it runs first); errors are the app's.
        (result as Promise<unknown>).then(
          (decoder) => observeDecoder(decoder, { batchId, client, parent, tracer }),
          () => undefined,
        );
      }
    } catch {
      // never throw into the app
    }
    return result;
  };
}

interface BatchContext {
  batchId: string;
  client: AnyRecord | undefined;
  parent: Context;
  tracer: () => Tracer;
}

function observeDecoder(decoder: unknown, batch: BatchContext): void {
  try {
    if (decoder === null || typeof decoder !== 'object') return;
    const d = decoder as { [Symbol.asyncIterator]?: unknown };
    const iterate = d[Symbol.asyncIterator] as ((...a: unknown[]) => AsyncIterator<unknown>) | undefined;
    if (typeof iterate !== 'function') return;
    d[Symbol.asyncIterator] = function (this: unknown, ...a: unknown[]) {
      const it = iterate.apply(this, a);
      const next = it.next.bind(it);
      it.next = (...n: [] | [unknown]) =>
        next(...n).then((r) => {
          if (!r.done) recordResult(r.value, batch);
          return r;
        });
      return it;
    };
  } catch {
    // ignore
  }
}

/** One span for one `succeeded` batch result; errored, canceled and expired ones are not billed. */
function recordResult(item: unknown, batch: BatchContext): void {
  try {
    if (item === null || typeof item !== 'object') return;
    const { custom_id: customId, result } = item as AnyRecord;
    if (result?.type !== 'succeeded' || result.message === null || typeof result.message !== 'object') return;
    if (typeof customId === 'string' && alreadyRecorded(batch.batchId, customId)) return;
    const message = result.message as AnyRecord;
    const attributes: Attributes = requestAttributes({ model: message.model }, serverInfo(batch.client));
    // The results carry no request: model is the one that answered; stream and max tokens are unknown.
    delete attributes[ATTR_GEN_AI_REQUEST_STREAM];
    delete attributes[ATTR_GEN_AI_REQUEST_MAX_TOKENS];
    attributes[ATTR_ANTHROPIC_MESSAGE_BATCH_ID] = batch.batchId;
    if (typeof customId === 'string') attributes[ATTR_ANTHROPIC_MESSAGE_BATCH_CUSTOM_ID] = customId;
    if (typeof message.id === 'string') attributes[ATTR_GEN_AI_RESPONSE_ID] = message.id;
    if (typeof message.model === 'string') {
      attributes[ATTR_GEN_AI_RESPONSE_MODEL] = message.model;
      attributes[ATTR_GEN_AI_REQUEST_MODEL] = message.model;
    }
    if (typeof message.stop_reason === 'string')
      attributes[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [message.stop_reason];
    setUsageAttributes(attributes, message.usage);
    addAttributionAttributes(batch.parent, attributes);
    const span = batch
      .tracer()
      .startSpan(spanName(message), { kind: SpanKind.CLIENT, attributes }, batch.parent);
    span.end();
    noteSpanEnded(span);
  } catch {
    // ignore
  }
}

function alreadyRecorded(batchId: string, customId: string): boolean {
  let seen = recorded.get(batchId);
  if (!seen) {
    if (recorded.size >= MAX_REMEMBERED_BATCHES) recorded.delete(recorded.keys().next().value as string);
    seen = new Set();
    recorded.set(batchId, seen);
  }
  if (seen.has(customId)) return true;
  seen.add(customId);
  return false;
}

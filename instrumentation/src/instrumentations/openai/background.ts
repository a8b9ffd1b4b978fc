/**
 * OpenAI background responses (`responses.create({ background: true })`). The create call answers
 * `queued` without usage; the response bills when it finishes, and the app learns that by reading it
 * again: `responses.retrieve(id)` (polled, or `stream: true` to resume its events) or
 * `responses.cancel(id)`. So:
 *   - the create span, when it ends without usage, is marked deferred (the collector stores no row
 *     for it: its cost is not unknown, it is not known yet);
 *   - a read that finds the response finished becomes one span with its usage, started at the
 *     response's `created_at` and keyed by the response id (`tokenledger.call.key`), as is a create
 *     span that saw the response finish (a background stream read to its end). However many reads,
 *     in however many processes, see it finished, the collector stores one row per key; this
 *     process records each response once.
 */
import {
  context,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_TL_CALL_CREATED_AT,
  ATTR_TL_CALL_KEY,
  ATTR_TL_USAGE_DEFERRED,
  ERROR_TYPE_CANCELLED,
} from '../../semconv';
import { observeAPIPromise, type APIPromiseCall } from '../shared/api-promise';
import { observeIteratorMethod, type StreamObserver } from '../shared/observed-iterator';
import {
  OpenAIOperation,
  requestAttributes,
  responseFailedType,
  serverInfo,
  setResultAttributes,
  spanName,
  type AnyRecord,
} from './utils';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** The statuses after which a response's usage is final. */
const FINISHED = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

function backgroundCallKey(responseId: string): string {
  return `openai.response:${responseId}`;
}

/** Background responses whose usage a span of this process recorded, oldest first (bounded). */
const recorded = new Set<string>();
const MAX_RECORDED = 10_000;

/** Notes that this process records `responseId`'s usage; false when it already has. */
function claimRecording(responseId: string): boolean {
  if (recorded.has(responseId)) return false;
  if (recorded.size >= MAX_RECORDED) recorded.delete(recorded.values().next().value as string);
  recorded.add(responseId);
  return true;
}

/**
 * The attributes that end a background create span: keyed when it saw the usage (and the
 * response's `created_at`), else deferred. Undefined when the call has no response id (refused).
 */
export function backgroundCreateAttributes(
  responseId: string | undefined,
  createdAt: unknown,
  hasUsage: boolean,
): Attributes | undefined {
  if (responseId === undefined) return undefined;
  if (!hasUsage) return { [ATTR_TL_USAGE_DEFERRED]: true };
  claimRecording(responseId);
  return keyAttributes(responseId, createdAt);
}

function keyAttributes(responseId: string, createdAt: unknown): Attributes {
  const attrs: Attributes = { [ATTR_TL_CALL_KEY]: backgroundCallKey(responseId) };
  if (isUnixSeconds(createdAt)) attrs[ATTR_TL_CALL_CREATED_AT] = createdAt;
  return attrs;
}

function isUnixSeconds(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 4_294_967_296;
}

/** Wraps `responses.retrieve` / `responses.cancel`: the app gets the SDK's own result. */
export function createPatchedRead(original: Method, tracer: () => Tracer): Method {
  return function patchedRead(this: unknown, ...args: unknown[]): unknown {
    const result = original.apply(this, args);
    try {
      const client = (this as AnyRecord | undefined)?._client as AnyRecord | undefined;
      observeAPIPromise(result, new BackgroundRead(context.active(), client, tracer));
    } catch {
      // never throw into the app
    }
    return result;
  };
}

/** One read of a stored response: records it if it is a finished background response. */
class BackgroundRead implements APIPromiseCall, StreamObserver {
  parseStarted = false;
  private done = false;

  constructor(
    private readonly parent: Context,
    private readonly client: AnyRecord | undefined,
    private readonly tracer: () => Tracer,
  ) {}

  onParsed(value: unknown): unknown {
    try {
      if (value !== null && typeof value === 'object') {
        const v = value as AnyRecord;
        if (typeof v.iterator === 'function') observeIteratorMethod(v, 'iterator', this);
        else this.record(v);
      }
    } catch {
      // never throw into the app
    }
    return value;
  }

  /** A resumed stream: the terminal event carries the finished response. */
  onItem(item: unknown): boolean {
    if (this.done || item === null || typeof item !== 'object') return true;
    const ev = item as AnyRecord;
    if (typeof ev.type === 'string' && ev.type.startsWith('response.') && ev.response) {
      this.record(ev.response as AnyRecord);
    }
    return true;
  }

  onRawResponse(): void {}
  fail(): void {}
  onDone(): void {}
  onError(): void {}
  onCancel(): void {}

  private record(response: AnyRecord): void {
    // A foreground response read back later was recorded by its create span.
    if (response.background !== true || !FINISHED.has(response.status)) return;
    const id = response.id;
    if (typeof id !== 'string' || id === '') return;
    this.done = true;
    if (!claimRecording(id)) return;
    recordFinished(response, id, this.client, this.parent, this.tracer());
  }
}

/** One span for a finished background response, from its creation to its completion. */
function recordFinished(
  response: AnyRecord,
  id: string,
  client: AnyRecord | undefined,
  parent: Context,
  tracer: Tracer,
): void {
  const model = typeof response.model === 'string' ? response.model : undefined;
  const attributes = requestAttributes(OpenAIOperation.Responses, { model }, serverInfo(client));
  // A read carries no request: stream and max tokens are unknown.
  delete attributes[ATTR_GEN_AI_REQUEST_STREAM];
  delete attributes[ATTR_GEN_AI_REQUEST_MAX_TOKENS];
  setResultAttributes(attributes, OpenAIOperation.Responses, response);
  Object.assign(attributes, keyAttributes(id, response.created_at));
  const errorType = finishedErrorType(response);
  if (errorType !== undefined) attributes[ATTR_ERROR_TYPE] = errorType;
  addAttributionAttributes(parent, attributes);

  const now = Date.now();
  const start = isUnixSeconds(response.created_at) ? Math.min(response.created_at * 1000, now) : now;
  const end = isUnixSeconds(response.completed_at)
    ? Math.min(Math.max(response.completed_at * 1000, start), now)
    : now;
  const span = tracer.startSpan(
    spanName(OpenAIOperation.Responses, { model }),
    { kind: SpanKind.CLIENT, attributes, startTime: start },
    parent,
  );
  if (errorType !== undefined)
    span.setStatus({ code: SpanStatusCode.ERROR, message: `response ${response.status}` });
  span.end(end);
  noteSpanEnded(span);
}

function finishedErrorType(response: AnyRecord): string | undefined {
  if (response.status === 'cancelled') return ERROR_TYPE_CANCELLED;
  return response.status === 'failed' ? responseFailedType(response) : undefined;
}

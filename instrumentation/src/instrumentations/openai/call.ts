/**
 * One instrumented OpenAI call: its span, and how it ends (parsed result, stream events, error).
 * The span is ended exactly once, whichever of these happens first.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_CANCELLED,
} from '../../semconv';
import {
  errorMessage,
  errorStatus,
  errorType,
  OpenAIOperation,
  setUsageAttributes,
  type AnyRecord,
} from './utils';

export class OpenAICall {
  private ended = false;
  /** parseResponse has been entered (the app reads the parsed body, not only `.asResponse()`). */
  parseStarted = false;
  /** Stream state. */
  private streamObj: AnyRecord | undefined;
  private responseId: string | undefined;
  private responseModel: string | undefined;
  private serviceTier: string | undefined;
  private finishReasons: string[] | undefined;
  private usage: AnyRecord | undefined;
  private failedType: string | undefined;

  constructor(
    readonly span: Span,
    readonly op: OpenAIOperation,
    readonly stream: boolean,
    /** include_usage was injected by us: hide the usage chunk and `usage` keys from the app. */
    readonly injectedUsage: boolean,
  ) {}

  /** A parsed (non-stream) result, or the Stream object for a streaming call. Returns the value unchanged. */
  onParsed(value: unknown): unknown {
    if (this.ended) return value;
    try {
      if (this.stream) {
        if (
          value !== null &&
          typeof value === 'object' &&
          typeof (value as AnyRecord).iterator === 'function'
        ) {
          this.instrumentStream(value as AnyRecord);
        } else {
          this.end();
        }
        return value;
      }
      if (value !== null && typeof value === 'object') this.readResult(value as AnyRecord);
      this.end();
    } catch {
      // never throw into the app
    }
    return value;
  }

  /** The app only took the raw Response (`.asResponse()`): end without usage, the body is the app's. */
  onRawResponse(): void {
    if (!this.parseStarted) this.end();
  }

  fail(err: unknown): void {
    if (this.ended) return;
    try {
      const type = errorType(err);
      const span = this.span;
      span.setAttribute(ATTR_ERROR_TYPE, type);
      const status = errorStatus(err);
      if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      if (this.streamObj) this.setCollectedAttributes();
    } catch {
      // ignore
    }
    this.endSpan();
  }

  private readResult(r: AnyRecord): void {
    const attrs: Attributes = {};
    if (typeof r.id === 'string') attrs[ATTR_GEN_AI_RESPONSE_ID] = r.id;
    if (typeof r.model === 'string') attrs[ATTR_GEN_AI_RESPONSE_MODEL] = r.model;
    if (typeof r.service_tier === 'string') attrs[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = r.service_tier;
    if (this.op === OpenAIOperation.ChatCompletions) {
      const choices = r.choices;
      if (Array.isArray(choices)) {
        const reasons: string[] = [];
        for (let i = 0; i < choices.length; i++) {
          const fr = choices[i]?.finish_reason;
          if (typeof fr === 'string') reasons.push(fr);
        }
        if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
      }
    } else if (this.op === OpenAIOperation.Responses) {
      const reason = responsesFinishReason(r);
      if (reason) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [reason];
    }
    setUsageAttributes(attrs, r.usage);
    this.span.setAttributes(attrs);
  }

  // --- streams ---

  private instrumentStream(stream: AnyRecord): void {
    this.streamObj = stream;
    const original = stream.iterator as (...a: unknown[]) => AsyncIterator<unknown>;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const call = this;
    // Stream#[Symbol.asyncIterator], tee() and toReadableStream() all go through `iterator`.
    stream.iterator = function (this: unknown, ...args: unknown[]) {
      return new InstrumentedIterator(original.apply(this, args), call);
    };
  }

  /** Looks at one stream item; returns false when the app must not see it (our injected usage chunk). */
  onItem(item: unknown): boolean {
    if (this.ended || item === null || typeof item !== 'object') return true;
    try {
      return this.op === OpenAIOperation.Responses
        ? this.onResponsesEvent(item as AnyRecord)
        : this.onChatChunk(item as AnyRecord);
    } catch {
      return true;
    }
  }

  private onChatChunk(chunk: AnyRecord): boolean {
    if (this.responseId === undefined && typeof chunk.id === 'string') this.responseId = chunk.id;
    if (this.responseModel === undefined && typeof chunk.model === 'string' && chunk.model !== '')
      this.responseModel = chunk.model;
    if (this.serviceTier === undefined && typeof chunk.service_tier === 'string')
      this.serviceTier = chunk.service_tier;
    const choices = chunk.choices;
    if (Array.isArray(choices)) {
      for (let i = 0; i < choices.length; i++) {
        const c = choices[i];
        const fr = c?.finish_reason;
        if (typeof fr === 'string') {
          (this.finishReasons ??= [])[typeof c.index === 'number' ? c.index : i] = fr;
        }
      }
    }
    const usage = chunk.usage;
    if (usage !== null && typeof usage === 'object') this.usage = usage;
    if (this.injectedUsage && 'usage' in chunk) {
      if (usage !== null && typeof usage === 'object' && Array.isArray(choices) && choices.length === 0)
        return false;
      delete chunk.usage;
    }
    return true;
  }

  private onResponsesEvent(item: AnyRecord): boolean {
    const ev: AnyRecord = typeof item.type === 'string' ? item : (item.data ?? item);
    const type = ev.type;
    if (typeof type !== 'string' || !type.startsWith('response.')) return true;
    const response = ev.response;
    if (response === null || typeof response !== 'object') return true;
    if (typeof response.id === 'string') this.responseId = response.id;
    if (typeof response.model === 'string') this.responseModel = response.model;
    if (typeof response.service_tier === 'string') this.serviceTier = response.service_tier;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      if (response.usage) this.usage = response.usage;
      const reason = responsesFinishReason(response);
      if (reason) this.finishReasons = [reason];
      if (type === 'response.failed') {
        const code = response.error?.code;
        this.failedType = typeof code === 'string' && code !== '' ? code : 'response.failed';
      }
    }
    return true;
  }

  private setCollectedAttributes(): void {
    const attrs: Attributes = {};
    if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
    if (this.responseModel !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
    if (this.serviceTier !== undefined) attrs[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = this.serviceTier;
    if (this.finishReasons) {
      const reasons = this.finishReasons.filter((r) => typeof r === 'string');
      if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
    }
    setUsageAttributes(attrs, this.usage);
    this.span.setAttributes(attrs);
  }

  /** The stream's iterator finished; aborted if the stream's controller was aborted under it. */
  onStreamDone(): void {
    if (this.ended) return;
    try {
      this.setCollectedAttributes();
      const aborted = this.streamObj?.controller?.signal?.aborted === true;
      if (aborted) this.markError(ERROR_TYPE_ABORTED, 'stream aborted');
      else if (this.failedType !== undefined) this.markError(this.failedType, 'response failed');
    } catch {
      // ignore
    }
    this.endSpan();
  }

  /** The app stopped iterating early (break, return, exception in its loop). */
  onStreamCancelled(): void {
    if (this.ended) return;
    try {
      this.setCollectedAttributes();
      this.markError(ERROR_TYPE_CANCELLED, 'stream cancelled by the application');
    } catch {
      // ignore
    }
    this.endSpan();
  }

  private markError(type: string, message: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, type);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    this.endSpan();
  }

  private endSpan(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.span.end();
      noteSpanEnded(this.span);
    } catch {
      // ignore
    }
  }
}

function responsesFinishReason(r: AnyRecord): string | undefined {
  const status = r.status;
  if (status === 'incomplete') {
    const reason = r.incomplete_details?.reason;
    return typeof reason === 'string' ? reason : status;
  }
  return typeof status === 'string' ? status : undefined;
}

/**
 * Wraps the SDK stream's async iterator: observes every item, drops the ones the app would not have
 * seen, ends the span on completion / error / early return. Items are passed through by reference.
 */
class InstrumentedIterator implements AsyncIterableIterator<unknown> {
  /** Bound once per stream, not per chunk: the hot path is one `then` per item. */
  private readonly onResult: (
    r: IteratorResult<unknown>,
  ) => IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
  private readonly onError: (err: unknown) => never;

  constructor(
    private readonly it: AsyncIterator<unknown>,
    private readonly call: OpenAICall,
  ) {
    this.onResult = (r) => {
      if (r.done) {
        this.call.onStreamDone();
        return r;
      }
      // A hidden item (our injected usage chunk): read on.
      return this.call.onItem(r.value) ? r : this.next();
    };
    this.onError = (err) => {
      this.call.fail(err);
      throw err;
    };
  }

  next(...args: [] | [unknown]): Promise<IteratorResult<unknown>> {
    let p: Promise<IteratorResult<unknown>>;
    try {
      p = this.it.next(...args);
    } catch (err) {
      this.call.fail(err);
      return Promise.reject(err as Error);
    }
    return p.then(this.onResult, this.onError);
  }

  async return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.call.onStreamCancelled();
    if (typeof this.it.return === 'function') return this.it.return(value);
    return { done: true, value };
  }

  async throw(err?: unknown): Promise<IteratorResult<unknown>> {
    if (typeof this.it.throw === 'function') {
      try {
        return await this.it.throw(err);
      } catch (e) {
        this.call.fail(e);
        throw e;
      }
    }
    this.call.fail(err);
    throw err;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }
}

/**
 * One instrumented OpenAI call: its span, and how it ends (parsed result, stream events, error).
 * The span is ended exactly once, whichever of these happens first.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
} from '../../semconv';
import { APIPromiseStreamCall } from '../shared/api-promise';
import { backgroundCreateAttributes } from './background';
import { sdkErrorReader } from '../shared/errors';
import { observeIteratorMethod } from '../shared/observed-iterator';
import {
  OpenAIOperation,
  responseFailedType,
  responsesFinishReason,
  setResultAttributes,
  setUsageAttributes,
  type AnyRecord,
} from './utils';

/** The OpenAI SDK's errors: APIError subclasses with `status`; APIUserAbortError when the app aborts. */
const OPENAI_ERRORS = sdkErrorReader({ abortNames: ['AbortError', 'APIUserAbortError'] });

export class OpenAICall extends APIPromiseStreamCall {
  /** Stream state. */
  private responseId: string | undefined;
  private responseModel: string | undefined;
  private serviceTier: string | undefined;
  private finishReasons: string[] | undefined;
  private usage: AnyRecord | undefined;
  private failedType: string | undefined;
  private createdAt: unknown;

  constructor(
    span: Span,
    readonly op: OpenAIOperation,
    readonly stream: boolean,
    /** include_usage was injected by us: hide the usage chunk and `usage` keys from the app. */
    readonly injectedUsage: boolean,
    /** A Responses call with `background: true`: its usage may only come from a later read (./background.ts). */
    readonly background: boolean,
  ) {
    super(span, OPENAI_ERRORS);
  }

  /** A parsed (non-stream) result, or the Stream object for a streaming call. Returns the value unchanged. */
  onParsed(value: unknown): unknown {
    if (this.isEnded) return value;
    try {
      if (this.stream) {
        if (value !== null && typeof value === 'object' && this.instrumentStream(value as AnyRecord)) {
          // observed
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

  private readResult(r: AnyRecord): void {
    const attrs: Attributes = {};
    setResultAttributes(attrs, this.op, r);
    if (this.background) {
      const id = typeof r.id === 'string' ? r.id : undefined;
      Object.assign(attrs, backgroundCreateAttributes(id, r.created_at, isUsage(r.usage)));
    }
    this.span.setAttributes(attrs);
  }

  /** A Responses stream that ended with `response.failed` is marked failed. */
  protected override onStreamCompleted(): void {
    if (this.failedType !== undefined) this.markError(this.failedType, 'response failed');
  }

  // --- streams ---

  /** False when `stream` cannot be observed. */
  private instrumentStream(stream: AnyRecord): boolean {
    this.streamObj = stream;
    // Stream#[Symbol.asyncIterator], tee() and toReadableStream() all go through `iterator`; another
    // instrumentation below tokenledger may hand up a stream of its own (OpenLLMetry: an async
    // generator), observed through its Symbol.asyncIterator.
    return (
      observeIteratorMethod(stream, 'iterator', this) ||
      observeIteratorMethod(stream, Symbol.asyncIterator, this)
    );
  }

  /** Looks at one stream item; returns false when the app must not see it (our injected usage chunk). */
  onItem(item: unknown): boolean {
    if (this.isEnded || item === null || typeof item !== 'object') return true;
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
    if (response.created_at !== undefined) this.createdAt = response.created_at;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      if (response.usage) this.usage = response.usage;
      const reason = responsesFinishReason(response);
      if (reason) this.finishReasons = [reason];
      if (type === 'response.failed') this.failedType = responseFailedType(response);
    }
    return true;
  }

  protected setCollectedAttributes(): void {
    const attrs: Attributes = {};
    if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
    if (this.responseModel !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
    if (this.serviceTier !== undefined) attrs[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = this.serviceTier;
    if (this.finishReasons) {
      const reasons = this.finishReasons.filter((r) => typeof r === 'string');
      if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
    }
    setUsageAttributes(attrs, this.usage);
    if (this.background)
      Object.assign(attrs, backgroundCreateAttributes(this.responseId, this.createdAt, isUsage(this.usage)));
    this.span.setAttributes(attrs);
  }
}

const isUsage = (u: unknown): boolean => u !== null && typeof u === 'object';

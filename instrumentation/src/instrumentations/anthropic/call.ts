/**
 * One instrumented `messages.create` call: its span, and how it ends (parsed Message, stream
 * events, error, abort). The span is ended exactly once, whichever happens first.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_CANCELLED,
} from '../../semconv';
import { wrapStreamIterator } from './stream';
import {
  errorMessage,
  errorStatus,
  errorType,
  mergeUsage,
  setUsageAttributes,
  type AnyRecord,
} from './usage';

export class AnthropicCall {
  private ended = false;
  /** parseResponse has been entered (the app reads the parsed body, not only `.asResponse()`). */
  parseStarted = false;
  private streamObj: AnyRecord | undefined;
  private responseId: string | undefined;
  private responseModel: string | undefined;
  private stopReason: string | undefined;
  private usage: AnyRecord | undefined;

  constructor(
    readonly span: Span,
    readonly stream: boolean,
  ) {}

  /** The parsed Message, or the Stream of a streaming call. Returns the value unchanged. */
  onParsed(value: unknown): unknown {
    if (this.ended) return value;
    try {
      if (this.stream) {
        if (value !== null && typeof value === 'object' && wrapStreamIterator(value as AnyRecord, this)) {
          this.streamObj = value as AnyRecord;
        } else {
          this.end();
        }
        return value;
      }
      if (value !== null && typeof value === 'object') this.readMessage(value as AnyRecord);
      this.end();
    } catch {
      this.end();
    }
    return value;
  }

  /** The app only took the raw Response (`.asResponse()`): end without usage, the body is the app's. */
  onRawResponse(): void {
    if (!this.parseStarted) this.end();
  }

  private readMessage(m: AnyRecord): void {
    if (typeof m.id === 'string') this.responseId = m.id;
    if (typeof m.model === 'string') this.responseModel = m.model;
    if (typeof m.stop_reason === 'string') this.stopReason = m.stop_reason;
    this.usage = m.usage ?? undefined;
    this.setCollectedAttributes();
  }

  /** Observes one stream event (message_start, content_block_*, message_delta, message_stop, ...). */
  onEvent(event: unknown): void {
    if (this.ended || event === null || typeof event !== 'object') return;
    try {
      const e = event as AnyRecord;
      if (e.type === 'message_start') {
        const m = e.message;
        if (m !== null && typeof m === 'object') {
          if (typeof m.id === 'string') this.responseId = m.id;
          if (typeof m.model === 'string') this.responseModel = m.model;
          this.usage = mergeUsage(this.usage, m.usage);
        }
      } else if (e.type === 'message_delta') {
        const reason = e.delta?.stop_reason;
        if (typeof reason === 'string') this.stopReason = reason;
        // Cumulative totals: output_tokens, and the input side again on newer API versions.
        this.usage = mergeUsage(this.usage, e.usage);
      }
    } catch {
      // never throw into the app
    }
  }

  private setCollectedAttributes(): void {
    const attrs: Attributes = {};
    if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
    if (this.responseModel !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
    if (this.stopReason !== undefined) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [this.stopReason];
    setUsageAttributes(attrs, this.usage);
    this.span.setAttributes(attrs);
  }

  fail(err: unknown): void {
    if (this.ended) return;
    try {
      this.span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
      const status = errorStatus(err);
      if (status !== undefined) this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      // Tokens consumed before a mid-stream error are still billed.
      if (this.streamObj) this.setCollectedAttributes();
    } catch {
      // ignore
    }
    this.end();
  }

  /** The stream ran out; the SDK ends it quietly when its controller was aborted. */
  onStreamDone(): void {
    if (this.ended) return;
    try {
      this.setCollectedAttributes();
      if (this.streamObj?.controller?.signal?.aborted === true) {
        this.markError(ERROR_TYPE_ABORTED, 'stream aborted');
      }
    } catch {
      // ignore
    }
    this.end();
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
    this.end();
  }

  private markError(type: string, message: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, type);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
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

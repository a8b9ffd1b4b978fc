/**
 * One instrumented `messages.create` call: its span, and how it ends (parsed Message, stream
 * events, error, abort). The span is ended exactly once, whichever happens first.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
} from '../../semconv';
import { APIPromiseStreamCall } from '../shared/api-promise';
import { observeIteratorMethod } from '../shared/observed-iterator';
import { ANTHROPIC_ERRORS, mergeUsage, setUsageAttributes, type AnyRecord } from './usage';

export class AnthropicCall extends APIPromiseStreamCall {
  private responseId: string | undefined;
  private responseModel: string | undefined;
  private stopReason: string | undefined;
  private usage: AnyRecord | undefined;

  constructor(
    span: Span,
    readonly stream: boolean,
  ) {
    super(span, ANTHROPIC_ERRORS);
  }

  /** The parsed Message, or the Stream of a streaming call. Returns the value unchanged. */
  onParsed(value: unknown): unknown {
    if (this.isEnded) return value;
    try {
      if (this.stream) {
        // Stream#[Symbol.asyncIterator], tee() and toReadableStream() all go through `iterator`.
        if (value !== null && typeof value === 'object' && observeIteratorMethod(value, 'iterator', this)) {
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

  private readMessage(m: AnyRecord): void {
    if (typeof m.id === 'string') this.responseId = m.id;
    if (typeof m.model === 'string') this.responseModel = m.model;
    if (typeof m.stop_reason === 'string') this.stopReason = m.stop_reason;
    this.usage = m.usage ?? undefined;
    this.setCollectedAttributes();
  }

  /** Observes one stream event (message_start, content_block_*, message_delta, message_stop, ...). */
  onItem(event: unknown): void {
    if (this.isEnded || event === null || typeof event !== 'object') return;
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

  protected setCollectedAttributes(): void {
    const attrs: Attributes = {};
    if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
    if (this.responseModel !== undefined) attrs[ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
    if (this.stopReason !== undefined) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [this.stopReason];
    setUsageAttributes(attrs, this.usage);
    this.span.setAttributes(attrs);
  }
}

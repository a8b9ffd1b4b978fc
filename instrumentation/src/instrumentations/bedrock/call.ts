/**
 * One instrumented Bedrock command: its span, and how it ends (output, stream events, error).
 * The span is ended exactly once, whichever happens first.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_AWS_REQUEST_ID,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_CANCELLED,
} from '../../semconv';
import { errorMessage, errorType } from '../openai/utils';
import { BedrockCommand } from './commands';
import { usageHeaders } from './headers';
import { wrapAsyncIterable } from './stream';
import {
  bodyUsage,
  converseUsage,
  headerUsage,
  mergeUsage,
  setUsageAttributes,
  type AnyRecord,
  type BedrockUsage,
} from './usage';

const decoder = new TextDecoder();

export class BedrockCall {
  private ended = false;
  private readonly usage: BedrockUsage = {};
  private finishReasons: string[] | undefined;
  private responseId: string | undefined;
  private requestId: string | undefined;

  constructor(
    readonly span: Span,
    readonly kind: BedrockCommand,
    /** The app's abort signal, if it passed one: tells an abort from other stream errors. */
    private readonly abortSignal: AbortSignal | undefined,
  ) {}

  /** The command's output (the app receives the same object); streams get their iterator wrapped. */
  onOutput(output: unknown): void {
    if (this.ended) return;
    try {
      if (output === null || typeof output !== 'object') return this.end();
      const o = output as AnyRecord;
      const requestId = o.$metadata?.requestId;
      if (typeof requestId === 'string') this.requestId = requestId;
      switch (this.kind) {
        case BedrockCommand.Converse:
          mergeUsage(this.usage, converseUsage(o.usage));
          this.addFinishReason(o.stopReason);
          return this.end();
        case BedrockCommand.InvokeModel:
          this.readInvokeBody(o);
          mergeUsageMissing(this.usage, headerUsage(usageHeaders(o)));
          return this.end();
        case BedrockCommand.ConverseStream:
          if (!wrapAsyncIterable(o.stream, this)) this.end();
          return;
        case BedrockCommand.InvokeModelWithResponseStream:
          if (!wrapAsyncIterable(o.body, this)) this.end();
          return;
      }
    } catch {
      this.end();
    }
  }

  private readInvokeBody(o: AnyRecord): void {
    const body = o.body;
    if (!(body instanceof Uint8Array) || body.length === 0 || body[0] !== 0x7b /* { */) return;
    this.readJson(decoder.decode(body));
  }

  private readJson(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (parsed === null || typeof parsed !== 'object') return;
    const b = parsed as AnyRecord;
    mergeUsage(this.usage, bodyUsage(b));
    const id = b.id ?? b.message?.id;
    if (this.responseId === undefined && typeof id === 'string') this.responseId = id;
    for (const reason of bodyFinishReasons(b)) this.addFinishReason(reason);
  }

  /** One stream event, as the app sees it (never changed). */
  onEvent(event: unknown): void {
    if (this.ended || event === null || typeof event !== 'object') return;
    try {
      const e = event as AnyRecord;
      if (this.kind === BedrockCommand.ConverseStream) {
        if (e.metadata) mergeUsage(this.usage, converseUsage(e.metadata.usage));
        else if (e.messageStop) this.addFinishReason(e.messageStop.stopReason);
        return;
      }
      const bytes = e.chunk?.bytes;
      if (bytes instanceof Uint8Array && bytes.length > 0) this.readJson(decoder.decode(bytes));
    } catch {
      // never throw into the app
    }
  }

  private addFinishReason(reason: unknown): void {
    if (typeof reason === 'string' && reason !== '') (this.finishReasons ??= []).push(reason);
  }

  onStreamDone(): void {
    this.end();
  }

  onStreamCancelled(): void {
    this.endWithError(ERROR_TYPE_CANCELLED, 'stream cancelled by the application');
  }

  fail(err: unknown): void {
    if (this.ended) return;
    let type = errorType(err);
    if (this.abortSignal?.aborted === true) type = ERROR_TYPE_ABORTED;
    try {
      const status = (err as AnyRecord | null)?.$metadata?.httpStatusCode;
      if (typeof status === 'number') this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      const requestId = (err as AnyRecord | null)?.$metadata?.requestId;
      if (typeof requestId === 'string') this.requestId = requestId;
    } catch {
      // ignore
    }
    this.endWithError(type, errorMessage(err));
  }

  private endWithError(type: string, message: string | undefined): void {
    if (this.ended) return;
    try {
      this.span.setAttribute(ATTR_ERROR_TYPE, type);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message });
    } catch {
      // ignore
    }
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      const attrs: Attributes = {};
      setUsageAttributes(attrs, this.usage);
      if (this.finishReasons) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = this.finishReasons;
      if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
      if (this.requestId !== undefined) attrs[ATTR_AWS_REQUEST_ID] = this.requestId;
      this.span.setAttributes(attrs);
      this.span.end();
      noteSpanEnded(this.span);
    } catch {
      // ignore
    }
  }
}

/** Fills only the fields the body did not give (headers are the fallback, the body has the details). */
function mergeUsageMissing(into: BedrockUsage, from: BedrockUsage | undefined): void {
  if (!from) return;
  into.input ??= from.input;
  into.output ??= from.output;
  into.cacheRead ??= from.cacheRead;
  into.cacheWrite ??= from.cacheWrite;
}

/** Stop reasons of an InvokeModel body or stream chunk, by model family. */
function bodyFinishReasons(b: AnyRecord): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === 'string' && v !== '') out.push(v);
  };
  add(b.stop_reason ?? b.delta?.stop_reason ?? b.stopReason ?? b.messageStop?.stopReason ?? b.finish_reason);
  for (const list of [b.results, b.outputs, b.choices, b.generations]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) add(item?.completionReason ?? item?.stop_reason ?? item?.finish_reason);
  }
  return out;
}

/**
 * One instrumented Bedrock command: its span, and how it ends (output, stream events, error).
 * The span is ended exactly once, whichever happens first.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_AWS_REQUEST_ID,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ERROR_TYPE_ABORTED,
} from '../../semconv';
import { CallSpan } from '../shared/call-span';
import { sdkErrorReader } from '../shared/errors';
import { observeIteratorMethod, type StreamObserver } from '../shared/observed-iterator';
import { BedrockCommand } from './commands';
import { usageHeaders } from './headers';
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

/** AWS SDK errors carry the HTTP status in `$metadata`. */
const BEDROCK_ERRORS = sdkErrorReader({
  abortNames: ['AbortError', 'APIUserAbortError'],
  status: (err) => err.$metadata?.httpStatusCode,
});

export class BedrockCall extends CallSpan implements StreamObserver {
  private readonly usage: BedrockUsage = {};
  private finishReasons: string[] | undefined;
  private responseId: string | undefined;
  private requestId: string | undefined;

  constructor(
    span: Span,
    readonly kind: BedrockCommand,
    /** The app's abort signal, if it passed one: tells an abort from other stream errors. */
    private readonly abortSignal: AbortSignal | undefined,
  ) {
    super(span, BEDROCK_ERRORS);
  }

  /** The command's output (the app receives the same object); streams get their iterator wrapped. */
  onOutput(output: unknown): void {
    if (this.isEnded) return;
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
          if (!observeStream(o.stream, this)) this.end();
          return;
        case BedrockCommand.InvokeModelWithResponseStream:
          if (!observeStream(o.body, this)) this.end();
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
  onItem(event: unknown): void {
    if (this.isEnded || event === null || typeof event !== 'object') return;
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

  onDone(): void {
    this.end();
  }

  onError(err: unknown): void {
    this.fail(err);
  }

  onCancel(): void {
    this.cancelled();
  }

  override fail(err: unknown): void {
    if (this.isEnded) return;
    try {
      const requestId = (err as AnyRecord | null)?.$metadata?.requestId;
      if (typeof requestId === 'string') this.requestId = requestId;
    } catch {
      // ignore
    }
    super.fail(err, this.abortSignal?.aborted === true ? ERROR_TYPE_ABORTED : undefined);
  }

  /** What the call collected: usage, finish reasons, ids. */
  protected override beforeEnd(): void {
    const attrs: Attributes = {};
    setUsageAttributes(attrs, this.usage);
    if (this.finishReasons) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = this.finishReasons;
    if (this.responseId !== undefined) attrs[ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
    if (this.requestId !== undefined) attrs[ATTR_AWS_REQUEST_ID] = this.requestId;
    this.span.setAttributes(attrs);
  }
}

/** ConverseStream `stream` / InvokeModelWithResponseStream `body`: the app keeps the same object. */
function observeStream(iterable: unknown, observer: StreamObserver): boolean {
  if (iterable === null || typeof iterable !== 'object') return false;
  return observeIteratorMethod(iterable, Symbol.asyncIterator, observer);
}

/** Fills only the fields the body did not give (headers are the fallback, the body has the details). */
function mergeUsageMissing(into: BedrockUsage, from: BedrockUsage | undefined): void {
  if (!from) return;
  into.input ??= from.input;
  into.output ??= from.output;
  into.cacheRead ??= from.cacheRead;
  into.cacheWrite ??= from.cacheWrite;
  into.cacheWrite1h ??= from.cacheWrite1h;
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

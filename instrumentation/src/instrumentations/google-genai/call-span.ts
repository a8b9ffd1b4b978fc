/**
 * The span of one provider call, ended exactly once whichever ending comes first (result, stream
 * end, cancellation, error). Provider-neutral: the Google Gen AI and Mistral patches both use it
 * (a candidate for ../shared once more providers do).
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_CANCELLED,
  ERROR_TYPE_OTHER,
} from '../../semconv';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyRecord = Record<string, any>;

/** Error names SDKs use when the app's AbortSignal fired (fetch, Speakeasy SDKs). */
const ABORT_NAMES = new Set(['AbortError', 'RequestAbortedError']);

export function isAbortError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  return ABORT_NAMES.has((err as AnyRecord).name) || ABORT_NAMES.has((err as AnyRecord).constructor?.name);
}

/** error.type: `aborted`, else the error's class (ApiError, SDKError, TypeError, ...), else `_OTHER`. */
export function errorType(err: unknown): string {
  if (isAbortError(err)) return ERROR_TYPE_ABORTED;
  if (err !== null && typeof err === 'object') {
    const ctor = (err as AnyRecord).constructor?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' && ctor !== 'Error') return ctor;
    const name = (err as AnyRecord).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return ERROR_TYPE_OTHER;
}

/** The HTTP status an SDK error carries: `status` (Google) or `statusCode` (Speakeasy SDKs). */
export function errorStatus(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const status = (err as AnyRecord).status ?? (err as AnyRecord).statusCode;
  return typeof status === 'number' && Number.isFinite(status) ? status : undefined;
}

function errorMessage(err: unknown): string | undefined {
  const m = err !== null && typeof err === 'object' ? (err as AnyRecord).message : err;
  return typeof m === 'string' ? m.slice(0, 500) : undefined;
}

export class CallSpan {
  private ended = false;

  constructor(readonly span: Span) {}

  get isEnded(): boolean {
    return this.ended;
  }

  setAttributes(attrs: Attributes): void {
    if (this.ended) return;
    try {
      this.span.setAttributes(attrs);
    } catch {
      // ignore
    }
  }

  /** The call failed: error.type, HTTP status and span status, then end. */
  fail(err: unknown): void {
    if (this.ended) return;
    try {
      this.span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
      const status = errorStatus(err);
      if (status !== undefined) this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
    } catch {
      // ignore
    }
    this.end();
  }

  /** The app stopped reading a stream before its end. */
  cancelled(): void {
    this.markError(ERROR_TYPE_CANCELLED, 'stream cancelled by the application');
    this.end();
  }

  /** A stream stopped because the app's AbortSignal fired. */
  aborted(): void {
    this.markError(ERROR_TYPE_ABORTED, 'stream aborted');
    this.end();
  }

  private markError(type: string, message: string): void {
    if (this.ended) return;
    try {
      this.span.setAttribute(ATTR_ERROR_TYPE, type);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message });
    } catch {
      // ignore
    }
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

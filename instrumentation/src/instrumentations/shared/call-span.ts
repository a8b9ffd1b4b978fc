/**
 * The span of one provider call, ended exactly once whichever ending comes first (result, stream
 * end, cancellation, error), and how an ending records an error. Every provider's call builds on it.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { isPolicyError, type PolicyError } from '../../errors';
import { noteSpanEnded } from '../../exit-flush';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_TL_ENFORCEMENT,
  ATTR_TL_POLICY,
  ENFORCEMENT_BLOCKED,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_CANCELLED,
} from '../../semconv';
import type { ErrorReader } from './errors';

/** error.type, the HTTP status when known and the ERROR span status. */
function recordError(span: Span, type: string, message: string | undefined, httpStatus?: number): void {
  span.setAttribute(ATTR_ERROR_TYPE, type);
  if (httpStatus !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, httpStatus);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** A call the guard blocked: enforcement=blocked, the policy, error.type = the error's class. Never throws. */
export function markBlocked(span: Span, err: PolicyError): void {
  try {
    span.setAttribute(ATTR_TL_ENFORCEMENT, ENFORCEMENT_BLOCKED);
    if (err.policy !== undefined) span.setAttribute(ATTR_TL_POLICY, err.policy);
    recordError(span, err.name, err.message);
  } catch {
    // ignore
  }
}

/** Ends a call span and tells the exit flush about it; never throws. */
export function endSpan(span: Span): void {
  try {
    span.end();
    noteSpanEnded(span);
  } catch {
    // never throw into the app
  }
}

export class CallSpan {
  private ended = false;

  constructor(
    readonly span: Span,
    private readonly errors: ErrorReader,
  ) {}

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

  /** The call failed: error.type (`type` when given, else the SDK error's), HTTP status, span status; then end. */
  fail(err: unknown, type?: string): void {
    if (this.ended) return;
    // The guard blocked it after a wait (see PendingVerdict): it never left, and its span says so.
    if (isPolicyError(err)) {
      markBlocked(this.span, err);
      this.end();
      return;
    }
    try {
      const errors = this.errors;
      recordError(this.span, type ?? errors.type(err), errors.message(err), errors.status(err));
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

  /** Marks the span as failed without ending it. */
  protected markError(type: string, message: string): void {
    if (this.ended) return;
    try {
      recordError(this.span, type, message);
    } catch {
      // ignore
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.beforeEnd();
    } catch {
      // the span is ended all the same
    }
    endSpan(this.span);
  }

  /** Last attributes before the span ends (what a call collected along the way). */
  protected beforeEnd(): void {}
}

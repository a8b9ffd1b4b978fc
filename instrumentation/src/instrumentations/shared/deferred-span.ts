/**
 * Call spans whose SDK span is built after the call has ended, in batches, off the app's request path.
 *
 * Why: in the overhead benchmark, starting and ending an SDK span inside a call costs ~20 µs (between
 * two calls the app's own work evicts the SDK's code and data from the CPU caches: ID generation,
 * attribute sanitising, the span object, the processor), while the same work done in a tight batch
 * costs ~4 µs a span. So a call records what its span needs (name, kind, attributes, status, parent
 * context, start and end times from `performance.now()`) in a DeferredSpan; once the call has ended, the
 * SDK span is created with those times and ended on the next turn of the event loop (setImmediate), or
 * sooner when the provider flushes. Anything that needs the real span first (its span context, for an
 * SDK that records child spans; an event) promotes the DeferredSpan on the spot, and from then on it
 * delegates to the SDK span.
 *
 * Only under tokenledger's own TracerProvider (AlwaysOn sampler): an app's provider sees the span
 * start when the call starts, as its processors may expect.
 */
import {
  context,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '../../suppress-tracing';
import { performance } from 'node:perf_hooks';

let enabled = false;

/** Turns deferral on (tokenledger's own provider is the global one) or off (tests). */
export function enableDeferredSpans(on = true): void {
  enabled = on;
}

/** Ended spans waiting for their SDK span. */
let pending: DeferredSpan[] = [];
let scheduled = false;
/** A burst that never yields to the event loop still gets its spans built in batches of this size. */
const MAX_PENDING = 1024;

/** Builds and ends the SDK span of every ended DeferredSpan now. Never throws. */
export function materializePendingSpans(): void {
  scheduled = false;
  const batch = pending;
  if (batch.length === 0) return;
  pending = [];
  for (let i = 0; i < batch.length; i++) batch[i]!.promote();
}

function enqueue(span: DeferredSpan): void {
  pending.push(span);
  if (pending.length >= MAX_PENDING) {
    materializePendingSpans();
  } else if (!scheduled) {
    scheduled = true;
    setImmediate(materializePendingSpans);
  }
}

export class DeferredSpan implements Span {
  private real: Span | undefined;
  private readonly own: Attributes;
  private status: SpanStatus | undefined;
  private ended = false;
  /** performance.now() at the start and the end; the SDK converts them with its own time origin. */
  private readonly startTime: number;
  private endTime: TimeInput | undefined;

  constructor(
    private readonly tracer: Tracer,
    private name: string,
    private readonly kind: SpanKind | undefined,
    attributes: Attributes | undefined,
    private readonly parent: Context,
  ) {
    this.startTime = performance.now();
    // Kept, not copied: every caller passes a fresh object it no longer changes.
    this.own = attributes ?? {};
  }

  /** The attributes so far (what span-end listeners read, as they read an SDK span's). */
  get attributes(): Attributes {
    return this.real
      ? ((this.real as unknown as { attributes?: Attributes }).attributes ?? this.own)
      : this.own;
  }

  /** The SDK span, created (and ended, if this span has ended) now if it was not yet. Never throws. */
  promote(): Span {
    if (this.real) return this.real;
    try {
      const real = this.tracer.startSpan(
        this.name,
        { kind: this.kind, attributes: this.own, startTime: this.startTime },
        this.parent,
      );
      this.real = real;
      if (this.status) real.setStatus(this.status);
      if (this.ended) real.end(this.endTime);
      return real;
    } catch {
      // The SDK failed: nothing to delegate to; behave as a non-recording span from now on.
      this.ended = true;
      return this;
    }
  }

  spanContext(): SpanContext {
    const real = this.promote();
    if (real === this) return { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 };
    return real.spanContext();
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.real) this.real.setAttribute(key, value);
    else if (!this.ended && value !== undefined && value !== null) this.own[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (this.real) {
      this.real.setAttributes(attributes);
    } else if (!this.ended) {
      for (const key in attributes) {
        const value = attributes[key];
        if (value !== undefined && value !== null) this.own[key] = value;
      }
    }
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.real) this.real.setStatus(status);
    else if (!this.ended) this.status = status;
    return this;
  }

  updateName(name: string): this {
    if (this.real) this.real.updateName(name);
    else if (!this.ended) this.name = name;
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    this.promote().addEvent(name, attributesOrStartTime, startTime);
    return this;
  }

  addLink(link: Link): this {
    this.promote().addLink(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.promote().addLinks(links);
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    this.promote().recordException(exception, time);
  }

  end(endTime?: TimeInput): void {
    if (this.real) {
      this.real.end(endTime);
      return;
    }
    if (this.ended) return;
    this.ended = true;
    this.endTime = endTime ?? performance.now();
    enqueue(this);
  }

  isRecording(): boolean {
    return this.real ? this.real.isRecording() : !this.ended;
  }
}

/** A tracer whose plain startSpan defers the SDK span (see above); everything else goes to the SDK. */
class DeferringTracer implements Tracer {
  constructor(private readonly tracer: Tracer) {}

  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    const parent = ctx ?? context.active();
    if (
      !enabled ||
      isTracingSuppressed(parent) ||
      options?.root === true ||
      options?.startTime !== undefined ||
      (options?.links !== undefined && options.links.length > 0)
    ) {
      return this.tracer.startSpan(name, options, parent);
    }
    return new DeferredSpan(this.tracer, name, options?.kind, options?.attributes, parent);
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((...args: unknown[]) =>
    (this.tracer.startActiveSpan as (...a: unknown[]) => unknown).apply(
      this.tracer,
      args,
    )) as Tracer['startActiveSpan'];
}

const deferring = new WeakMap<Tracer, Tracer>();

/** The tracer instrumentations start their call spans with: `tracer`, deferring when enabled. */
export function callTracer(tracer: Tracer): Tracer {
  let t = deferring.get(tracer);
  if (!t) {
    t = new DeferringTracer(tracer);
    deferring.set(tracer, t);
  }
  return t;
}

/**
 * tokenledger's private tracer provider: never registered as the global one, handed to its own
 * instrumentations only. Every span is recorded and sampled (a cost record is never sampled away);
 * a span started under another span, whoever's, joins its trace.
 */
import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '../suppress-tracing';
import { newSpanId, newTraceId } from './ids';
import { PipelineSpan, type InstrumentationScope, type SpanSink } from './span';

type ActiveFn = (span: Span) => unknown;

class PipelineTracer implements Tracer {
  constructor(
    private readonly sink: SpanSink,
    private readonly scope: InstrumentationScope,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parent = options.root ? undefined : trace.getSpanContext(ctx);
    const validParent = parent && trace.isSpanContextValid(parent) ? parent : undefined;
    const spanContext = {
      traceId: validParent ? validParent.traceId : newTraceId(),
      spanId: newSpanId(),
      traceFlags: TraceFlags.SAMPLED,
      ...(validParent?.traceState ? { traceState: validParent.traceState } : {}),
    };
    return new PipelineSpan(
      this.sink,
      this.scope,
      name,
      options.kind ?? SpanKind.INTERNAL,
      spanContext,
      validParent?.spanId,
      options.attributes,
      options.links,
      options.startTime,
    );
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((name: string, ...rest: unknown[]) => {
    const fn = rest[rest.length - 1] as ActiveFn;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const parent = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const parentContext = parent ?? context.active();
    const span = this.startSpan(name, options, parentContext);
    return context.with(trace.setSpan(parentContext, span), fn, undefined, span);
  }) as Tracer['startActiveSpan'];
}

/** Where ended spans go: the batch processor, which exports them. */
export interface SpanProcessor extends SpanSink {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export class PipelineTracerProvider implements TracerProvider {
  private readonly tracers = new Map<string, Tracer>();

  constructor(private readonly processor: SpanProcessor) {}

  getTracer(name: string, version?: string): Tracer {
    const key = `${name}@${version ?? ''}`;
    let tracer = this.tracers.get(key);
    if (!tracer) {
      tracer = new PipelineTracer(this.processor, { name, ...(version ? { version } : {}) });
      this.tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }
}

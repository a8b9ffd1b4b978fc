/** Builds real OTLP bodies with the OpenTelemetry JS SDK and its official encoders. */
import { SpanKind, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';

/** Collects finished spans synchronously (the SDK's exporting processors work asynchronously). */
class CollectingProcessor implements SpanProcessor {
  readonly spans: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface SpanSpec {
  name: string;
  attributes: OtelAttributes;
  scope?: string;
  kind?: SpanKind;
  startTime?: Date;
}

/** Records the given spans (one tracer per scope name) and returns the finished ReadableSpans. */
export function recordSpans(resource: OtelAttributes, specs: SpanSpec[]): ReadableSpan[] {
  const processor = new CollectingProcessor();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [processor],
  });
  for (const s of specs) {
    const tracer = provider.getTracer(s.scope ?? 'tokenledger', '0.1.0');
    const start = s.startTime ?? new Date('2025-06-01T12:00:00.123Z');
    const span = tracer.startSpan(s.name, {
      kind: s.kind ?? SpanKind.CLIENT,
      attributes: s.attributes,
      startTime: start,
    });
    span.end(new Date(start.getTime() + 1500));
  }
  return processor.spans;
}

export function protobufBody(spans: ReadableSpan[]): Buffer {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error('protobuf serialisation failed');
  return Buffer.from(bytes);
}

export function jsonBody(spans: ReadableSpan[]): Buffer {
  const bytes = JsonTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error('JSON serialisation failed');
  return Buffer.from(bytes);
}

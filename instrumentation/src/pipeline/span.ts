/**
 * A span of tokenledger's own pipeline: records what OTLP carries and hands itself to its tracer's
 * processor when it ends. Implements the public `Span` interface only, so instrumentations cannot
 * tell it from an SDK span.
 */
import {
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import { toHrTime } from './time';

export interface InstrumentationScope {
  readonly name: string;
  readonly version?: string;
}

export interface SpanEvent {
  readonly name: string;
  readonly time: HrTime;
  readonly attributes: Attributes;
}

/** What a span hands over when it ends. */
export interface SpanSink {
  onEnd(span: PipelineSpan): void;
}

/** Attribute values as OTLP carries them; anything else (null, undefined, objects) is dropped. */
function isValidValue(value: unknown): value is AttributeValue {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  return Array.isArray(value);
}

export class PipelineSpan implements Span {
  readonly attributes: Attributes = {};
  readonly events: SpanEvent[] = [];
  readonly links: Link[];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly startTime: HrTime;
  endTime: HrTime | undefined;
  private ended = false;

  constructor(
    private readonly sink: SpanSink,
    readonly scope: InstrumentationScope,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanId: string | undefined,
    attributes: Attributes | undefined,
    links: Link[] | undefined,
    startTime: TimeInput | undefined,
  ) {
    this.startTime = toHrTime(startTime);
    this.links = links ? links.slice() : [];
    if (attributes) this.setAttributes(attributes);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended && key && isValidValue(value)) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timeFirst =
      typeof attributesOrTime === 'number' ||
      Array.isArray(attributesOrTime) ||
      attributesOrTime instanceof Date;
    const attributes: Attributes = {};
    if (!timeFirst && attributesOrTime) {
      for (const key in attributesOrTime as Attributes) {
        const v = (attributesOrTime as Attributes)[key];
        if (isValidValue(v)) attributes[key] = v;
      }
    }
    this.events.push({
      name,
      attributes,
      time: toHrTime(timeFirst ? (attributesOrTime as TimeInput) : time),
    });
    return this;
  }

  addLink(link: Link): this {
    if (!this.ended) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) return this;
    // As the SDK: OK is final, UNSET changes nothing.
    if (this.status.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this;
    this.status = status.code === SpanStatusCode.ERROR ? status : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception) {
      if (exception.code !== undefined) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endTime = toHrTime(endTime);
    this.sink.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }
}

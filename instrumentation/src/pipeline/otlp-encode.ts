/**
 * OTLP trace export requests (`ExportTraceServiceRequest`, opentelemetry-proto trace/v1), encoded
 * from tokenledger's own spans: protobuf with protobufjs' Writer, field by field (the field numbers
 * are those of the .proto files), or OTLP/JSON. One resource, spans grouped by instrumentation scope.
 */
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import { Writer } from 'protobufjs/minimal';
import type { PipelineSpan } from './span';
import { hrTimeToBits, hrTimeToNanosString } from './time';

const LEN = 2;
const VARINT = 0;
const FIXED64 = 1;
const FIXED32 = 5;
const DOUBLE = 1;

const tag = (field: number, wire: number): number => (field << 3) | wire;

function groupByScope(spans: readonly PipelineSpan[]): PipelineSpan[][] {
  const groups = new Map<string, PipelineSpan[]>();
  for (const span of spans) {
    const key = `${span.scope.name}@${span.scope.version ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(span);
    else groups.set(key, [span]);
  }
  return [...groups.values()];
}

// ---- protobuf ----

function writeAnyValue(w: Writer, value: AttributeValue | undefined): void {
  if (typeof value === 'string') w.uint32(tag(1, LEN)).string(value);
  else if (typeof value === 'boolean') w.uint32(tag(2, VARINT)).bool(value);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) w.uint32(tag(3, VARINT)).int64(value);
    else w.uint32(tag(4, DOUBLE)).double(value);
  } else if (Array.isArray(value)) {
    w.uint32(tag(5, LEN)).fork();
    for (const item of value) {
      w.uint32(tag(1, LEN)).fork();
      if (item !== null && item !== undefined) writeAnyValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  }
}

function writeAttributes(w: Writer, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    w.uint32(tag(field, LEN)).fork();
    w.uint32(tag(1, LEN)).string(key);
    w.uint32(tag(2, LEN)).fork();
    writeAnyValue(w, value);
    w.ldelim();
    w.ldelim();
  }
}

function writeTime(w: Writer, field: number, time: HrTime): void {
  w.uint32(tag(field, FIXED64)).fixed64(hrTimeToBits(time) as unknown as number);
}

function writeSpan(w: Writer, span: PipelineSpan): void {
  const ctx = span.spanContext();
  w.uint32(tag(1, LEN)).bytes(Buffer.from(ctx.traceId, 'hex'));
  w.uint32(tag(2, LEN)).bytes(Buffer.from(ctx.spanId, 'hex'));
  const traceState = ctx.traceState?.serialize();
  if (traceState) w.uint32(tag(3, LEN)).string(traceState);
  if (span.parentSpanId) w.uint32(tag(4, LEN)).bytes(Buffer.from(span.parentSpanId, 'hex'));
  w.uint32(tag(5, LEN)).string(span.name);
  // OTLP's SpanKind is the API's plus one (0 is UNSPECIFIED there).
  w.uint32(tag(6, VARINT)).int32(span.kind + 1);
  writeTime(w, 7, span.startTime);
  writeTime(w, 8, span.endTime ?? span.startTime);
  writeAttributes(w, 9, span.attributes);
  for (const event of span.events) {
    w.uint32(tag(11, LEN)).fork();
    writeTime(w, 1, event.time);
    w.uint32(tag(2, LEN)).string(event.name);
    writeAttributes(w, 3, event.attributes);
    w.ldelim();
  }
  for (const link of span.links) {
    w.uint32(tag(13, LEN)).fork();
    w.uint32(tag(1, LEN)).bytes(Buffer.from(link.context.traceId, 'hex'));
    w.uint32(tag(2, LEN)).bytes(Buffer.from(link.context.spanId, 'hex'));
    if (link.attributes) writeAttributes(w, 4, link.attributes);
    w.ldelim();
  }
  if (span.status.code !== 0 || span.status.message) {
    w.uint32(tag(15, LEN)).fork();
    if (span.status.message) w.uint32(tag(2, LEN)).string(span.status.message);
    w.uint32(tag(3, VARINT)).int32(span.status.code);
    w.ldelim();
  }
  w.uint32(tag(16, FIXED32)).fixed32(ctx.traceFlags);
}

export function encodeProtobuf(resource: Attributes, spans: readonly PipelineSpan[]): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, LEN)).fork(); // ResourceSpans
  w.uint32(tag(1, LEN)).fork(); // Resource
  writeAttributes(w, 1, resource);
  w.ldelim();
  for (const group of groupByScope(spans)) {
    const scope = group[0]!.scope;
    w.uint32(tag(2, LEN)).fork(); // ScopeSpans
    w.uint32(tag(1, LEN)).fork(); // InstrumentationScope
    w.uint32(tag(1, LEN)).string(scope.name);
    if (scope.version) w.uint32(tag(2, LEN)).string(scope.version);
    w.ldelim();
    for (const span of group) {
      w.uint32(tag(2, LEN)).fork();
      writeSpan(w, span);
      w.ldelim();
    }
    w.ldelim();
  }
  w.ldelim();
  return w.finish();
}

// ---- OTLP/JSON ----

type JsonValue = Record<string, unknown>;

function jsonAnyValue(value: AttributeValue | undefined | null): JsonValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number')
    return Number.isSafeInteger(value) ? { intValue: value } : { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map((v) => jsonAnyValue(v)) } };
  return {};
}

function jsonAttributes(attributes: Attributes): JsonValue[] {
  const out: JsonValue[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out.push({ key, value: jsonAnyValue(value) });
  }
  return out;
}

function jsonSpan(span: PipelineSpan): JsonValue {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    ...(ctx.traceState ? { traceState: ctx.traceState.serialize() } : {}),
    ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
    name: span.name,
    kind: span.kind + 1,
    startTimeUnixNano: hrTimeToNanosString(span.startTime),
    endTimeUnixNano: hrTimeToNanosString(span.endTime ?? span.startTime),
    attributes: jsonAttributes(span.attributes),
    events: span.events.map((e) => ({
      timeUnixNano: hrTimeToNanosString(e.time),
      name: e.name,
      attributes: jsonAttributes(e.attributes),
    })),
    links: span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      attributes: jsonAttributes(l.attributes ?? {}),
    })),
    status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
    flags: ctx.traceFlags,
  };
}

export function encodeJson(resource: Attributes, spans: readonly PipelineSpan[]): Uint8Array {
  const request = {
    resourceSpans: [
      {
        resource: { attributes: jsonAttributes(resource) },
        scopeSpans: groupByScope(spans).map((group) => ({
          scope: {
            name: group[0]!.scope.name,
            ...(group[0]!.scope.version ? { version: group[0]!.scope.version } : {}),
          },
          spans: group.map(jsonSpan),
        })),
      },
    ],
  };
  return Buffer.from(JSON.stringify(request), 'utf8');
}

/**
 * One protobuf request carrying the spans of several: `resource_spans` is a repeated field, and
 * concatenated protobuf messages decode as one with their repeated fields appended.
 */
export function mergeProtobufRequests(bodies: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(bodies);
}

/** One JSON request carrying the spans of several: their `resourceSpans` in order. */
export function mergeJsonRequests(bodies: readonly Uint8Array[]): Uint8Array {
  const resourceSpans: unknown[] = [];
  for (const body of bodies) {
    const request = JSON.parse(Buffer.from(body).toString('utf8')) as { resourceSpans?: unknown[] };
    resourceSpans.push(...(request.resourceSpans ?? []));
  }
  return Buffer.from(JSON.stringify({ resourceSpans }), 'utf8');
}

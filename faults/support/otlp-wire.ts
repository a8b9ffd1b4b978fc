/**
 * OTLP trace export requests written by hand, protobuf and JSON, for bodies no SDK would produce:
 * hundreds of thousands of spans, values nested thousands of levels deep, attribute values of
 * megabytes. Field numbers are those of opentelemetry-proto (collector/proto).
 */
import * as protobuf from 'protobufjs';

export type WireValue =
  | { string: string }
  | { int: number }
  | { bool: boolean }
  | { double: number }
  | { array: WireValue[] }
  | { kvlist: WireAttr[] };

export interface WireAttr {
  key: string;
  value: WireValue;
}

export interface WireSpan {
  traceId: string; // hex, any length (invalid ids are part of the game)
  spanId: string;
  name: string;
  startNanos: bigint;
  endNanos: bigint;
  kind?: number;
  attributes: WireAttr[];
}

export interface WireRequest {
  resource: WireAttr[];
  scope: string;
  spans: WireSpan[];
}

/** A string attribute. */
export const attr = (key: string, value: string | number | boolean): WireAttr => ({
  key,
  value:
    typeof value === 'string'
      ? { string: value }
      : typeof value === 'boolean'
        ? { bool: value }
        : Number.isInteger(value)
          ? { int: value }
          : { double: value },
});

function writeValue(w: protobuf.Writer, v: WireValue): void {
  if ('string' in v) w.uint32((1 << 3) | 2).string(v.string);
  else if ('bool' in v) w.uint32((2 << 3) | 0).bool(v.bool);
  else if ('int' in v) w.uint32((3 << 3) | 0).int64(v.int);
  else if ('double' in v) w.uint32((4 << 3) | 1).double(v.double);
  else if ('array' in v) {
    w.uint32((5 << 3) | 2).fork();
    for (const el of v.array) {
      w.uint32((1 << 3) | 2).fork();
      writeValue(w, el);
      w.ldelim();
    }
    w.ldelim();
  } else {
    w.uint32((6 << 3) | 2).fork();
    for (const kv of v.kvlist) writeKeyValue(w, 1, kv);
    w.ldelim();
  }
}

function writeKeyValue(w: protobuf.Writer, field: number, kv: WireAttr): void {
  w.uint32((field << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(kv.key);
  w.uint32((2 << 3) | 2).fork();
  writeValue(w, kv.value);
  w.ldelim();
  w.ldelim();
}

function writeFixed64(w: protobuf.Writer, field: number, n: bigint): void {
  w.uint32((field << 3) | 1)
    .fixed32(Number(n & 0xffffffffn))
    .fixed32(Number(n >> 32n));
}

/** ExportTraceServiceRequest with one resource and one scope. */
export function protobufRequest(req: WireRequest): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork(); // resource_spans
  w.uint32((1 << 3) | 2).fork(); // resource
  for (const kv of req.resource) writeKeyValue(w, 1, kv);
  w.ldelim();
  w.uint32((2 << 3) | 2).fork(); // scope_spans
  w.uint32((1 << 3) | 2).fork(); // scope
  w.uint32((1 << 3) | 2).string(req.scope);
  w.ldelim();
  for (const s of req.spans) {
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).bytes(Buffer.from(s.traceId, 'hex'));
    w.uint32((2 << 3) | 2).bytes(Buffer.from(s.spanId, 'hex'));
    w.uint32((5 << 3) | 2).string(s.name);
    w.uint32((6 << 3) | 0).int32(s.kind ?? 3);
    writeFixed64(w, 7, s.startNanos);
    writeFixed64(w, 8, s.endNanos);
    for (const kv of s.attributes) writeKeyValue(w, 9, kv);
    w.ldelim();
  }
  w.ldelim();
  w.ldelim();
  return Buffer.from(w.finish());
}

function jsonValue(v: WireValue): unknown {
  if ('string' in v) return { stringValue: v.string };
  if ('bool' in v) return { boolValue: v.bool };
  if ('int' in v) return { intValue: String(v.int) };
  if ('double' in v) return { doubleValue: v.double };
  if ('array' in v) return { arrayValue: { values: v.array.map(jsonValue) } };
  return { kvlistValue: { values: v.kvlist.map(jsonAttr) } };
}

const jsonAttr = (kv: WireAttr): unknown => ({ key: kv.key, value: jsonValue(kv.value) });

/** The same request in the OTLP JSON mapping. */
export function jsonRequest(req: WireRequest): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: req.resource.map(jsonAttr) },
          scopeSpans: [
            {
              scope: { name: req.scope },
              spans: req.spans.map((s) => ({
                traceId: s.traceId,
                spanId: s.spanId,
                name: s.name,
                kind: s.kind ?? 3,
                startTimeUnixNano: String(s.startNanos),
                endTimeUnixNano: String(s.endNanos),
                attributes: s.attributes.map(jsonAttr),
              })),
            },
          ],
        },
      ],
    }),
  );
}

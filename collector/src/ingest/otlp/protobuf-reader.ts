/**
 * application/x-protobuf ExportTraceServiceRequest → OtlpTraceRequest, read field by field with
 * protobufjs' Reader straight into the normalised shape.
 *
 * Why not the schema's generated decoder (./protobuf.ts keeps the schema for the response and for
 * tests): it builds a message object per KeyValue and per AnyValue (~40 per GenAI span), a Long per
 * timestamp and a Buffer per id, which were then converted again; on the ingest path that was the
 * largest share of the collector's CPU and garbage. The OpenTelemetry JS SDK writes its OTLP
 * protobuf by hand for the same reason. Field numbers are those of opentelemetry-proto
 * (collector/proto); unknown fields and unexpected wire types are skipped as protobuf requires, and
 * any read past the end throws (reported as a 400 by the caller).
 */
import * as protobuf from 'protobufjs';
import {
  Reasons,
  addAttr,
  int64ToAttr,
  MAX_VALUE_DEPTH,
  normaliseParentId,
  setEntry,
  spanIdProblem,
  startTimeProblem,
  traceIdProblem,
  type RawValue,
} from './normalize';
import type { Attributes, OtlpResourceSpans, OtlpScopeSpans, OtlpSpan, OtlpTraceRequest } from './types';

type Reader = protobuf.Reader & { buf: Buffer };

/** A tag: field number << 3 | wire type (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit). */
const tag = (field: number, wire: number): number => (field << 3) | wire;
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const GROUP_START = 3;
const GROUP_END = 4;

/** End offset of the length-delimited field whose length comes next. */
function endOfField(r: Reader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new RangeError(`index out of range: ${r.pos} + ${length} > ${r.len}`);
  return end;
}

/** Lowercase hex of a bytes field, without copying it out of the body. */
function hexField(r: Reader): string {
  const end = endOfField(r);
  const hex = r.buf.toString('hex', r.pos, end);
  r.pos = end;
  return hex;
}

/** A fixed64 as its exact decimal string (timestamps exceed 2^53). */
function fixed64Field(r: Reader): string {
  const low = r.fixed32();
  const high = r.fixed32();
  if (high < 0x200000) return String(high * 0x100000000 + low); // below 2^53: exact as a double
  return ((BigInt(high) << 32n) | BigInt(low)).toString();
}

/** `depth`: how many arrays and kvlists enclose the value (0 for an attribute's own value). */
function readAnyValue(r: Reader, end: number, depth: number): RawValue | undefined {
  if (depth > MAX_VALUE_DEPTH) {
    r.pos = end; // deeper values are dropped: the attribute loses only them, the stack stays bounded
    return undefined;
  }
  let value: RawValue | undefined;
  while (r.pos < end) {
    const t = r.uint32();
    switch (t) {
      case tag(1, LEN):
        value = r.string();
        break;
      case tag(2, VARINT):
        value = r.bool();
        break;
      case tag(3, VARINT):
        value = int64ToAttr(r.int64() as unknown as Parameters<typeof int64ToAttr>[0]);
        break;
      case tag(4, I64):
        value = r.double();
        break;
      case tag(5, LEN):
        value = readArray(r, endOfField(r), depth + 1);
        break;
      case tag(6, LEN):
        value = readKeyValues(r, endOfField(r), {}, depth + 1);
        break;
      case tag(7, LEN):
        value = Buffer.from(r.bytes()).toString('base64');
        break;
      default:
        skipField(r, t);
    }
  }
  return value;
}

/** ArrayValue: its elements, nested structures kept as they are (serialised once, at the attribute). */
function readArray(r: Reader, end: number, depth: number): RawValue[] {
  const out: RawValue[] = [];
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) {
      const v = readAnyValue(r, endOfField(r), depth);
      if (v !== undefined) out.push(v);
    } else {
      skipField(r, t);
    }
  }
  return out;
}

/**
 * One KeyValue into `target`; `depth` > 0: inside a kvlist (entries stay decoded values), 0: an
 * attribute (its value becomes an AttrValue).
 */
function readKeyValue(r: Reader, end: number, target: Record<string, unknown>, depth: number): void {
  let key = '';
  let value: RawValue | undefined;
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) {
      key = r.string();
    } else if (t === tag(2, LEN)) {
      value = readAnyValue(r, endOfField(r), depth);
    } else {
      skipField(r, t);
    }
  }
  if (depth > 0) setEntry(target as Record<string, RawValue>, key, value);
  else addAttr(target as Attributes, key, value);
}

/** The repeated KeyValue field 1 of the message ending at `end` (attributes, or a kvlist's values). */
function readKeyValues<T extends Record<string, unknown>>(
  r: Reader,
  end: number,
  target: T,
  depth: number,
): T {
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) readKeyValue(r, endOfField(r), target, depth);
    else skipField(r, t);
  }
  return target;
}

/**
 * Skips an unknown field, as protobuf requires. Groups (wire types 3/4, which OTLP never uses) are
 * skipped without recursion and only MAX_VALUE_DEPTH deep: protobufjs' own skipType recurses per
 * level, so a body of nested group starts exhausted the stack.
 */
function skipField(r: Reader, t: number): void {
  if ((t & 7) !== GROUP_START) {
    r.skipType(t & 7);
    return;
  }
  let open = 1;
  while (open > 0) {
    const inner = r.uint32() & 7;
    if (inner === GROUP_START) {
      if (++open > MAX_VALUE_DEPTH)
        throw new RangeError(`groups nested deeper than ${MAX_VALUE_DEPTH} levels`);
    } else if (inner === GROUP_END) open--;
    else r.skipType(inner);
  }
}

function readStatus(r: Reader, end: number): { code: number; message: string } {
  const status = { code: 0, message: '' };
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(2, LEN)) status.message = r.string();
    else if (t === tag(3, VARINT)) status.code = r.int32();
    else skipField(r, t);
  }
  return status;
}

function readSpan(r: Reader, end: number, out: OtlpSpan[], rejections: Reasons): void {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let kind = 0;
  let startTimeUnixNano = '0';
  let endTimeUnixNano = '0';
  const attributes: Attributes = {};
  let status = { code: 0, message: '' };
  while (r.pos < end) {
    const t = r.uint32();
    switch (t) {
      case tag(1, LEN):
        traceId = hexField(r);
        break;
      case tag(2, LEN):
        spanId = hexField(r);
        break;
      case tag(4, LEN):
        parentSpanId = hexField(r);
        break;
      case tag(5, LEN):
        name = r.string();
        break;
      case tag(6, VARINT):
        kind = r.int32();
        break;
      case tag(7, I64):
        startTimeUnixNano = fixed64Field(r);
        break;
      case tag(8, I64):
        endTimeUnixNano = fixed64Field(r);
        break;
      case tag(9, LEN):
        readKeyValue(r, endOfField(r), attributes, 0);
        break;
      case tag(15, LEN):
        status = readStatus(r, endOfField(r));
        break;
      default:
        skipField(r, t);
    }
  }
  const problem = traceIdProblem(traceId) || spanIdProblem(spanId) || startTimeProblem(startTimeUnixNano);
  if (problem) {
    rejections.add(`span '${name}': ${problem}`);
    return;
  }
  out.push({
    traceId,
    spanId,
    parentSpanId: normaliseParentId(parentSpanId),
    name,
    kind,
    startTimeUnixNano,
    endTimeUnixNano,
    attributes,
    status,
  });
}

function readScope(r: Reader, end: number): { name: string; version: string } {
  const scope = { name: '', version: '' };
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) scope.name = r.string();
    else if (t === tag(2, LEN)) scope.version = r.string();
    else skipField(r, t);
  }
  return scope;
}

function readScopeSpans(r: Reader, end: number, rejections: Reasons): OtlpScopeSpans {
  let scope = { name: '', version: '' };
  const spans: OtlpSpan[] = [];
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) scope = readScope(r, endOfField(r));
    else if (t === tag(2, LEN)) readSpan(r, endOfField(r), spans, rejections);
    else skipField(r, t);
  }
  return { scope, spans };
}

function readResourceSpans(r: Reader, end: number, rejections: Reasons): OtlpResourceSpans {
  let resource: Attributes = {};
  const scopeSpans: OtlpScopeSpans[] = [];
  while (r.pos < end) {
    const t = r.uint32();
    if (t === tag(1, LEN)) resource = readKeyValues(r, endOfField(r), {}, 0) as Attributes;
    else if (t === tag(2, LEN)) scopeSpans.push(readScopeSpans(r, endOfField(r), rejections));
    else skipField(r, t);
  }
  return { resource, scopeSpans };
}

/** Decodes an ExportTraceServiceRequest; throws (RangeError, Error) on a malformed body. */
export function readTraceRequest(body: Uint8Array): OtlpTraceRequest {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = protobuf.Reader.create(buf) as Reader;
  const rejections = new Reasons();
  const resourceSpans: OtlpResourceSpans[] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t === tag(1, LEN)) resourceSpans.push(readResourceSpans(r, endOfField(r), rejections));
    else skipField(r, t);
  }
  return { resourceSpans, rejectedSpans: rejections.count, errorMessage: rejections.message() };
}

/**
 * application/x-protobuf: protobufjs over the vendored official opentelemetry-proto files.
 *
 * The .proto files are loaded at runtime (once, on first use) rather than compiled to a static
 * module with pbjs: protobufjs generates the same specialised decoder code either way, so there
 * is no speed difference, and this avoids a code-generation build step and a generated file to
 * keep in sync with the vendored protos (which ship in the package's `files`).
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import Long from 'long';
import { OtlpDecodeError } from './errors';
import {
  Rejections,
  addAttr,
  bytesToHex,
  int64ToAttr,
  normaliseParentId,
  spanIdProblem,
  toPrimitive,
  traceIdProblem,
  type LongLike,
} from './normalize';
import type {
  AttrPrimitive,
  AttrValue,
  Attributes,
  OtlpResourceSpans,
  OtlpSpan,
  OtlpTraceRequest,
} from './types';

/** `collector/proto`, from both `collector/src/otlp` (tests via tsx) and `collector/dist/otlp`. */
const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
const REQUEST_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const REQUEST_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';

let requestType: protobuf.Type | undefined;

/** The ExportTraceServiceRequest type, loaded on first use (exported for tests that craft bodies). */
export function getRequestType(): protobuf.Type {
  if (requestType) return requestType;
  // fixed64 timestamps need 64-bit precision: make sure protobufjs decodes them as Long.
  if (!protobuf.util.Long) {
    protobuf.util.Long = Long;
    protobuf.configure();
  }
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(REQUEST_PROTO);
  requestType = root.lookupType(REQUEST_TYPE);
  return requestType;
}

// Decoded message shapes (protobufjs camelCases field names; unset repeated fields are []).
interface PbAnyValue {
  /** The oneof's virtual discriminator: the name of the field that is set. */
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number;
  doubleValue?: number;
  arrayValue?: { values: PbAnyValue[] };
  kvlistValue?: { values: PbKeyValue[] };
  bytesValue?: Uint8Array;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue | null;
}
interface PbSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: LongLike | number;
  endTimeUnixNano: LongLike | number;
  attributes: PbKeyValue[];
  status?: { code: number; message: string } | null;
}
interface PbRequest {
  resourceSpans: {
    resource?: { attributes: PbKeyValue[] } | null;
    scopeSpans: {
      scope?: { name: string; version: string } | null;
      spans: PbSpan[];
    }[];
  }[];
}

export function decodeProtobuf(body: Uint8Array): OtlpTraceRequest {
  const type = getRequestType();
  let msg: PbRequest;
  try {
    msg = type.decode(body) as unknown as PbRequest;
  } catch (err) {
    throw new OtlpDecodeError(`invalid OTLP protobuf body: ${(err as Error).message}`, { cause: err });
  }
  const rejections = new Rejections();
  const resourceSpans: OtlpResourceSpans[] = msg.resourceSpans.map((rs) => ({
    resource: attrs(rs.resource?.attributes ?? []),
    scopeSpans: rs.scopeSpans.map((ss) => ({
      scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
      spans: normaliseSpans(ss.spans, rejections),
    })),
  }));
  return { resourceSpans, rejectedSpans: rejections.count, errorMessage: rejections.message() };
}

function normaliseSpans(spans: PbSpan[], rejections: Rejections): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const s of spans) {
    const traceId = bytesToHex(s.traceId);
    const spanId = bytesToHex(s.spanId);
    const problem = traceIdProblem(traceId) || spanIdProblem(spanId);
    if (problem) {
      rejections.reject(`span '${s.name}': ${problem}`);
      continue;
    }
    out.push({
      traceId,
      spanId,
      parentSpanId: normaliseParentId(bytesToHex(s.parentSpanId)),
      name: s.name,
      kind: s.kind,
      startTimeUnixNano: fixed64ToString(s.startTimeUnixNano),
      endTimeUnixNano: fixed64ToString(s.endTimeUnixNano),
      attributes: attrs(s.attributes),
      status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
    });
  }
  return out;
}

function fixed64ToString(v: LongLike | number): string {
  if (typeof v === 'number') return String(v);
  // fixed64 is unsigned whatever the Long's flag says. BigInt prints it natively (Long#toString
  // divides in JavaScript, a measurable share of decoding).
  return ((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

function attrs(kvs: PbKeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) {
    if (kv.value) addAttr(out, kv.key, anyValue(kv.value));
  }
  return out;
}

function anyValue(v: PbAnyValue): AttrValue | undefined {
  switch (v.value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return v.intValue === undefined ? undefined : int64ToAttr(v.intValue);
    case 'doubleValue':
      return v.doubleValue;
    case 'bytesValue':
      return v.bytesValue ? Buffer.from(v.bytesValue).toString('base64') : undefined;
    case 'arrayValue': {
      const out: AttrPrimitive[] = [];
      for (const el of v.arrayValue?.values ?? []) {
        const p = toPrimitive(el.value === 'kvlistValue' ? kvlistObject(el) : anyValue(el));
        if (p !== undefined) out.push(p);
      }
      return out;
    }
    case 'kvlistValue':
      return JSON.stringify(kvlistObject(v));
    default:
      return undefined; // an empty AnyValue
  }
}

function kvlistObject(v: PbAnyValue): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const kv of v.kvlistValue?.values ?? []) {
    if (!kv.value) continue;
    const inner = kv.value.value === 'kvlistValue' ? kvlistObject(kv.value) : anyValue(kv.value);
    if (inner !== undefined && kv.key !== '__proto__') obj[kv.key] = inner;
  }
  return obj;
}

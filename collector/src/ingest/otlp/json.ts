/**
 * application/json: the OTLP JSON mapping (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 * Ids are hex strings (base64 is accepted too, as some older senders used the plain proto3
 * mapping), 64-bit ints are strings or numbers, enums are ints (their names are accepted too),
 * field names are lowerCamelCase; the original snake_case names are accepted as the spec asks.
 */
import { OtlpDecodeError } from './errors';
import { pruneDeepJson } from './json-depth';
import {
  Reasons,
  addAttr,
  bytesToHex,
  int64ToAttr,
  isDecimalString,
  MAX_VALUE_DEPTH,
  normaliseParentId,
  setEntry,
  spanIdProblem,
  startTimeProblem,
  traceIdProblem,
  wellFormed,
  type RawValue,
} from './normalize';
import type { Attributes, OtlpResourceSpans, OtlpSpan, OtlpTraceRequest } from './types';

type Obj = Record<string, unknown>;

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

export function decodeJson(body: Buffer | string): OtlpTraceRequest {
  let parsed: unknown;
  try {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    parsed = JSON.parse(pruneDeepJson(bytes).toString('utf8'));
  } catch (err) {
    throw new OtlpDecodeError(`invalid OTLP JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObj(parsed))
    throw new OtlpDecodeError(`invalid OTLP JSON: expected an object, got ${kindOf(parsed)}`);
  const rejections = new Reasons();
  const rsList = optArray(field(parsed, 'resourceSpans', 'resource_spans'), 'resourceSpans');
  const resourceSpans: OtlpResourceSpans[] = rsList.map((rs, i) => {
    const where = `resourceSpans[${i}]`;
    const rso = asObj(rs, where);
    const resource = field(rso, 'resource');
    const resourceAttrs =
      resource === undefined || resource === null
        ? {}
        : attrs(field(asObj(resource, `${where}.resource`), 'attributes'), `${where}.resource.attributes`);
    const ssList = optArray(field(rso, 'scopeSpans', 'scope_spans'), `${where}.scopeSpans`);
    return {
      resource: resourceAttrs,
      scopeSpans: ssList.map((ss, j) => {
        const sw = `${where}.scopeSpans[${j}]`;
        const sso = asObj(ss, sw);
        const scope = field(sso, 'scope');
        const scopeObj = scope === undefined || scope === null ? {} : asObj(scope, `${sw}.scope`);
        const spans = optArray(field(sso, 'spans'), `${sw}.spans`);
        return {
          scope: { name: str(field(scopeObj, 'name')), version: str(field(scopeObj, 'version')) },
          spans: normaliseSpans(spans, sw, rejections),
        };
      }),
    };
  });
  return { resourceSpans, rejectedSpans: rejections.count, errorMessage: rejections.message() };
}

function normaliseSpans(spans: unknown[], where: string, rejections: Reasons): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  spans.forEach((raw, k) => {
    const sw = `${where}.spans[${k}]`;
    const s = asObj(raw, sw);
    const name = str(field(s, 'name'));
    const traceId = idToHex(field(s, 'traceId', 'trace_id'), 16);
    const spanId = idToHex(field(s, 'spanId', 'span_id'), 8);
    const start = nanos(field(s, 'startTimeUnixNano', 'start_time_unix_nano'));
    const end = nanos(field(s, 'endTimeUnixNano', 'end_time_unix_nano'));
    const problem =
      traceIdProblem(traceId) ||
      spanIdProblem(spanId) ||
      (start === null
        ? 'invalid startTimeUnixNano: expected an unsigned integer'
        : startTimeProblem(start)) ||
      (end === null ? 'invalid endTimeUnixNano: expected an unsigned integer' : '');
    if (problem || start === null || end === null) {
      rejections.add(`span '${name}' (${sw}): ${problem}`);
      return;
    }
    const status = field(s, 'status');
    const statusObj = isObj(status) ? status : {};
    out.push({
      traceId,
      spanId,
      parentSpanId: normaliseParentId(idToHex(field(s, 'parentSpanId', 'parent_span_id'), 8)),
      name,
      kind: enumValue(field(s, 'kind'), SPAN_KINDS),
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes: attrs(field(s, 'attributes'), `${sw}.attributes`),
      status: {
        code: enumValue(field(statusObj, 'code'), STATUS_CODES),
        message: str(field(statusObj, 'message')),
      },
    });
  });
  return out;
}

function attrs(list: unknown, where: string): Attributes {
  const out: Attributes = {};
  for (const kv of optArray(list, where)) {
    if (!isObj(kv) || typeof kv.key !== 'string') continue; // a malformed pair loses only itself
    addAttr(out, wellFormed(kv.key), isObj(kv.value) ? anyValue(kv.value) : undefined);
  }
  return out;
}

/**
 * `depth`: how many arrays and kvlists enclose the value (0 for an attribute's own value), counted
 * as the protobuf reader does, so that both encodings keep and drop the same levels.
 */
function anyValue(v: Obj, depth = 0): RawValue | undefined {
  if (depth > MAX_VALUE_DEPTH) return undefined; // the attribute loses only what is deeper
  const s = field(v, 'stringValue', 'string_value');
  if (typeof s === 'string') return wellFormed(s);
  const b = field(v, 'boolValue', 'bool_value');
  if (typeof b === 'boolean') return b;
  const i = field(v, 'intValue', 'int_value');
  if (typeof i === 'number' || (typeof i === 'string' && /^-?\d+$/.test(i.trim()))) return int64ToAttr(i);
  const d = field(v, 'doubleValue', 'double_value');
  if (typeof d === 'number') return d;
  if (typeof d === 'string' && d.trim() !== '') {
    // The JSON mapping writes non-finite doubles as "NaN", "Infinity", "-Infinity".
    const n = Number(d);
    if (!Number.isNaN(n) || d.trim() === 'NaN') return n;
  }
  const bytes = field(v, 'bytesValue', 'bytes_value');
  if (typeof bytes === 'string') return wellFormed(bytes);
  const arr = field(v, 'arrayValue', 'array_value');
  if (isObj(arr)) {
    const out: RawValue[] = [];
    for (const el of Array.isArray(arr.values) ? arr.values : []) {
      const value = isObj(el) ? anyValue(el, depth + 1) : undefined;
      if (value !== undefined) out.push(value);
    }
    return out;
  }
  const kvl = field(v, 'kvlistValue', 'kvlist_value');
  if (isObj(kvl)) return kvlistObject(kvl, depth + 1);
  return undefined;
}

/** A kvlist's entries (`depth`: its own level), nested values kept as they are. */
function kvlistObject(kvl: Obj, depth: number): { [key: string]: RawValue } {
  const obj: { [key: string]: RawValue } = {};
  if (depth > MAX_VALUE_DEPTH) return obj;
  for (const kv of Array.isArray(kvl.values) ? kvl.values : []) {
    if (!isObj(kv) || typeof kv.key !== 'string' || !isObj(kv.value)) continue;
    setEntry(obj, kv.key, anyValue(kv.value, depth));
  }
  return obj;
}

/** Hex (the OTLP JSON form) or base64 (plain proto3 JSON) → lowercase hex; '' when absent. */
function idToHex(v: unknown, bytes: number): string {
  if (typeof v !== 'string' || v === '') return '';
  if (v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) {
    const buf = Buffer.from(v, 'base64');
    if (buf.length === bytes) return bytesToHex(buf);
  }
  return v; // invalid; the caller reports it with the original text
}

/** A fixed64 timestamp as an exact decimal string, or null when it is not an unsigned integer. */
function nanos(v: unknown): string | null {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? BigInt(v).toString() : null;
  if (typeof v === 'string' && isDecimalString(v)) return v.replace(/^0+(?=\d)/, '');
  return null;
}

function enumValue(v: unknown, names: Record<string, number>): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') return names[v] ?? (/^\d+$/.test(v) ? Number(v) : 0);
  return 0;
}

function field(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  return v !== undefined || snake === undefined ? v : o[snake];
}

function optArray(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw new OtlpDecodeError(`invalid OTLP JSON: expected ${where} to be an array, got ${kindOf(v)}`);
  return v;
}

function asObj(v: unknown, where: string): Obj {
  if (!isObj(v))
    throw new OtlpDecodeError(`invalid OTLP JSON: expected ${where} to be an object, got ${kindOf(v)}`);
  return v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? wellFormed(v) : '';
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

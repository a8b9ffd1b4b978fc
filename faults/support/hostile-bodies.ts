/**
 * Hostile OTLP/HTTP requests, generated deterministically from a seed: malformed protobuf and JSON,
 * huge attribute values, deep nesting, gzip bombs, oversized and aborted bodies, many spans, wrong
 * media types and encodings, and mixed batches whose valid GenAI spans must be stored.
 *
 * Each body says how many valid GenAI calls it carries (each with its own trace and span id), so a
 * run can count them in the stored calls afterwards.
 */
import { gzipSync, deflateSync } from 'node:zlib';
import {
  attr,
  jsonRequest,
  protobufRequest,
  type WireAttr,
  type WireRequest,
  type WireSpan,
} from './otlp-wire';

export const PROTOBUF = 'application/x-protobuf';
export const JSON_TYPE = 'application/json';

export interface HostileBody {
  /** The family it belongs to (a row of the summary). */
  kind: string;
  contentType: string;
  /** Extra request headers (content-encoding, a lying content-length…). */
  headers?: Record<string, string>;
  body: Buffer;
  /** Sent with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  /** Only this many bytes are sent, then the connection is dropped. */
  abortAfter?: number;
  /** Valid GenAI calls in the body: stored once it is acknowledged (2xx). */
  validCalls: number;
}

/** The feature every counted call carries: what the stored calls are counted by. */
export const HOSTILE_FEATURE = 'fault-hostile';
/** The feature of calls in bodies meant to be refused (a cut body may still decode). */
const UNCOUNTED_FEATURE = 'fault-hostile-uncounted';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostileOptions {
  seed: number;
  /** The collector's body limit (bytes, after inflation): oversized bodies go just past it. */
  maxBodyBytes: number;
  /** Start times of valid spans fall in [windowStart, windowStart + 1 h). */
  windowStart: Date;
  /** How many huge-value, many-span and bomb bodies (the costly ones) per 1,000 bodies. */
  heavyPerMille: number;
}

/** The families and their share of the bodies (per 1,000; the costly ones scale with heavyPerMille). */
function families(heavy: number): Array<[string, number]> {
  const light: Array<[string, number]> = [
    ['garbage protobuf', 150],
    ['truncated protobuf', 100],
    ['garbage JSON', 150],
    ['media type / encoding', 50],
    ['mixed valid/invalid batch', 350],
    ['deep nesting', 50],
    ['aborted body', 30],
  ];
  const costly: Array<[string, number]> = [
    ['huge attribute value', heavy],
    ['gzip bomb', heavy],
    ['oversized body', heavy],
    ['many spans', heavy],
    ['object flood JSON', heavy],
  ];
  return [...light, ...costly];
}

export class HostileBodies {
  private readonly random: () => number;
  private readonly table: Array<[string, number]>;
  private readonly total: number;
  private callSeq = 0;
  private readonly runTag: string;
  private readonly cache = new Map<string, Buffer>();

  constructor(private readonly opts: HostileOptions) {
    this.random = rng(opts.seed);
    this.table = families(opts.heavyPerMille);
    this.total = this.table.reduce((n, [, w]) => n + w, 0);
    this.runTag = Math.floor(this.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
  }

  /** The next hostile request. */
  next(): HostileBody {
    let pick = this.random() * this.total;
    for (const [kind, weight] of this.table) {
      pick -= weight;
      if (pick < 0) return this.make(kind);
    }
    return this.make(this.table[0]![0]);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private make(kind: string): HostileBody {
    switch (kind) {
      case 'garbage protobuf':
        return {
          kind,
          contentType: PROTOBUF,
          body: this.randomBytes(1 + this.int(64 * 1024)),
          validCalls: 0,
        };
      case 'truncated protobuf': {
        const whole = protobufRequest(this.request(1 + this.int(20), 0, [], UNCOUNTED_FEATURE));
        const cut = 1 + this.int(whole.length - 1);
        return { kind, contentType: PROTOBUF, body: whole.subarray(0, cut), validCalls: 0 };
      }
      case 'garbage JSON':
        return { kind, contentType: JSON_TYPE, body: this.garbageJson(), validCalls: 0 };
      case 'media type / encoding':
        return this.mediaTrouble(kind);
      case 'mixed valid/invalid batch':
        return this.mixedBatch(kind);
      case 'deep nesting':
        return this.deepNesting(kind);
      case 'aborted body': {
        const body = protobufRequest(this.request(50, 0, [], UNCOUNTED_FEATURE));
        return { kind, contentType: PROTOBUF, body, abortAfter: this.int(body.length), validCalls: 0 };
      }
      case 'huge attribute value':
        return this.hugeValue(kind);
      case 'gzip bomb':
        return this.gzipBomb(kind);
      case 'oversized body':
        return this.oversized(kind);
      case 'many spans':
        return this.manySpans(kind);
      case 'object flood JSON':
        return this.objectFlood(kind);
      default:
        throw new Error(`unknown family ${kind}`);
    }
  }

  private randomBytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** A fresh, valid GenAI call span started inside the window (counted unless `feature` says otherwise). */
  private validSpan(extra: WireAttr[] = [], feature = HOSTILE_FEATURE): WireSpan {
    this.callSeq++;
    const seq = this.callSeq.toString(16).padStart(16, '0');
    const start =
      BigInt(this.opts.windowStart.getTime() + this.int(3_599_000)) * 1_000_000n + BigInt(this.int(1e6));
    return {
      traceId: `${this.runTag}${'0'.repeat(8)}${seq}`,
      spanId: seq.replace(/^0/, '1'),
      name: 'chat gpt-4o-mini',
      startNanos: start,
      endNanos: start + 800_000_000n,
      attributes: [
        attr('gen_ai.operation.name', 'chat'),
        attr('gen_ai.provider.name', 'openai'),
        attr('gen_ai.request.model', 'gpt-4o-mini'),
        attr('gen_ai.usage.input_tokens', 100 + this.int(900)),
        attr('gen_ai.usage.output_tokens', 10 + this.int(90)),
        attr('tokenledger.feature', feature),
        ...extra,
      ],
    };
  }

  /** A span the decoder must refuse (bad ids or timestamps), or one that is not a GenAI call. */
  private invalidSpan(): WireSpan {
    const base = this.validSpan();
    this.callSeq--; // not counted
    switch (this.int(5)) {
      case 0:
        return { ...base, traceId: '00'.repeat(16) };
      case 1:
        return { ...base, spanId: 'abcd' };
      case 2:
        return { ...base, startNanos: 2n ** 63n - 1n }; // after the last storable start
      case 3:
        return { ...base, traceId: 'ff'.repeat(20) };
      default:
        // Not a GenAI span at all: ignored, never stored.
        return { ...base, spanId: 'ee'.repeat(8), attributes: [attr('http.request.method', 'GET')] };
    }
  }

  private request(
    valid: number,
    invalid: number,
    extra: WireAttr[] = [],
    feature = HOSTILE_FEATURE,
  ): WireRequest {
    const spans: WireSpan[] = [];
    for (let i = 0; i < valid; i++) spans.push(this.validSpan(extra, feature));
    for (let i = 0; i < invalid; i++) spans.splice(this.int(spans.length + 1), 0, this.invalidSpan());
    return {
      resource: [attr('service.name', 'fault-suite'), attr('tokenledger.team', 'hostile')],
      scope: 'tokenledger',
      spans,
    };
  }

  private garbageJson(): Buffer {
    const valid = jsonRequest(this.request(1 + this.int(5), 0, [], UNCOUNTED_FEATURE)).toString();
    const choices = [
      () => valid.slice(0, this.int(valid.length)), // truncated
      () => '{"resourceSpans": 5}',
      () => '{"resourceSpans": [{"scopeSpans": [{"spans": [1, 2, 3]}]}]}',
      () => '[]',
      () => 'null',
      () => '"just a string"',
      () => '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": {"x": 1}}]}]}]}',
      () => '\u0000\u0001\u0002',
      () => valid.replace(/"/g, "'"),
      () => this.randomBytes(1 + this.int(4096)).toString('latin1'),
    ];
    return Buffer.from(choices[this.int(choices.length)]!());
  }

  private mediaTrouble(kind: string): HostileBody {
    const body = protobufRequest(this.request(2, 0, [], UNCOUNTED_FEATURE));
    switch (this.int(5)) {
      case 0:
        return { kind, contentType: 'text/plain', body, validCalls: 0 };
      case 1:
        return { kind, contentType: '', body, validCalls: 0 };
      case 2:
        return { kind, contentType: PROTOBUF, headers: { 'content-encoding': 'zstd' }, body, validCalls: 0 };
      case 3:
        return { kind, contentType: PROTOBUF, headers: { 'content-encoding': 'gzip' }, body, validCalls: 0 };
      default:
        return {
          kind,
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'deflate' },
          body: this.randomBytes(100),
          validCalls: 0,
        };
    }
  }

  private mixedBatch(kind: string): HostileBody {
    const valid = 1 + this.int(10);
    const invalid = this.int(10);
    const extras: WireAttr[] = [];
    if (this.int(4) === 0) extras.push(attr('tokenledger.customer', 'emoji \ud83d cut'));
    if (this.int(4) === 0) extras.push(attr('gen_ai.usage.input_tokens', -5)); // garbled: kept unpriced
    const req = this.request(valid, invalid, extras);
    const json = this.int(2) === 0;
    let body = json ? jsonRequest(req) : protobufRequest(req);
    const headers: Record<string, string> = {};
    if (this.int(3) === 0) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    return { kind, contentType: json ? JSON_TYPE : PROTOBUF, headers, body, validCalls: valid };
  }

  private deepNesting(kind: string): HostileBody {
    const depth = [40, 1_000, 100_000][this.int(3)]!;
    switch (this.int(4)) {
      case 0: {
        // A valid call whose attribute nests `depth` levels: the call is kept, the depth cut.
        const body = deepJsonCall(this.validSpan(), depth);
        return { kind, contentType: JSON_TYPE, body, validCalls: 1 };
      }
      case 1: {
        const body = deepProtobufCall(this.validSpan(), depth);
        return { kind, contentType: PROTOBUF, body, validCalls: 1 };
      }
      case 2:
        // Raw JSON nesting: not OTLP.
        return {
          kind,
          contentType: JSON_TYPE,
          body: Buffer.from(`${'['.repeat(depth * 10)}${']'.repeat(depth * 10)}`),
          validCalls: 0,
        };
      default:
        // Nested protobuf groups (wire type 3) where a field would be.
        return { kind, contentType: PROTOBUF, body: Buffer.alloc(depth, 0x0b), validCalls: 0 };
    }
  }

  private hugeValue(kind: string): HostileBody {
    const size = (1 + this.int(8)) * 1024 * 1024;
    const huge = this.bigString(size);
    const key = ['tokenledger.team', 'tokenledger.customer', 'gen_ai.request.model', 'tokenledger.feature'][
      this.int(4)
    ]!;
    const span = this.validSpan();
    span.attributes = span.attributes.filter((a) => a.key !== key);
    span.attributes.push(attr(key, huge));
    // A huge feature moves the call out of the counted feature: count it only when the feature stays.
    const counted = key === 'tokenledger.feature' ? 0 : 1;
    const req: WireRequest = {
      resource: [attr('service.name', 'fault-suite')],
      scope: 'tokenledger',
      spans: [span],
    };
    const json = this.int(2) === 0;
    return {
      kind,
      contentType: json ? JSON_TYPE : PROTOBUF,
      body: json ? jsonRequest(req) : protobufRequest(req),
      validCalls: counted,
    };
  }

  private bigString(size: number): string {
    const chunk = 'hostile-value-'.repeat(64);
    return chunk.repeat(Math.ceil(size / chunk.length)).slice(0, size);
  }

  private gzipBomb(kind: string): HostileBody {
    const json = this.int(2) === 0;
    const key = `bomb-${json}`;
    let body = this.cache.get(key);
    if (!body) {
      // 256 MiB of zeros or spaces, ~250 KiB on the wire.
      const inflated = Buffer.alloc(256 * 1024 * 1024, json ? 0x20 : 0);
      body = json ? deflateSync(inflated, { level: 9 }) : gzipSync(inflated, { level: 9 });
      this.cache.set(key, body);
    }
    return {
      kind,
      contentType: json ? JSON_TYPE : PROTOBUF,
      headers: { 'content-encoding': json ? 'deflate' : 'gzip' },
      body,
      validCalls: 0,
    };
  }

  private oversized(kind: string): HostileBody {
    const size = this.opts.maxBodyBytes + 1 + this.int(1024 * 1024);
    const body = this.cache.get('oversized') ?? Buffer.alloc(this.opts.maxBodyBytes + 1024 * 1024 + 1, 0x0a);
    this.cache.set('oversized', body);
    return {
      kind,
      contentType: PROTOBUF,
      body: body.subarray(0, size),
      chunked: this.int(2) === 0,
      validCalls: 0,
    };
  }

  /**
   * From 20,000 spans to as many as fit in 90 % of the body limit: mostly HTTP spans (decoded, then
   * ignored) and spans with bad ids (refused under partial success), with up to 500 valid calls
   * among them. The larger ones take more memory to decode than the collector allows itself, and
   * are refused whole with 413.
   */
  private manySpans(kind: string): HostileBody {
    const json = this.int(2) === 0;
    const encode = json ? jsonRequest : protobufRequest;
    const hex = (digits: number): string =>
      Array.from({ length: digits / 8 }, () => (1 + this.int(0xfffffffe)).toString(16).padStart(8, '0')).join(
        '',
      );
    const start = BigInt(this.opts.windowStart.getTime()) * 1_000_000n;
    const httpSpan = (): WireSpan => ({
      traceId: hex(32),
      spanId: this.int(10) === 0 ? 'bad' : hex(16),
      name: 'GET /a',
      startNanos: start,
      endNanos: start + 1_000_000n,
      attributes: [attr('http.request.method', 'GET'), attr('url.full', 'https://example.com/a')],
    });
    const sample = encode({ resource: [], scope: 'http', spans: Array.from({ length: 100 }, httpSpan) });
    const most = Math.floor((this.opts.maxBodyBytes * 0.9) / (sample.length / 100));
    const n = 20_000 + this.int(Math.max(1, most - 20_000));
    const valid = 1 + this.int(500);
    const req = this.request(valid, 0);
    const spans = Array.from({ length: n }, httpSpan);
    const step = Math.floor(n / valid); // one valid call in each stretch of `step` spans
    req.spans.forEach((call, i) => (spans[i * step + this.int(step)] = call));
    const body = encode({ ...req, spans });
    if (body.length > this.opts.maxBodyBytes)
      throw new Error(`many spans: ${body.length} bytes is over the limit`);
    return { kind, contentType: json ? JSON_TYPE : PROTOBUF, body, validCalls: valid };
  }

  /** Millions of tiny JSON objects where spans go: the most objects per byte JSON allows. */
  private objectFlood(kind: string): HostileBody {
    let body = this.cache.get('flood');
    if (!body) {
      const n = Math.floor((this.opts.maxBodyBytes - 100) / 3);
      body = Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[${'{},'.repeat(n - 1)}{}]}]}]}`);
      this.cache.set('flood', body);
    }
    return { kind, contentType: JSON_TYPE, body, validCalls: 0 };
  }
}

/** A valid call span whose extra attribute nests `depth` arrays, as OTLP JSON text. */
function deepJsonCall(span: WireSpan, depth: number): Buffer {
  const plain = jsonRequest({
    resource: [attr('service.name', 'fault-suite')],
    scope: 'tokenledger',
    spans: [span],
  });
  const deep = `{"key":"deep","value":${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"bottom"}${']}}'.repeat(depth)}}`;
  // Splice the deep attribute in front of the span's attributes.
  return Buffer.from(
    plain.toString().replace('"attributes":[{"key":"gen_ai', `"attributes":[${deep},{"key":"gen_ai`),
  );
}

/** A valid call span whose extra attribute nests `depth` kvlists, as OTLP protobuf. */
function deepProtobufCall(span: WireSpan, depth: number): Buffer {
  // AnyValue{kvlist_value{values: KeyValue{key "k", value: AnyValue{...}}}}, built inside out.
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const leaf = Buffer.from([0x0a, 0x01, 0x78]); // AnyValue{string_value "x"}
  const prefixes: number[][] = [];
  let len = leaf.length;
  for (let i = 0; i < depth; i++) {
    // KeyValue = key(0x0a 01 'k') + value(0x12 len AnyValue)
    const kv = 3 + 1 + varint(len).length + len;
    const kvl = 1 + varint(kv).length + kv; // KeyValueList.values
    const any = 1 + varint(kvl).length + kvl; // AnyValue.kvlist_value
    prefixes.push([0x32, ...varint(kvl), 0x0a, ...varint(kv), 0x0a, 0x01, 0x6b, 0x12, ...varint(len)]);
    len = any;
  }
  const deepValue = Buffer.concat([...prefixes.reverse().map((p) => Buffer.from(p)), leaf]);
  // KeyValue{key "deep", value deepValue} as span field 9, appended to the span's own fields.
  const kvBody = Buffer.concat([
    Buffer.from([0x0a, 0x04, ...Buffer.from('deep'), 0x12, ...varint(deepValue.length)]),
    deepValue,
  ]);
  const attrField = Buffer.concat([Buffer.from([(9 << 3) | 2, ...varint(kvBody.length)]), kvBody]);
  const spanBytes = Buffer.concat([protobufSpan(span), attrField]);
  const scope = Buffer.from([0x0a, 0x0d, 0x0a, 0x0b, ...Buffer.from('tokenledger')]);
  const scopeSpans = Buffer.concat([scope, Buffer.from([0x12, ...varint(spanBytes.length)]), spanBytes]);
  const rs = Buffer.concat([Buffer.from([0x12, ...varint(scopeSpans.length)]), scopeSpans]);
  return Buffer.concat([Buffer.from([0x0a, ...varint(rs.length)]), rs]);
}

/** One span's own fields (no message wrapper), protobuf. */
function protobufSpan(span: WireSpan): Buffer {
  const whole = protobufRequest({ resource: [], scope: '', spans: [span] });
  // Walk request → resource_spans → scope_spans → span and return the span's bytes.
  const readLen = (b: Buffer, at: number): [number, number] => {
    let n = 0;
    let shift = 0;
    let i = at;
    for (;;) {
      const byte = b[i++]!;
      n |= (byte & 0x7f) << shift;
      if (byte < 0x80) return [n, i];
      shift += 7;
    }
  };
  const fieldAt = (b: Buffer, tag: number): Buffer => {
    let i = 0;
    while (i < b.length) {
      const t = b[i++]!;
      const [len, start] = readLen(b, i);
      if (t === tag) return b.subarray(start, start + len);
      i = start + len;
    }
    throw new Error(`no field ${tag}`);
  };
  const rs = fieldAt(whole, 0x0a);
  const ss = fieldAt(rs, 0x12);
  return fieldAt(ss, 0x12);
}

import assert from 'node:assert/strict';
import { hrTimeToNanoseconds } from '@opentelemetry/core';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { OtlpDecodeError, OtlpUnsupportedContentTypeError } from '../../collector/src/ingest/otlp/errors';
import { type OtlpTraceRequest } from '../../collector/src/ingest/otlp/types';
import { getRequestType } from '../../collector/src/ingest/otlp/protobuf';
import { jsonBody, protobufBody, recordSpans } from './otlp-helpers';

const PB = 'application/x-protobuf';
const JSON_CT = 'application/json';

function sampleSpans() {
  return recordSpans({ 'service.name': 'checkout', 'tokenledger.team': 'search' }, [
    {
      name: 'chat gpt-4o',
      scope: 'tokenledger',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 200,
        'gen_ai.request.temperature': 0.5,
        'gen_ai.request.stream': true,
        'gen_ai.response.finish_reasons': ['stop'],
      },
    },
    {
      name: 'GET /health',
      scope: '@opentelemetry/instrumentation-http',
      attributes: { 'http.status_code': 200 },
    },
  ]);
}

/** Protobuf by hand, for shapes the schema's encoder would not write: a varint, a length-delimited field, a KeyValue. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
  return [...out, n];
}
const field = (no: number, payload: Buffer): Buffer =>
  Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(payload.length)]), payload]);
const keyValue = (key: string, value: Buffer): Buffer =>
  Buffer.concat([field(1, Buffer.from(key)), field(2, value)]);

function allSpans(req: OtlpTraceRequest) {
  return req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ss, s }))));
}

describe('OTLP decoding', () => {
  it('decodes a protobuf body from the official OpenTelemetry encoder', () => {
    const spans = sampleSpans();
    const req = decodeTraceRequest(protobufBody(spans), PB);
    assert.equal(req.rejectedSpans, 0);
    assert.equal(req.errorMessage, '');
    assert.equal(req.resourceSpans.length, 1);
    const rs = req.resourceSpans[0]!;
    assert.equal(rs.resource['service.name'], 'checkout');
    assert.equal(rs.resource['tokenledger.team'], 'search');
    const decoded = allSpans(req);
    assert.equal(decoded.length, 2);
    const chat = decoded.find((d) => d.s.name === 'chat gpt-4o')!;
    const original = spans.find((s) => s.name === 'chat gpt-4o')!;
    assert.equal(chat.ss.scope.name, 'tokenledger');
    assert.equal(chat.ss.scope.version, '0.1.0');
    assert.equal(chat.s.traceId, original.spanContext().traceId);
    assert.equal(chat.s.spanId, original.spanContext().spanId);
    assert.match(chat.s.traceId, /^[0-9a-f]{32}$/);
    assert.equal(chat.s.parentSpanId, '');
    assert.equal(chat.s.kind, 3); // CLIENT
    assert.equal(chat.s.startTimeUnixNano, String(hrTimeToNanoseconds(original.startTime)));
    assert.equal(chat.s.startTimeUnixNano, '1748779200123000000');
    assert.equal(chat.s.endTimeUnixNano, '1748779201623000000');
    assert.deepEqual(chat.s.attributes, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.stream': true,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    assert.deepEqual(chat.s.status, { code: 0, message: '' });
  });

  it('decodes the official JSON encoding to exactly what the protobuf encoding gives', () => {
    const spans = sampleSpans();
    const fromPb = decodeTraceRequest(protobufBody(spans), PB);
    const fromJson = decodeTraceRequest(jsonBody(spans), 'application/json; charset=utf-8');
    assert.deepEqual(fromJson, fromPb);
  });

  it('accepts the OTLP JSON mapping variants: string and number int64s, snake_case names, enum names, base64 ids', () => {
    const body = {
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'api' } }] },
          scope_spans: [
            {
              scope: { name: 'openlit.otel.tracing', version: '1.2' },
              spans: [
                {
                  trace_id: '5B8EFFF798038103D269B633813FC60C',
                  span_id: 'EEE19B7EC3C1B174',
                  parent_span_id: 'EEE19B7EC3C1B173',
                  name: 'chat',
                  kind: 'SPAN_KIND_CLIENT',
                  start_time_unix_nano: '1748779200123456789',
                  end_time_unix_nano: 1748779201000000000,
                  attributes: [
                    { key: 'gen_ai.usage.input_tokens', value: { intValue: '1200' } },
                    { key: 'gen_ai.usage.output_tokens', value: { intValue: 34 } },
                    { key: 'big', value: { intValue: '9223372036854775807' } },
                    { key: 'ratio', value: { doubleValue: 0.25 } },
                    { key: 'ok', value: { boolValue: false } },
                    { key: 'blob', value: { bytesValue: 'AQID' } },
                    {
                      key: 'list',
                      value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } },
                    },
                    {
                      key: 'map',
                      value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } },
                    },
                  ],
                  status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
                },
                {
                  traceId: 'W47/95gDgQPSabYzgT/GDA==',
                  spanId: '7uGbfsPBsXQ=',
                  name: 'base64 ids',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                },
              ],
            },
          ],
        },
      ],
    };
    const req = decodeTraceRequest(Buffer.from(JSON.stringify(body)), JSON_CT);
    assert.equal(req.rejectedSpans, 0);
    const [first, second] = req.resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.equal(req.resourceSpans[0]!.resource['service.name'], 'api');
    assert.equal(first!.traceId, '5b8efff798038103d269b633813fc60c');
    assert.equal(first!.spanId, 'eee19b7ec3c1b174');
    assert.equal(first!.parentSpanId, 'eee19b7ec3c1b173');
    assert.equal(first!.kind, 3);
    assert.equal(first!.startTimeUnixNano, '1748779200123456789');
    assert.equal(first!.endTimeUnixNano, '1748779201000000000');
    assert.deepEqual(first!.attributes, {
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 34,
      big: '9223372036854775807',
      ratio: 0.25,
      ok: false,
      blob: 'AQID',
      list: ['a', 2],
      map: '{"k":"v"}',
    });
    assert.deepEqual(first!.status, { code: 2, message: 'boom' });
    assert.equal(second!.traceId, '5b8efff798038103d269b633813fc60c');
    assert.equal(second!.spanId, 'eee19b7ec3c1b174');
  });

  it('reads every protobuf value type, 64-bit values exactly, and skips fields it does not know', () => {
    const type = getRequestType();
    const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
    const message = type.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [kv('service.name', { stringValue: 'api' })] },
          scopeSpans: [
            {
              scope: { name: 'openlit.otel.tracing', version: '1.2' },
              spans: [
                {
                  traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                  spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                  parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
                  traceState: 'vendor=x',
                  name: 'chat',
                  kind: 3,
                  startTimeUnixNano: '1748779200123456789',
                  endTimeUnixNano: '1748779201000000000',
                  attributes: [
                    kv('gen_ai.usage.input_tokens', { intValue: 1200 }),
                    kv('big', { intValue: '9223372036854775807' }),
                    kv('negative', { intValue: -3 }),
                    kv('ratio', { doubleValue: 0.25 }),
                    kv('ok', { boolValue: false }),
                    kv('blob', { bytesValue: Buffer.from([1, 2, 3]) }),
                    kv('list', {
                      arrayValue: {
                        values: [
                          { stringValue: 'a' },
                          { intValue: 2 },
                          { kvlistValue: { values: [kv('k', { stringValue: 'v' })] } },
                        ],
                      },
                    }),
                    kv('map', {
                      kvlistValue: {
                        values: [
                          kv('k', { stringValue: 'v' }),
                          kv('nested', { kvlistValue: { values: [kv('x', { intValue: 1 })] } }),
                          kv('__proto__', { stringValue: 'dropped' }),
                        ],
                      },
                    }),
                    kv('__proto__', { stringValue: 'dropped' }),
                    { key: 'no value' },
                  ],
                  droppedAttributesCount: 2,
                  events: [{ name: 'ev', timeUnixNano: '5' }],
                  status: { code: 2, message: 'boom' },
                },
              ],
            },
          ],
        },
      ],
    });
    // A field from a newer proto (number 99: varint 1, then fixed32) the reader must skip.
    const unknown = Buffer.from([0x98, 0x06, 0x01, 0x9d, 0x06, 1, 2, 3, 4]);
    const body = Buffer.concat([Buffer.from(type.encode(message).finish()), unknown]);
    const req = decodeTraceRequest(body, PB);
    assert.equal(req.rejectedSpans, 0);
    assert.deepEqual(req.resourceSpans[0]!.resource, { 'service.name': 'api' });
    assert.deepEqual(req.resourceSpans[0]!.scopeSpans[0]!.scope, {
      name: 'openlit.otel.tracing',
      version: '1.2',
    });
    const [span] = req.resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.deepEqual(span, {
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      parentSpanId: 'eee19b7ec3c1b173',
      name: 'chat',
      kind: 3,
      startTimeUnixNano: '1748779200123456789',
      endTimeUnixNano: '1748779201000000000',
      attributes: {
        'gen_ai.usage.input_tokens': 1200,
        big: '9223372036854775807',
        negative: -3,
        ratio: 0.25,
        ok: false,
        blob: 'AQID',
        list: ['a', 2, '{"k":"v"}'],
        map: '{"k":"v","nested":{"x":1}}',
      },
      status: { code: 2, message: 'boom' },
    });
    assert.equal(Object.getPrototypeOf(span!.attributes), Object.prototype);
  });

  it('rejects spans with invalid ids under partial success and keeps the rest', () => {
    const good = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'good', startTimeUnixNano: '1' };
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                good,
                { ...good, name: 'short', spanId: 'abcd' },
                { ...good, name: 'zero', traceId: '0'.repeat(32) },
              ],
            },
          ],
        },
      ],
    };
    const req = decodeTraceRequest(Buffer.from(JSON.stringify(body)), JSON_CT);
    assert.equal(req.rejectedSpans, 2);
    assert.match(req.errorMessage, /span 'short'.*invalid span id 'abcd'.*and 1 more rejected span/);
    assert.deepEqual(
      allSpans(req).map((d) => d.s.name),
      ['good'],
    );
  });

  it('rejects spans starting after 2106 (the rollup hour would wrap), in both encodings', () => {
    const spans = recordSpans({}, [
      { name: 'ok', attributes: {} },
      { name: 'far', attributes: {}, startTime: new Date('2200-01-01T00:00:00Z') },
    ]);
    for (const req of [
      decodeTraceRequest(protobufBody(spans), PB),
      decodeTraceRequest(jsonBody(spans), JSON_CT),
    ]) {
      assert.equal(req.rejectedSpans, 1);
      assert.match(
        req.errorMessage,
        /span 'far'.*startTimeUnixNano 7258118400000000000 is after 2106-02-07T06:28:15Z/,
      );
      assert.deepEqual(
        allSpans(req).map((d) => d.s.name),
        ['ok'],
      );
    }
    const edge = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'edge' };
    const body = (start: string) =>
      Buffer.from(
        JSON.stringify({
          resourceSpans: [{ scopeSpans: [{ spans: [{ ...edge, startTimeUnixNano: start }] }] }],
        }),
      );
    assert.equal(decodeTraceRequest(body('4294967295999999999'), JSON_CT).rejectedSpans, 0);
    assert.equal(decodeTraceRequest(body('004294967296000000000'), JSON_CT).rejectedSpans, 1);
    assert.equal(decodeTraceRequest(body('99999999999999999999999'), JSON_CT).rejectedSpans, 1);
  });

  it('repairs lone UTF-16 surrogates in JSON strings, and reads non-finite doubles', () => {
    const span = {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      name: 'cutSURROGATE',
      attributes: [
        { key: 'model', value: { stringValue: 'gpt-4oSURROGATE' } },
        { key: 'keySURROGATE', value: { stringValue: 'x' } },
        { key: 'nan', value: { doubleValue: 'NaN' } },
        { key: 'inf', value: { doubleValue: '-Infinity' } },
      ],
    };
    const text = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }).replaceAll(
      'SURROGATE',
      '\\udc00',
    );
    const [d] = allSpans(decodeTraceRequest(Buffer.from(text), JSON_CT));
    assert.equal(d!.s.name, 'cut\ufffd');
    assert.deepEqual(d!.s.attributes, { model: 'gpt-4o\ufffd', 'key\ufffd': 'x', nan: NaN, inf: -Infinity });
  });

  it('rejects protobuf spans whose ids have the wrong length', () => {
    const type = getRequestType();
    const msg = type.toObject(type.decode(protobufBody(sampleSpans()))) as {
      resourceSpans: { scopeSpans: { spans: { spanId: Uint8Array }[] }[] }[];
    };
    msg.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId = Buffer.from('abcdef01', 'hex');
    const body = Buffer.from(type.encode(type.fromObject(msg)).finish());
    const req = decodeTraceRequest(body, PB);
    assert.equal(req.rejectedSpans, 1);
    assert.match(req.errorMessage, /invalid span id 'abcdef01': expected 8 bytes/);
    assert.equal(allSpans(req).length, 1);
  });

  it('drops attribute values nested deeper than 32 levels, in both encodings (thousands overflowed the stack)', () => {
    const depth = 20_000;
    const json =
      `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${'a'.repeat(32)}","spanId":"${'b'.repeat(16)}",` +
      '"name":"deep","attributes":[{"key":"model","value":{"stringValue":"gpt-4o"}},{"key":"deep","value":' +
      '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth) +
      '{"stringValue":"x"}' +
      '}]}}'.repeat(depth) +
      '}]}]}]}]}';
    // The same in protobuf: AnyValue.kvlist_value(6) → KeyValueList.values(1) → KeyValue{key(1), value(2)}.
    let value = field(1, Buffer.from('x'));
    for (let i = 0; i < depth; i++) value = field(6, field(1, keyValue('k', value)));
    const span = Buffer.concat([
      field(1, Buffer.alloc(16, 0xaa)),
      field(2, Buffer.alloc(8, 0xbb)),
      field(5, Buffer.from('deep')),
      field(9, keyValue('model', field(1, Buffer.from('gpt-4o')))),
      field(9, keyValue('deep', value)),
    ]);
    const pb = field(1, field(2, field(2, span)));
    const kept = [decodeTraceRequest(Buffer.from(json), JSON_CT), decodeTraceRequest(pb, PB)].map((req) => {
      const [d] = allSpans(req);
      assert.equal(d!.s.attributes.model, 'gpt-4o'); // the span and its other attributes are kept
      return String(d!.s.attributes.deep);
    });
    assert.equal(kept[0], kept[1]);
    // The attribute's kvlist (depth 0) and the 32 below it; the last one empty.
    assert.equal(kept[0], '{"k":'.repeat(32) + '{}' + '}'.repeat(32));
  });

  it('keeps and drops the same levels of mixed arrays and kvlists in both encodings, in text that grows linearly', () => {
    // Arrays inside arrays were serialised level by level, doubling their escapes each time: 30
    // levels were gigabytes of text (and a 500). `shape` nests arrays (a) and kvlists (k).
    const decodeBoth = (shape: string): [unknown, unknown] => {
      let json = '{"stringValue":"x"}';
      let pb = field(1, Buffer.from('x'));
      for (const level of [...shape].reverse()) {
        if (level === 'a') {
          json = `{"arrayValue":{"values":[{"intValue":"1"},${json}]}}`;
          pb = field(5, Buffer.concat([field(1, Buffer.from([0x18, 0x01])), field(1, pb)]));
        } else {
          json = `{"kvlistValue":{"values":[{"key":"n","value":{"intValue":1}},{"key":"k","value":${json}}]}}`;
          pb = field(
            6,
            Buffer.concat([field(1, keyValue('n', Buffer.from([0x18, 0x01]))), field(1, keyValue('k', pb))]),
          );
        }
      }
      const body =
        `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${'a'.repeat(32)}","spanId":"${'b'.repeat(16)}",` +
        `"name":"deep","attributes":[{"key":"deep","value":${json}}]}]}]}]}`;
      const span = Buffer.concat([
        field(1, Buffer.alloc(16, 0xaa)),
        field(2, Buffer.alloc(8, 0xbb)),
        field(5, Buffer.from('deep')),
        field(9, keyValue('deep', pb)),
      ]);
      const fromJson = allSpans(decodeTraceRequest(Buffer.from(body), JSON_CT))[0]!.s.attributes.deep;
      const fromPb = allSpans(decodeTraceRequest(field(1, field(2, field(2, span))), PB))[0]!.s.attributes
        .deep;
      return [fromJson, fromPb];
    };
    const random = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const next = random(7);
    for (const depth of [1, 2, 31, 32, 33, 34, 40, 200, 5_000]) {
      for (const pattern of ['a', 'k', 'mixed']) {
        const shape = Array.from({ length: depth }, () =>
          pattern === 'mixed' ? (next() < 0.5 ? 'a' : 'k') : pattern,
        ).join('');
        const [fromJson, fromPb] = decodeBoth(shape);
        assert.deepEqual(fromJson, fromPb, `${pattern} × ${depth}`);
        // Kept levels: the attribute's own value (depth 0) and 32 below it.
        const text = JSON.stringify(fromJson);
        assert.ok(
          text.length < 40 * Math.min(depth, 33) + 40,
          `${pattern} × ${depth}: ${text.length} characters`,
        );
        assert.equal(
          text.includes('x'),
          depth <= 32,
          `${pattern} × ${depth}: the leaf is ${depth} levels down`,
        );
      }
    }
    // Arrays in arrays: each element that is a structure is JSON text once, nothing escaped twice.
    assert.deepEqual(decodeBoth('aa')[0], [1, '[1,"x"]']);
    assert.deepEqual(decodeBoth('aka')[0], [1, '{"n":1,"k":[1,"x"]}']);
  });

  it('refuses protobuf groups nested deeper than 32 levels without exhausting the stack', () => {
    const group = (n: number): Buffer => Buffer.concat([Buffer.alloc(n, 0x0b), Buffer.alloc(n, 0x0c)]); // field 1, wire types 3 and 4
    // Unknown fields are skipped (a group of field 99 at the top: tag 99<<3|3).
    const shallow = Buffer.concat([Buffer.from([0x9b, 0x06]), group(30), Buffer.from([0x9c, 0x06])]);
    assert.deepEqual(decodeTraceRequest(shallow, PB).resourceSpans, []);
    assert.throws(
      () => decodeTraceRequest(group(1_000_000), PB),
      (err: unknown) =>
        err instanceof OtlpDecodeError && /groups nested deeper than 32 levels/.test(err.message),
    );
  });

  it('decodes an empty body as an empty request', () => {
    assert.deepEqual(decodeTraceRequest(Buffer.alloc(0), PB), {
      resourceSpans: [],
      rejectedSpans: 0,
      errorMessage: '',
    });
    assert.deepEqual(decodeTraceRequest(Buffer.from('{}'), JSON_CT), {
      resourceSpans: [],
      rejectedSpans: 0,
      errorMessage: '',
    });
  });

  describe('malformed bodies', () => {
    it('garbage protobuf bytes', () => {
      assert.throws(
        () => decodeTraceRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), PB),
        (err: unknown) =>
          err instanceof OtlpDecodeError &&
          err.statusCode === 400 &&
          /^invalid OTLP protobuf body: /.test(err.message),
      );
      assert.throws(() => decodeTraceRequest(Buffer.from([0xff, 0xff, 0xff, 0xff]), PB), OtlpDecodeError);
    });

    it('truncated protobuf', () => {
      const body = protobufBody(sampleSpans());
      assert.throws(
        () => decodeTraceRequest(body.subarray(0, Math.floor(body.length / 2)), PB),
        /invalid OTLP protobuf body: index out of range/,
      );
    });

    it('JSON that does not parse', () => {
      assert.throws(
        () => decodeTraceRequest(Buffer.from('{"resourceSpans": ['), JSON_CT),
        /^OtlpDecodeError|invalid OTLP JSON: /,
      );
    });

    it('JSON of the wrong shape', () => {
      const cases: [unknown, RegExp][] = [
        [[1, 2], /invalid OTLP JSON: expected an object, got array/],
        [{ resourceSpans: {} }, /invalid OTLP JSON: expected resourceSpans to be an array, got object/],
        [{ resourceSpans: [7] }, /expected resourceSpans\[0\] to be an object, got number/],
        [
          { resourceSpans: [{ scopeSpans: [{ spans: 'x' }] }] },
          /expected resourceSpans\[0\]\.scopeSpans\[0\]\.spans to be an array/,
        ],
      ];
      for (const [body, re] of cases) {
        assert.throws(
          () => decodeTraceRequest(Buffer.from(JSON.stringify(body)), JSON_CT),
          (err: unknown) => err instanceof OtlpDecodeError && re.test(err.message),
          JSON.stringify(body),
        );
      }
    });

    it('an unsupported content type is a distinct (415) error', () => {
      assert.throws(
        () => decodeTraceRequest(Buffer.from('x'), 'text/plain'),
        (err: unknown) =>
          err instanceof OtlpUnsupportedContentTypeError &&
          err instanceof OtlpDecodeError &&
          err.statusCode === 415 &&
          /unsupported OTLP content type 'text\/plain'/.test(err.message),
      );
    });
  });
});

/**
 * tokenledger's own OTLP encoding (instrumentation/src/pipeline/otlp-encode.ts), protobuf and JSON,
 * read back by the collector's decoder: every field a cost span carries arrives as it was set.
 */
import assert from 'node:assert/strict';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { encodeJson, encodeProtobuf } from '../../instrumentation/src/pipeline/otlp-encode';
import type { PipelineSpan } from '../../instrumentation/src/pipeline/span';
import { PipelineTracerProvider } from '../../instrumentation/src/pipeline/tracer';

const PARENT = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
};
/** 2023-11-14T22:13:20.123456789Z, exactly. */
const START: [number, number] = [1_700_000_000, 123_456_789];
const END: [number, number] = [1_700_000_001, 987_654_321];

function endedSpans(): PipelineSpan[] {
  const ended: PipelineSpan[] = [];
  const provider = new PipelineTracerProvider({
    onEnd: (s) => ended.push(s),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  });
  const parent = trace.setSpanContext(ROOT_CONTEXT, PARENT);
  const chat = provider.getTracer('tokenledger/instrumentation-openai', '0.1.0').startSpan(
    'chat gpt-4o',
    {
      kind: SpanKind.CLIENT,
      startTime: START,
      attributes: {
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.request.temperature': 0.25,
        'gen_ai.request.stream': true,
        'gen_ai.response.finish_reasons': ['stop'],
        'tokenledger.team': 'search',
      },
    },
    parent,
  );
  chat.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
  chat.end(END);
  provider
    .getTracer('tokenledger/instrumentation-anthropic')
    .startSpan('chat claude', {}, ROOT_CONTEXT)
    .end();
  return ended;
}

describe("tokenledger's OTLP encoding, read by the collector", () => {
  for (const [name, encode, contentType] of [
    ['protobuf', encodeProtobuf, 'application/x-protobuf'],
    ['JSON', encodeJson, 'application/json'],
  ] as const) {
    it(`${name}: resource, scopes, ids, parent, exact times, attributes and status`, () => {
      const spans = endedSpans();
      const body = Buffer.from(encode({ 'service.name': 'checkout', 'process.pid': 42 }, spans));
      const request = decodeTraceRequest(body, contentType);
      assert.equal(request.rejectedSpans, 0);
      assert.equal(request.resourceSpans.length, 1);
      const [rs] = request.resourceSpans;
      assert.deepEqual(rs!.resource, { 'service.name': 'checkout', 'process.pid': 42 });
      assert.deepEqual(
        rs!.scopeSpans.map((s) => [s.scope.name, s.scope.version, s.spans.length]),
        [
          ['tokenledger/instrumentation-openai', '0.1.0', 1],
          ['tokenledger/instrumentation-anthropic', '', 1],
        ],
      );
      const chat = rs!.scopeSpans[0]!.spans[0]!;
      assert.equal(chat.traceId, PARENT.traceId, 'joins the parent trace');
      assert.equal(chat.parentSpanId, PARENT.spanId);
      assert.equal(chat.spanId, spans[0]!.spanContext().spanId);
      assert.match(chat.spanId, /^[0-9a-f]{16}$/);
      assert.equal(chat.name, 'chat gpt-4o');
      assert.equal(chat.kind, 3, 'CLIENT');
      assert.equal(chat.startTimeUnixNano, '1700000000123456789');
      assert.equal(chat.endTimeUnixNano, '1700000001987654321');
      assert.deepEqual(chat.attributes, {
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.request.temperature': 0.25,
        'gen_ai.request.stream': true,
        'gen_ai.response.finish_reasons': ['stop'],
        'tokenledger.team': 'search',
      });
      assert.deepEqual(chat.status, { code: 2, message: 'rate limited' });
      const root = rs!.scopeSpans[1]!.spans[0]!;
      assert.equal(root.parentSpanId, '');
      assert.match(root.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(root.traceId, PARENT.traceId);
    });
  }
});

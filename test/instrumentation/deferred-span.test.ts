/**
 * Deferred call spans (instrumentation/src/instrumentations/shared/deferred-span.ts): the SDK span
 * built after the call must be the span an immediate one would have been — name, kind, attributes,
 * status, parent, start and end times — and anything that needs the span context first gets the real
 * span at once.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import {
  callTracer,
  DeferredSpan,
  enableDeferredSpans,
  materializePendingSpans,
} from '../../instrumentation/src/instrumentations/shared/deferred-span';

const hrMs = (t: [number, number]): number => t[0] * 1e3 + t[1] / 1e6;

describe('deferred call spans', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let sdkTracer: Tracer;
  let tracer: Tracer;
  const contextManager = new AsyncLocalStorageContextManager();

  before(() => {
    context.setGlobalContextManager(contextManager.enable());
    sdkTracer = provider.getTracer('deferred-test');
    tracer = callTracer(sdkTracer);
    enableDeferredSpans(true);
  });
  after(() => {
    enableDeferredSpans(false);
    context.disable();
  });
  beforeEach(() => exporter.reset());

  async function finished(): Promise<ReadableSpan[]> {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  }

  it('builds the SDK span after the call, on the next turn, with what the call recorded', async () => {
    const parent = sdkTracer.startSpan('request');
    const parentCtx = trace.setSpan(context.active(), parent);
    const before = Date.now();
    const span = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: { a: 1 } }, parentCtx);
    const started = Date.now();
    assert.ok(span instanceof DeferredSpan);
    assert.equal(span.isRecording(), true);
    await sleep(30);
    const ending = Date.now();
    span.setAttribute('b', 'two');
    span.setAttributes({ c: [3], skipped: undefined });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end();
    const after = Date.now();
    assert.equal(span.isRecording(), false);
    span.setAttribute('late', 1); // after the end: ignored, as by an SDK span
    // Listeners read the attributes at the end, before the SDK span exists.
    assert.deepEqual((span as DeferredSpan).attributes, { a: 1, b: 'two', c: [3] });
    assert.equal(exporter.getFinishedSpans().length, 0, 'not built during the call');

    await new Promise((r) => setImmediate(r));
    const spans = await finished();
    assert.equal(spans.length, 1);
    const s = spans[0]!;
    assert.equal(s.name, 'chat gpt-4o');
    assert.equal(s.kind, SpanKind.CLIENT);
    assert.deepEqual(s.attributes, { a: 1, b: 'two', c: [3] });
    assert.deepEqual(s.status, { code: SpanStatusCode.ERROR, message: 'boom' });
    assert.equal(s.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.equal(s.spanContext().traceId, parent.spanContext().traceId);
    // The call's own times, not the build's: started before the wait, ended after it. Bounds are
    // clock readings around each moment, not the timer's 30 ms (a timer may fire early by the event
    // loop's cached time), with 2 ms for the SDK's and Date.now()'s millisecond rounding.
    const [start, end] = [hrMs(s.startTime), hrMs(s.endTime)];
    assert.ok(start >= before - 2 && start <= started + 2, `start time ${start} in [${before}, ${started}]`);
    assert.ok(end >= ending - 2 && end <= after + 2, `end time ${end} in [${ending}, ${after}]`);
    assert.ok(hrMs(s.duration) >= ending - started - 2, `duration ${hrMs(s.duration)} ms`);
    parent.end();
  });

  it('hands out the real span context at once, and the SDK span keeps it', async () => {
    const span = tracer.startSpan('chat m', { kind: SpanKind.CLIENT });
    const sc = span.spanContext(); // e.g. an SDK that records child spans under the call
    assert.equal(trace.isSpanContextValid(sc), true);
    const child = sdkTracer.startSpan('sdk child', {}, trace.setSpan(context.active(), span));
    child.end();
    span.setAttribute('after.promotion', true);
    span.end();
    const spans = await finished();
    const call = spans.find((s) => s.name === 'chat m')!;
    assert.equal(call.spanContext().spanId, sc.spanId);
    assert.equal(call.attributes['after.promotion'], true);
    assert.equal(spans.find((s) => s.name === 'sdk child')!.parentSpanContext?.spanId, sc.spanId);
  });

  it('a flush builds the pending spans; a burst without a turn of the event loop is built in batches', async () => {
    const one = tracer.startSpan('one');
    one.end();
    materializePendingSpans();
    assert.equal((await finished()).length, 1);
    exporter.reset();
    for (let i = 0; i < 1500; i++) tracer.startSpan(`burst ${i}`).end();
    // Counted before anything yields to the event loop (the simple processor exports synchronously).
    assert.equal(exporter.getFinishedSpans().length, 1024, 'the first 1,024 built within the burst');
    await new Promise((r) => setImmediate(r));
    assert.equal((await finished()).length, 1500);
  });

  it('leaves suppressed contexts, explicit start times and links to the SDK as they are', () => {
    const suppressed = tracer.startSpan('x', {}, suppressTracing(context.active()));
    assert.equal(suppressed.isRecording(), false);
    assert.ok(!(tracer.startSpan('y', { startTime: Date.now() }) instanceof DeferredSpan));
    enableDeferredSpans(false);
    try {
      assert.ok(!(tracer.startSpan('z') instanceof DeferredSpan), 'off: the SDK span');
    } finally {
      enableDeferredSpans(true);
    }
  });
});

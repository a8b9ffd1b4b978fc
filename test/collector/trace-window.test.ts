/**
 * The trace window's bookkeeping: a trace's single span is held as itself and becomes a map from
 * the second on (decision 0085); either way the window answers the same, keeps the newest record of
 * a span, bounds spans per trace and in all, and forgets expired traces.
 */
import assert from 'node:assert/strict';
import type { GenAiSpanRef } from '../../collector/src/ingest/extract/extract';
import { TraceWindow } from '../../collector/src/ingest/trace-window';

const span = (traceId: string, spanId: string, provider = 'openai'): GenAiSpanRef => ({
  traceId,
  spanId,
  parentSpanId: '',
  provider,
  startTimeUnixNano: '1',
  endTimeUnixNano: '2',
});
const ids = (it: Iterable<GenAiSpanRef>): string[] => [...it].map((s) => `${s.spanId}:${s.provider}`);

describe('trace window', () => {
  it('answers the same for one span and for several spans of a trace, across requests', () => {
    const w = new TraceWindow();
    w.rememberGenAiSpans([span('t1', 'a')]);
    assert.deepEqual(ids(w.genaiSpans('t1')), ['a:openai']);
    w.rememberGenAiSpans([span('t1', 'b'), span('t2', 'c')]);
    assert.deepEqual(ids(w.genaiSpans('t1')), ['a:openai', 'b:openai']);
    assert.deepEqual(ids(w.genaiSpans('t2')), ['c:openai']);
    assert.deepEqual(ids(w.genaiSpans('t3')), []);
    assert.deepEqual([...w.priorCalls('t1')], [], 'kinds are kept apart');
  });

  it('keeps the newest record of a span seen again, whether it was alone or not', () => {
    const w = new TraceWindow();
    w.rememberGenAiSpans([span('t1', 'a')]);
    w.rememberGenAiSpans([span('t1', 'a', 'anthropic')]);
    assert.deepEqual(ids(w.genaiSpans('t1')), ['a:anthropic']);
    w.rememberGenAiSpans([span('t1', 'b'), span('t1', 'a', 'mistral')]);
    assert.deepEqual(ids(w.genaiSpans('t1')), ['b:openai', 'a:mistral']);
  });

  it('bounds the spans of a trace and in all, oldest first, counting a lone span once', () => {
    const perTrace = new TraceWindow({ maxSpansPerTrace: 2 });
    perTrace.rememberGenAiSpans([span('t1', 'a'), span('t1', 'b'), span('t1', 'c')]);
    assert.deepEqual(ids(perTrace.genaiSpans('t1')), ['b:openai', 'c:openai']);

    const inAll = new TraceWindow({ maxSpans: 2 });
    inAll.rememberGenAiSpans([span('t1', 'a')]);
    inAll.rememberGenAiSpans([span('t1', 'a')]); // the same span: still one
    inAll.rememberGenAiSpans([span('t2', 'b')]);
    assert.equal(inAll.size, 2);
    inAll.rememberGenAiSpans([span('t3', 'c')]);
    assert.equal(inAll.size, 2);
    assert.deepEqual(ids(inAll.genaiSpans('t1')), [], 'the least recently touched trace went');
    assert.deepEqual(ids(inAll.genaiSpans('t3')), ['c:openai']);
  });

  it('forgets a trace once its time in the window is over', () => {
    let now = 0;
    const w = new TraceWindow({ ttlMs: 1_000, now: () => now });
    w.rememberGenAiSpans([span('t1', 'a')]);
    now = 1_001;
    assert.deepEqual(ids(w.genaiSpans('t1')), []);
  });
});

/**
 * Two producers' spans of one call (issue 22): tokenledger's span and another instrumentation's
 * (OpenLLMetry's, the official one's, OpenLIT's) — one call is counted, the richer record, whatever
 * the order they arrive in. A poorer record stored first is replaced by the richer one, and every
 * report, the rollup included, is corrected. Real OTLP/JSON requests through the collector's ingest
 * pipeline and writer, on the embedded engine.
 */
import assert from 'node:assert/strict';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { processTraceRequest, type IngestResult } from '../../collector/src/ingest/pipeline';
import { TraceWindow } from '../../collector/src/ingest/trace-window';
import { Pricer } from '../../collector/src/pricing/pricer';
import { spendReport } from '../../collector/src/read/spend';
import type { Storage } from '../../collector/src/storage/client';
import { RollupMaintainer } from '../../collector/src/storage/rollup/maintainer';
import { CallWriter } from '../../collector/src/storage/writer';
import { freshStorage } from '../support/embedded-storage';

const HOUR = 3_600_000;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OPENLLMETRY = '@traceloop/instrumentation-openai';

type Value = string | number;

interface Span {
  scope: string;
  spanId: string;
  parentSpanId?: string;
  start: number;
  attributes: Record<string, Value>;
  resource: Record<string, Value>;
}

const attr = (key: string, v: Value) => ({
  key,
  value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v },
});

/** One OTLP/JSON export request, as an exporter sends it. */
function otlpJson(spans: Span[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceSpans: spans.map((s) => ({
        resource: { attributes: Object.entries(s.resource).map(([k, v]) => attr(k, v)) },
        scopeSpans: [
          {
            scope: { name: s.scope },
            spans: [
              {
                traceId: TRACE,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                name: 'chat gpt-4o',
                kind: 3,
                startTimeUnixNano: `${s.start}000000`,
                endTimeUnixNano: `${s.start + 1200}000000`,
                attributes: Object.entries(s.attributes).map(([k, v]) => attr(k, v)),
                status: {},
              },
            ],
          },
        ],
      })),
    }),
  );
}

const call = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.response.id': 'chatcmpl-twin-1',
  'gen_ai.usage.input_tokens': 10_000,
  'gen_ai.usage.output_tokens': 100,
};

/** The other producer's record: no cached tokens, the app's resource (no team). */
const poorer = (start: number): Span => ({
  scope: OPENLLMETRY,
  spanId: 'a1a1a1a1a1a1a1a1',
  start,
  attributes: call,
  resource: { 'service.name': 'checkout', 'deployment.environment.name': 'production' },
});

/** tokenledger's record of the same call: cached tokens, its own resource (team, no environment). */
const richer = (start: number): Span => ({
  scope: 'tokenledger',
  spanId: 'b2b2b2b2b2b2b2b2',
  start: start + 3, // a sibling span starts a few milliseconds apart
  attributes: { ...call, 'gen_ai.usage.cache_read.input_tokens': 8_000 },
  resource: { 'service.name': 'checkout', 'tokenledger.team': 'payments' },
});

describe('late twins: the richer record replaces a poorer one stored first (embedded ClickHouse)', function () {
  this.timeout(60_000);
  let storage: Storage;
  let writer: CallWriter;
  let window: TraceWindow;
  const pricer = new Pricer();

  beforeEach(async () => {
    storage = await freshStorage();
    writer = new CallWriter(storage);
    window = new TraceWindow();
  });

  async function ingest(spans: Span[]): Promise<IngestResult> {
    const req = decodeTraceRequest(otlpJson(spans), 'application/json');
    const result = processTraceRequest(req, pricer, { window });
    await writer.write(result.calls, result.aiHttpCalls);
    return result;
  }

  async function storedCalls(): Promise<Record<string, string>[]> {
    const rs = await storage.client.query({
      query: `SELECT span_id, toString(start_time) AS start, source, team, environment,
                     toString(cache_read_tokens) AS cached, toString(cost_usd) AS cost
              FROM ${storage.database}.llm_calls FINAL ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    return rs.json();
  }

  /** The spend report over whole hours (rollup + tail) and the raw calls, total and calls. */
  async function reports(at: number): Promise<string[]> {
    const from = Math.floor(at / HOUR) * HOUR - 2 * HOUR;
    const to = Math.floor(Date.now() / HOUR) * HOUR + 2 * HOUR;
    const out: string[] = [];
    for (const f of [from, from - 1]) {
      const r = await spendReport(storage, {
        from: new Date(f).toISOString(),
        to: new Date(to).toISOString(),
        groupBy: ['team'],
      });
      out.push(r.breakdown.map((b) => `${b.team} ${b.calls} $${b.spend_usd}`).join(', '));
    }
    return out;
  }

  /** What the pipeline prices `span` at when it arrives alone. */
  function costAlone(span: Span): string {
    const req = decodeTraceRequest(otlpJson([span]), 'application/json');
    return processTraceRequest(req, pricer, { window: new TraceWindow() }).calls[0]!.costUsd;
  }

  it('poorer first, in a sealed hour: replaced by the richer record, rollup and reports corrected', async () => {
    const at = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR + 60_000;
    const [poorCost, richCost] = [costAlone(poorer(at)), costAlone(richer(at))];
    assert.notEqual(poorCost, richCost, 'cached tokens change the price');

    await ingest([poorer(at)]);
    const maintainer = new RollupMaintainer({ storage, log: () => undefined, publishDelayMs: 0 });
    await maintainer.round();
    await maintainer.round();
    assert.deepEqual(await reports(at), [` 1 $${poorCost}`, ` 1 $${poorCost}`]);

    const result = await ingest([richer(at)]);
    assert.equal(result.replacingCalls, 1);
    const [row, ...more] = await storedCalls();
    assert.deepEqual(more, [], 'one call');
    // The stored row's key (span, start), tokenledger's usage and team, the environment its twin had.
    assert.deepEqual(row, {
      span_id: 'a1a1a1a1a1a1a1a1',
      start: row!.start,
      source: 'tokenledger',
      team: 'payments',
      environment: 'production',
      cached: '8000',
      cost: richCost,
    });
    // The hour was sealed with the poorer record (whole hours read it until it is rebuilt); the
    // writer marked the hour, and the next round rebuilds it.
    assert.deepEqual(await reports(at), [` 1 $${poorCost}`, `payments 1 $${richCost}`]);
    await maintainer.round();
    assert.deepEqual(await reports(at), [`payments 1 $${richCost}`, `payments 1 $${richCost}`]);

    // Retries: the replaced span is dropped, the richer one is written as the same row again.
    assert.equal((await ingest([poorer(at)])).calls.length, 0);
    const again = await ingest([richer(at)]);
    assert.deepEqual([again.calls.length, again.calls[0]!.spanId], [1, 'a1a1a1a1a1a1a1a1']);
    await maintainer.round();
    assert.equal((await storedCalls()).length, 1);
    assert.deepEqual(await reports(at), [`payments 1 $${richCost}`, `payments 1 $${richCost}`]);
  });

  it('richer first: the poorer twin arriving later is dropped', async () => {
    const at = Date.now() - 60_000;
    await ingest([richer(at)]);
    const late = await ingest([poorer(at)]);
    assert.deepEqual([late.calls.length, late.replacingCalls, late.skippedGenaiSpans], [0, 0, 1]);
    const rows = await storedCalls();
    assert.deepEqual(
      rows.map((r) => [r.span_id, r.source, r.team, r.cached]),
      [['b2b2b2b2b2b2b2b2', 'tokenledger', 'payments', '8000']],
    );
  });

  it('both in one export, either order: the richer kept, with the attribution only its twin had', async () => {
    const at = Date.now() - 60_000;
    for (const spans of [
      [poorer(at), richer(at)],
      [richer(at), poorer(at)],
    ]) {
      window = new TraceWindow();
      const req = decodeTraceRequest(otlpJson(spans), 'application/json');
      const { calls } = processTraceRequest(req, pricer, { window });
      assert.deepEqual(
        calls.map((c) => [c.source, c.cacheReadTokens, c.attribution.team, c.attribution.environment]),
        [['tokenledger', 8000, 'payments', 'production']],
      );
      assert.equal(calls[0]!.replacesStored, undefined);
    }
  });

  it('between two other producers, the one with cached usage replaces the one without', async () => {
    const at = Date.now() - 60_000;
    const official: Span = { ...poorer(at), scope: '@opentelemetry/instrumentation-openai' };
    const withCache: Span = {
      ...richer(at),
      scope: OPENLLMETRY,
      resource: poorer(at).resource,
    };
    await ingest([official]);
    const r = await ingest([withCache]);
    assert.equal(r.replacingCalls, 1);
    assert.deepEqual(
      (await storedCalls()).map((c) => [c.span_id, c.source, c.cached]),
      [['a1a1a1a1a1a1a1a1', OPENLLMETRY, '8000']],
    );
    // And a third record no richer than the stored one changes nothing.
    const third: Span = { ...official, spanId: 'c3c3c3c3c3c3c3c3' };
    assert.equal((await ingest([third])).calls.length, 0);
  });

  it('the window: a twin arriving after the trace was forgotten is not recognised (stated limit)', async () => {
    let now = 0;
    window = new TraceWindow({ ttlMs: 120_000, now: () => now });
    const at = Date.now() - 60_000;
    await ingest([poorer(at)]);
    now = 119_000; // within two minutes of the trace's last span: recognised
    assert.equal((await ingest([{ ...poorer(at), spanId: 'd4d4d4d4d4d4d4d4' }])).calls.length, 0);
    now = 119_000 + 120_001; // two minutes after the last span of the trace: forgotten
    const late = await ingest([richer(at)]);
    assert.deepEqual([late.calls.length, late.replacingCalls], [1, 0]);
    assert.equal((await storedCalls()).length, 2);
  });
});

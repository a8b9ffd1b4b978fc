/**
 * The Vercel AI SDK's own OpenTelemetry spans, from the real package: ai 6.x with @ai-sdk/openai
 * 3.x (test/fixtures/sdk-previous), experimental_telemetry on, the app's own OTel SDK exporting
 * OTLP. Each generateText / streamText records an outer span (ai.generateText, ai.streamText) that
 * repeats the usage of its provider-call span (ai.generateText.doGenerate, ai.streamText.doStream):
 * every call must be priced exactly — cached prompt tokens at the cached rate — and counted once,
 * whether the spans arrive in one export request or each in its own.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import Decimal from 'decimal.js';
import type { FakeOpenAI } from '../support/fake-openai';
import type { OtlpSink } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import { useCollectorProcess, useProducerServers } from '../support/producer-suite';
import { runProducer } from '../fixtures/producers/support';
import { openAiCost } from '../fixtures/producers/prices';
import type { PricedCall } from '../../collector/src/core/call';

const APP = path.join(__dirname, '..', 'fixtures', 'sdk-previous', 'vercel-ai-telemetry.mjs');
const USAGE = { input: 1000, output: 200, cached: 400 };

const summary = (c: PricedCall) => ({
  provider: c.provider,
  operation: c.operation,
  requestModel: c.requestModel,
  responseModel: c.responseModel,
  streaming: c.streaming,
  input: c.inputTokens,
  cacheRead: c.cacheReadTokens,
  output: c.outputTokens,
  priced: c.priced,
  cost: new Decimal(c.costUsd).toFixed(),
  source: c.source,
  service: c.attribution.service,
});

const expectedCall = (streaming: boolean) => ({
  provider: 'openai',
  operation: 'chat',
  requestModel: 'gpt-4o-mini',
  responseModel: 'gpt-4o-mini-2024-08-06',
  streaming,
  input: USAGE.input,
  cacheRead: USAGE.cached,
  output: USAGE.output,
  priced: true,
  cost: openAiCost(USAGE.input, USAGE.cached, USAGE.output),
  source: 'ai',
  service: 'vercel-ai6-app',
});

describe('Vercel AI SDK 6 telemetry spans (real ai package)', function () {
  this.timeout(60_000);
  let fake: FakeOpenAI;
  let sink: OtlpSink;
  useProducerServers(USAGE, (f, s) => {
    fake = f;
    sink = s;
  });

  const run = (endpoint: string, extra: Record<string, string> = {}) =>
    runProducer(APP, { FAKE_OPENAI_URL: fake.url, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...extra });

  it('generateText and streamText: the provider-call spans priced exactly, the outer spans not counted', async () => {
    await run(sink.url);
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[1]!.body?.stream, true);
    const calls = pricedCallsFrom(sink);
    assert.deepEqual(calls.map(summary), [expectedCall(false), expectedCall(true)]);
  });

  it('each span exported in its own request: still one record per call', async () => {
    await run(sink.url, { TEST_SPAN_PROCESSOR: 'simple' });
    assert.equal(sink.requests.length, 4, 'outer and inner span of two calls, one request each');
    const calls = pricedCallsFrom(sink);
    assert.deepEqual(calls.map(summary), [expectedCall(false), expectedCall(true)]);
  });

  describe('through a real collector process', () => {
    const collector = useCollectorProcess('tl_admin_vercel_ai_test_key_0001');

    it('the spend report has the exact dollars of both calls, each counted once', async () => {
      await run(collector.url, { OTEL_EXPORTER_OTLP_HEADERS: collector.otlpHeaders });
      const report = await collector.spendReport('groupBy=service,model');
      const one = openAiCost(USAGE.input, USAGE.cached, USAGE.output);
      assert.equal(report.total_usd, new Decimal(one).times(2).toFixed());
      assert.deepEqual(
        report.breakdown.map((r) => [
          r.service,
          r.model,
          r.calls,
          r.input_tokens,
          r.output_tokens,
          r.unpriced_calls,
        ]),
        [['vercel-ai6-app', 'gpt-4o-mini', 2, 2000, 400, 0]],
      );
    });
  });
});

/**
 * Third-party OpenTelemetry producers, really running: each fixture app (test/fixtures/producers)
 * sets up its producer the way that producer documents it, calls a fake provider server, and
 * exports OTLP; the collector's pipeline must price what arrives exactly, count each call once,
 * and normalise tokens (OpenAI's prompt tokens include cached ones, Anthropic's input excludes them).
 * A call whose producer reported no usage (a streamed completion under OpenLLMetry 0.27 or
 * OpenInference) is stored unpriced, never as a $0 call.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import type { FakeOpenAI } from '../support/fake-openai';
import type { OtlpSink } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import { useCollectorProcess, useProducerServers } from '../support/producer-suite';
import { runProducer, startFakeAnthropic } from '../fixtures/producers/support';
import type { PricedCall } from '../../collector/src/core/call';
import { CLAUDE_3_5_HAIKU, openAiCost, perM } from '../fixtures/producers/prices';

const summary = (c: PricedCall) => ({
  provider: c.provider,
  input: c.inputTokens,
  cacheRead: c.cacheReadTokens,
  cacheWrite: c.cacheWriteTokens,
  output: c.outputTokens,
  cost: new Decimal(c.costUsd).toFixed(),
});

/** A streamed call whose producer recorded no usage: kept, unpriced, its model still named. */
const unpricedSummary = (c: PricedCall) => ({
  provider: c.provider,
  tokens: c.inputTokens + c.outputTokens,
  priced: c.priced,
  cost: c.costUsd,
  pricedModel: c.pricedModel,
});
const NO_USAGE = {
  provider: 'openai',
  tokens: 0,
  priced: false,
  cost: '0',
  pricedModel: 'gpt-4o-mini',
};

describe('GenAI spans from third-party producers', function () {
  this.timeout(60_000);
  let fake: FakeOpenAI;
  let sink: OtlpSink;
  useProducerServers({ input: 1000, output: 200, cached: 400 }, (f, s) => {
    fake = f;
    sink = s;
  });

  const run = (app: string, extra: Record<string, string> = {}) =>
    runProducer(app, { FAKE_OPENAI_URL: fake.url, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, ...extra });

  it('official contrib @opentelemetry/instrumentation-openai on openai 4.x: both calls, priced', async () => {
    await run('contrib-openai.cjs');
    const calls = pricedCallsFrom(sink);
    assert.equal(fake.requests.length, 2);
    // 0.21 records prompt and completion tokens but not the cached part: billed at the full input rate.
    const expected = { provider: 'openai', input: 1000, cacheRead: 0, cacheWrite: 0, output: 200 };
    assert.deepEqual(calls.map(summary), [
      { ...expected, cost: openAiCost(1000, 0, 200) },
      { ...expected, cost: openAiCost(1000, 0, 200) },
    ]);
    assert.ok(calls.every((c) => c.source === '@opentelemetry/instrumentation-openai' && c.priced));
    assert.ok(calls.every((c) => c.attribution.service === 'contrib-app'));
  });

  it('OpenLLMetry @traceloop/instrumentation-openai on openai 4.x: one record per call', async () => {
    await run('openllmetry-openai.cjs');
    const calls = pricedCallsFrom(sink);
    assert.equal(calls.length, 2, 'two requests, two calls');
    assert.deepEqual(summary(calls[0]!), {
      provider: 'openai',
      input: 1000,
      cacheRead: 0,
      cacheWrite: 0,
      output: 200,
      cost: openAiCost(1000, 0, 200),
    });
    // 0.27 records no usage on a streamed completion (even with include_usage): a call of unknown cost.
    assert.deepEqual(unpricedSummary(calls[1]!), NO_USAGE);
  });

  it('OpenInference on openai 7.x: cached prompt tokens priced at the cached rate', async () => {
    await run('openinference-openai.cjs');
    const calls = pricedCallsFrom(sink);
    assert.equal(calls.length, 2);
    assert.deepEqual(summary(calls[0]!), {
      provider: 'openai',
      input: 1000,
      cacheRead: 400,
      cacheWrite: 0,
      output: 200,
      cost: openAiCost(1000, 400, 200),
    });
    assert.equal(calls[0]!.source, '@arizeai/openinference-instrumentation-openai');
    // It records no usage on the streamed completion: stored, unpriced.
    assert.deepEqual(unpricedSummary(calls[1]!), NO_USAGE);
  });

  it('OpenLIT on openai 7.x: chat and stream priced, its own HTTP child spans not counted', async () => {
    await run('openlit-openai.cjs');
    const calls = pricedCallsFrom(sink);
    const one = { provider: 'openai', input: 1000, cacheRead: 400, cacheWrite: 0, output: 200 };
    assert.deepEqual(calls.map(summary), [
      { ...one, cost: openAiCost(1000, 400, 200) },
      { ...one, cost: openAiCost(1000, 400, 200) },
    ]);
    assert.ok(calls.every((c) => c.attribution.service === 'openlit-app'));
  });

  const ANTHROPIC_USAGE = { input: 100, output: 50, cacheRead: 1000, cacheWrite: 200 };

  async function runOpenLlmetryAnthropic(extra: Record<string, string> = {}): Promise<PricedCall[]> {
    const anthropic = await startFakeAnthropic(ANTHROPIC_USAGE);
    try {
      await run('openllmetry-anthropic.cjs', { FAKE_ANTHROPIC_URL: anthropic.url, ...extra });
    } finally {
      await anthropic.close();
    }
    return pricedCallsFrom(sink);
  }

  /** Each call once, Anthropic's raw input_tokens normalised to the total (cache included). */
  function assertAnthropicCallsOnce(calls: PricedCall[]): void {
    const u = ANTHROPIC_USAGE;
    assert.equal(calls.length, 2, 'message + streamed message, each once');
    const cost = perM(u.input, CLAUDE_3_5_HAIKU.input)
      .plus(perM(u.cacheRead, CLAUDE_3_5_HAIKU.cacheRead))
      .plus(perM(u.cacheWrite, CLAUDE_3_5_HAIKU.cacheWrite))
      .plus(perM(u.output, CLAUDE_3_5_HAIKU.output))
      .toFixed();
    const expected = {
      provider: 'anthropic',
      input: 1300,
      cacheRead: 1000,
      cacheWrite: 200,
      output: 50,
      cost,
    };
    assert.deepEqual(calls.map(summary), [expected, expected]);
  }

  it('OpenLLMetry @traceloop/instrumentation-anthropic: wrapper + SDK span count once, cache normalised', async () => {
    const calls = await runOpenLlmetryAnthropic();
    // The Anthropic SDK's own span (a child of OpenLLMetry's, same response id) repeats each call.
    assertAnthropicCallsOnce(calls);
    assert.ok(calls.every((c) => c.source === '@traceloop/instrumentation-anthropic'));
  });

  it('OpenLLMetry anthropic, each span exported on its own: the repeat in a later request is recognised', async () => {
    const calls = await runOpenLlmetryAnthropic({ TEST_SPAN_PROCESSOR: 'simple' });
    assert.equal(sink.requests.length, 4, 'two calls, two spans each, one export request per span');
    assertAnthropicCallsOnce(calls);
    // Whichever span of a call ended (and was exported) first is the record; the later one is the
    // repeat. The SDK's span ends first on a plain message, OpenLLMetry's first on a stream.
    assert.deepEqual(
      calls.map((c) => c.source),
      ['com.anthropic.sdk.typescript', '@traceloop/instrumentation-anthropic'],
    );
  });

  describe('through a real collector process', () => {
    const collector = useCollectorProcess('tl_admin_producers_test_key_0001');

    it('OpenLIT exports OTLP JSON straight to the collector; the spend report has the exact dollars', async () => {
      await runProducer('openlit-openai.cjs', {
        FAKE_OPENAI_URL: fake.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: collector.otlpHeaders,
      });
      const report = await collector.spendReport('groupBy=service,provider');
      const expected = new Decimal(openAiCost(1000, 400, 200)).times(2).toFixed();
      assert.equal(report.total_usd, expected);
      assert.deepEqual(
        report.breakdown.map((r) => [r.service, r.provider, r.calls, r.input_tokens, r.output_tokens]),
        [['openlit-app', 'openai', 2, 2000, 400]],
      );
    });

    it('a streamed call reported without usage is counted in unpriced_calls, not as $0 spend', async () => {
      await runProducer('openllmetry-openai.cjs', {
        FAKE_OPENAI_URL: fake.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: collector.otlpHeaders,
      });
      const report = await collector.spendReport('groupBy=service&service=openllmetry-app');
      assert.equal(report.total_usd, openAiCost(1000, 0, 200), 'the priced call only');
      assert.deepEqual(
        report.breakdown.map((r) => [r.service, r.calls, r.unpriced_calls, r.spend_usd]),
        [['openllmetry-app', 2, 1, openAiCost(1000, 0, 200)]],
      );
    });
  });
});

/**
 * Third-party OpenTelemetry producers, really running: each fixture app (test/fixtures/producers)
 * sets up its producer the way that producer documents it, calls a fake provider server, and
 * exports OTLP; the collector's pipeline must price what arrives exactly, count each call once,
 * and normalise tokens (OpenAI's prompt tokens include cached ones, Anthropic's input excludes them).
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { startOtlpSink, type OtlpSink } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import { startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { runProducer, startFakeAnthropic } from '../fixtures/producers/support';
import type { PricedCall } from '../../collector/src/model';

/** List prices, USD per million tokens (genai-prices catalog, as published by the providers). */
const GPT_4O_MINI = { input: '0.15', cachedInput: '0.075', output: '0.6' };
const CLAUDE_3_5_HAIKU = { input: '0.8', cacheRead: '0.08', cacheWrite: '1', output: '4' };

const perM = (tokens: number, usdPerM: string): Decimal => new Decimal(usdPerM).times(tokens).div(1_000_000);

/** What an OpenAI call costs: prompt tokens include the cached ones, which bill at the cached rate. */
function openAiCost(prompt: number, cached: number, output: number): string {
  return perM(prompt - cached, GPT_4O_MINI.input)
    .plus(perM(cached, GPT_4O_MINI.cachedInput))
    .plus(perM(output, GPT_4O_MINI.output))
    .toFixed();
}

const summary = (c: PricedCall) => ({
  provider: c.provider,
  input: c.inputTokens,
  cacheRead: c.cacheReadTokens,
  cacheWrite: c.cacheWriteTokens,
  output: c.outputTokens,
  cost: new Decimal(c.costUsd).toFixed(),
});

describe('GenAI spans from third-party producers', function () {
  this.timeout(60_000);
  let fake: FakeOpenAI;
  let sink: OtlpSink;

  before(async () => {
    fake = await startFakeOpenAI();
    sink = await startOtlpSink();
  });
  after(async () => {
    await sink.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    sink.reset();
    fake.setUsage({ input: 1000, output: 200, cached: 400 });
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
    // 0.27 records no usage on a streamed completion (even with include_usage): a call, with no tokens.
    assert.equal(calls[1]!.inputTokens + calls[1]!.outputTokens, 0);
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

  it('OpenLLMetry @traceloop/instrumentation-anthropic: wrapper + SDK span count once, cache normalised', async () => {
    const usage = { input: 100, output: 50, cacheRead: 1000, cacheWrite: 200 };
    const anthropic = await startFakeAnthropic(usage);
    try {
      await run('openllmetry-anthropic.cjs', { FAKE_ANTHROPIC_URL: anthropic.url });
    } finally {
      await anthropic.close();
    }
    const calls = pricedCallsFrom(sink);
    // The Anthropic SDK's own span (a child of OpenLLMetry's, same response id) repeats each call.
    assert.equal(calls.length, 2, 'message + streamed message, each once');
    const cost = perM(usage.input, CLAUDE_3_5_HAIKU.input)
      .plus(perM(usage.cacheRead, CLAUDE_3_5_HAIKU.cacheRead))
      .plus(perM(usage.cacheWrite, CLAUDE_3_5_HAIKU.cacheWrite))
      .plus(perM(usage.output, CLAUDE_3_5_HAIKU.output))
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
    assert.ok(calls.every((c) => c.source === '@traceloop/instrumentation-anthropic'));
  });

  describe('through a real collector process', () => {
    let collector: CollectorProcess;
    const key = 'tl_admin_producers_test_key_0001';
    before(async () => {
      collector = await startCollectorProcess({ env: { TOKENLEDGER_API_KEYS: `admin:${key}` } });
    });
    after(async () => {
      await collector.stop();
    });

    it('OpenLIT exports OTLP JSON straight to the collector; the spend report has the exact dollars', async () => {
      await runProducer('openlit-openai.cjs', {
        FAKE_OPENAI_URL: fake.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${key}`,
      });
      const res = await fetch(`${collector.url}/v1/reports/spend?groupBy=service,provider`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200);
      const report = (await res.json()) as { total_usd: string; breakdown: Array<Record<string, unknown>> };
      const expected = new Decimal(openAiCost(1000, 400, 200)).times(2).toFixed();
      assert.equal(report.total_usd, expected);
      assert.deepEqual(
        report.breakdown.map((r) => [r.service, r.provider, r.calls, r.input_tokens, r.output_tokens]),
        [['openlit-app', 'openai', 2, 2000, 400]],
      );
    });
  });
});

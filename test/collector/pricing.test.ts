import assert from 'node:assert/strict';
import { calcPrice, findProvider } from '@pydantic/genai-prices';
import { PriceOverrideError, Pricer } from '../../collector/src/pricing/pricer';
import { priceAt } from '../../collector/src/pricing/catalog';
import {
  compileModelPrice,
  computeCost,
  computeCostText,
  type TokenUsage,
} from '../../collector/src/pricing/cost';
import { Money, formatUsd } from '../../collector/src/core/money';
import { processTraceRequest } from '../../collector/src/ingest/pipeline';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { extractedCall as call, nanos } from '../support/calls';
import { protobufBody, recordSpans } from './otlp-helpers';

/** The catalog providers whose every model the tests below price. */
const MAIN_PROVIDERS = ['openai', 'anthropic', 'google', 'mistral', 'groq', 'deepseek', 'x-ai', 'aws'];

describe('pricing', () => {
  const pricer = new Pricer();
  /** claude-sonnet-4-5, 1000 tokens in and 100 out, with the cache parts given. */
  const sonnet = (cache: Parameters<typeof call>[0]) =>
    pricer.price(
      call({
        provider: 'anthropic',
        requestModel: 'claude-sonnet-4-5',
        inputTokens: 1000,
        outputTokens: 100,
        ...cache,
      }),
    );

  it('gpt-4o: 1000 in / 200 out = $0.0045 exactly', () => {
    const p = pricer.price(call({ inputTokens: 1000, outputTokens: 200 }));
    assert.equal(p.priced, true);
    assert.equal(p.costUsd, '0.0045');
    assert.equal(p.inputCostUsd, '0.0025');
    assert.equal(p.outputCostUsd, '0.002');
    assert.equal(p.pricedProvider, 'openai');
    assert.equal(p.pricedModel, 'gpt-4o');
  });

  it('gpt-4o: 10000 in of which 8000 cached + 100 out = $0.016 exactly', () => {
    const p = pricer.price(call({ inputTokens: 10000, cacheReadTokens: 8000, outputTokens: 100 }));
    assert.equal(p.costUsd, '0.016');
  });

  it('claude-sonnet-4-5: 1000 in (100 cache read, 200 cache write) + 100 out = $0.00438', () => {
    const p = sonnet({ cacheReadTokens: 100, cacheWriteTokens: 200 });
    assert.equal(p.costUsd, '0.00438');
    assert.equal(p.inputCostUsd, '0.00288');
    assert.equal(p.pricedProvider, 'anthropic');
  });

  it('claude-sonnet-4-5: 1-hour cache writes at $6 / M, the other writes at $3.75 / M', () => {
    // 1000 in = 100 plain + 100 cache read + 800 cache write, of which 600 to the 1-hour cache; 100 out.
    // 100 × 3 + 100 × 0.30 + 200 × 3.75 + 600 × 6 = 300 + 30 + 750 + 3600 = 4680 µ$ in; 100 × 15 = 1500 µ$ out.
    const p = sonnet({ cacheReadTokens: 100, cacheWriteTokens: 800, cacheWrite1hTokens: 600 });
    assert.equal(p.inputCostUsd, '0.00468');
    assert.equal(p.costUsd, '0.00618');
    // A model without a 1-hour price (gpt-4o has no cache-write price at all) bills them as the rest.
    const plain = pricer.price(
      call({ inputTokens: 1000, cacheWriteTokens: 800, cacheWrite1hTokens: 600, outputTokens: 100 }),
    );
    assert.equal(plain.costUsd, pricer.price(call({ inputTokens: 1000, outputTokens: 100 })).costUsd);
  });

  it('keeps an unknown model, unpriced', () => {
    const c = call({ provider: 'acme', requestModel: 'acme-llm-9000', inputTokens: 5, outputTokens: 5 });
    const p = pricer.price(c);
    assert.equal(p.priced, false);
    assert.equal(p.costUsd, '0');
    assert.equal(p.inputCostUsd, '0');
    assert.equal(p.pricedModel, '');
    assert.equal(p.inputTokens, 5);
    assert.equal(p.spanId, c.spanId);
  });

  it('prices the response model when present: a dated id with its own price', () => {
    // gpt-4o-2024-05-13 kept the launch price ($5 / $15), unlike gpt-4o.
    const p = pricer.price(
      call({ responseModel: 'gpt-4o-2024-05-13', inputTokens: 1000, outputTokens: 1000 }),
    );
    assert.equal(p.pricedModel, 'gpt-4o-2024-05-13');
    assert.equal(p.costUsd, '0.02');
    const aliased = pricer.price(
      call({ responseModel: 'gpt-4o-2024-08-06', inputTokens: 1000, outputTokens: 200 }),
    );
    assert.equal(aliased.pricedModel, 'gpt-4o');
    assert.equal(aliased.costUsd, '0.0045');
  });

  it('applies tiered prices the way genai-prices does: one rate chosen by total input tokens', () => {
    const base = { provider: 'gcp.gemini', requestModel: 'gemini-2.5-pro', outputTokens: 1000 };
    // 200000 input tokens is not above the 200k tier start: base rates $1.25 / $10.
    assert.equal(pricer.price(call({ ...base, inputTokens: 200_000 })).costUsd, '0.26');
    // 200001: every unit at the tier rate, output included: $2.5 / $15.
    assert.equal(pricer.price(call({ ...base, inputTokens: 200_001 })).costUsd, '0.5150025');
  });

  it('uses the price in force at the call time (historic prices stay historic)', () => {
    const c = { provider: 'openai', requestModel: 'o3', inputTokens: 1000, outputTokens: 1000 };
    // o3 was cut from $10/$40 to $2/$8 on 2025-06-10.
    assert.equal(
      pricer.price(call({ ...c, startTimeUnixNano: nanos('2025-06-09T23:59:59Z') })).costUsd,
      '0.05',
    );
    assert.equal(
      pricer.price(call({ ...c, startTimeUnixNano: nanos('2025-06-10T00:00:00Z') })).costUsd,
      '0.01',
    );
  });

  it('honours time-of-day prices (DeepSeek off-peak)', () => {
    const c = {
      provider: 'deepseek',
      requestModel: 'deepseek-chat',
      inputTokens: 1_000_000,
      outputTokens: 0,
    };
    assert.equal(
      pricer.price(call({ ...c, startTimeUnixNano: nanos('2025-09-01T12:00:00Z') })).costUsd,
      '0.27',
    );
    assert.equal(
      pricer.price(call({ ...c, startTimeUnixNano: nanos('2025-09-01T20:00:00Z') })).costUsd,
      '0.135',
    );
  });

  it('maps provider hints to the catalog and falls back to model-only matching', () => {
    const azure = pricer.price(call({ provider: 'azure.ai.openai', inputTokens: 1000, outputTokens: 200 }));
    assert.equal(azure.priced, true);
    assert.equal(azure.costUsd, '0.0045');
    const bedrock = pricer.price(
      call({
        provider: 'aws.bedrock',
        requestModel: 'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
        inputTokens: 1000,
      }),
    );
    assert.equal(bedrock.pricedProvider, 'aws');
    assert.equal(bedrock.costUsd, '0.003');
    const noHint = pricer.price(call({ provider: '', requestModel: 'claude-sonnet-4-5', inputTokens: 1000 }));
    assert.equal(noHint.pricedProvider, 'anthropic');
    assert.equal(noHint.costUsd, '0.003');
  });

  it('treats reasoning tokens as output unless the model prices them separately', () => {
    const o3 = pricer.price(call({ requestModel: 'o3', outputTokens: 1000, reasoningTokens: 800 }));
    assert.equal(o3.costUsd, '0.008'); // all 1000 output tokens at $8
    const deep = pricer.price(
      call({
        provider: 'perplexity',
        requestModel: 'sonar-deep-research',
        outputTokens: 1000,
        reasoningTokens: 800,
      }),
    );
    assert.equal(deep.outputCostUsd, '0.004'); // 200 × $8 + 800 × $3 per million
  });

  it('applies an override discount', () => {
    const discounted = new Pricer({ overrides: [{ provider: 'openai', model: 'gpt-4o', discount: 0.15 }] });
    assert.equal(discounted.price(call({ inputTokens: 1000, outputTokens: 200 })).costUsd, '0.003825');
    // the catalog id matches dated variants too
    assert.equal(
      discounted.price(call({ responseModel: 'gpt-4o-2024-11-20', inputTokens: 1000, outputTokens: 200 }))
        .costUsd,
      '0.003825',
    );
    // another provider's gpt-4o is not discounted
    const onlyAzure = new Pricer({
      overrides: [{ provider: 'azure.ai.openai', model: 'gpt-4o', discount: 0.5 }],
    });
    assert.equal(onlyAzure.price(call({ inputTokens: 1000, outputTokens: 200 })).costUsd, '0.0045');
  });

  it('prices a private model from custom override prices', () => {
    const p = new Pricer({
      overrides: [
        { model: 'acme-llm-9000', input_mtok: '0.4', output_mtok: 1.6, cache_read_mtok: '0.1' },
        { model: 'acme-cheap', input_mtok: 1, output_mtok: 1, discount: 0.5 },
      ],
    });
    const c = p.price(
      call({
        provider: 'acme',
        requestModel: 'acme-llm-9000',
        inputTokens: 3000,
        cacheReadTokens: 1000,
        outputTokens: 500,
      }),
    );
    assert.equal(c.priced, true);
    assert.equal(c.costUsd, '0.0017'); // 2000×0.4 + 1000×0.1 + 500×1.6 per million
    assert.equal(c.pricedModel, 'acme-llm-9000');
    assert.equal(c.pricedProvider, 'acme');
    assert.equal(p.price(call({ requestModel: 'acme-cheap', inputTokens: 1000 })).costUsd, '0.0005');
  });

  it('prices 1-hour cache writes from an override that names them', () => {
    const p = new Pricer({
      overrides: [
        {
          model: 'house-claude',
          input_mtok: 2,
          output_mtok: 10,
          cache_write_mtok: '2.5',
          cache_write_1h_mtok: 4,
        },
      ],
    });
    const c = p.price(
      call({
        provider: 'acme',
        requestModel: 'house-claude',
        inputTokens: 1000,
        cacheWriteTokens: 500,
        cacheWrite1hTokens: 200,
      }),
    );
    assert.equal(c.costUsd, '0.00255'); // 500×2 + 300×2.5 + 200×4 per million
  });

  it('rejects invalid overrides with a clear message', () => {
    assert.throws(() => new Pricer({ overrides: [{ model: 'gpt-4o', discount: 1.5 }] }), PriceOverrideError);
    assert.throws(
      () => new Pricer({ overrides: [{ model: 'x', input_mtok: 'cheap' }] }),
      /price override for 'x': input_mtok is not a number: cheap/,
    );
    assert.throws(
      () => new Pricer({ overrides: [{ model: 'x', input_mtok: 1, cache_write_1h_mtok: 2 }] }),
      /price override for 'x': cache_write_1h_mtok needs cache_write_mtok/,
    );
  });

  it('never fetches remote price data', () => {
    const original = globalThis.fetch;
    globalThis.fetch = () => {
      throw new Error('network used');
    };
    try {
      const p = new Pricer().price(call({ requestModel: 'gpt-4o-mini', inputTokens: 1000 }));
      assert.equal(p.priced, true);
    } finally {
      globalThis.fetch = original;
    }
  });

  it('agrees with genai-prices on every catalog model of the main providers', () => {
    const usage = {
      inputTokens: 123_457,
      cacheReadTokens: 20_001,
      cacheWriteTokens: 3_003,
      cacheWrite1hTokens: 1_001,
      outputTokens: 4_567,
      reasoningTokens: 0,
    };
    const at = new Date('2025-09-01T12:00:00Z');
    let checked = 0;
    let oneHourPriced = 0;
    for (const providerId of MAIN_PROVIDERS) {
      const provider = findProvider({ providerId })!;
      for (const model of provider.models) {
        const lib = calcPrice(
          {
            input_tokens: usage.inputTokens,
            cache_read_tokens: usage.cacheReadTokens,
            cache_write_tokens: usage.cacheWriteTokens,
            cache_write_1h_tokens: usage.cacheWrite1hTokens,
            output_tokens: usage.outputTokens,
          },
          model.id,
          { provider, timestamp: at },
        );
        if (!lib || lib.model.id !== model.id) continue;
        const ours = new Pricer().price(
          call({
            provider: '',
            requestModel: model.id,
            startTimeUnixNano: nanos(at.toISOString()),
            ...usage,
          }),
        );
        // Model-only matching landed elsewhere (another model, or the same id at another provider).
        if (ours.pricedModel !== model.id || ours.pricedProvider !== provider.id) continue;
        assert.deepEqual(priceAt(model, at), lib.model_price);
        const diff = Math.abs(Number(ours.costUsd) - lib.total_price);
        assert.ok(
          diff <= 1e-9 * Math.max(1, lib.total_price),
          `${providerId}/${model.id}: ${ours.costUsd} vs ${lib.total_price}`,
        );
        checked++;
        if (lib.model_price.cache_write_1h_mtok !== undefined) oneHourPriced++;
      }
    }
    assert.ok(checked > 100, `only ${checked} models compared`);
    assert.ok(oneHourPriced > 10, `only ${oneHourPriced} models with a 1-hour cache-write price compared`);
  });

  it('prices a decoded OTLP request end to end, fast', () => {
    const spans = recordSpans({ 'service.name': 'svc' }, [
      {
        name: 'chat gpt-4o',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 200,
        },
      },
      {
        name: 'chat mystery',
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'mystery-1' },
      },
      { name: 'GET /', scope: 'http', attributes: { 'http.request.method': 'GET' } },
    ]);
    const req = decodeTraceRequest(protobufBody(spans), 'application/x-protobuf');
    const r = processTraceRequest(req, pricer);
    assert.equal(r.spans, 3);
    assert.equal(r.genaiSpans, 2);
    assert.equal(r.nonGenaiSpans, 1);
    assert.equal(r.unpricedCalls, 1);
    assert.equal(r.rejectedSpans, 0);
    assert.equal(r.calls[0]!.costUsd, '0.0045');
    assert.equal(r.calls[1]!.priced, false);
  });
});

describe('pricing in integers where exact (decision 0101)', () => {
  const PROVIDERS = [...MAIN_PROVIDERS, 'azure', 'openrouter'];
  /** Usages that meet every priced unit, tier boundaries, huge counts (past the safe integers) and zeros. */
  const USAGES: TokenUsage[] = [
    [0, 0, 0, 0, 0, 0],
    [1, 1, 0, 0, 0, 0],
    [1234, 567, 200, 0, 0, 0],
    [200_000, 100, 0, 0, 0, 0],
    [200_001, 4_000, 50_000, 10_000, 2_000, 1_000],
    [128_001, 10, 0, 64_000, 64_000, 0],
    [3_999, 801, 3_000, 900, 0, 800],
    [9_007_199_254, 12_345_678, 0, 0, 0, 0],
  ].map(([input, output, cacheRead, cacheWrite, cacheWrite1h, reasoning]) => ({
    inputTokens: input!,
    outputTokens: output!,
    cacheReadTokens: cacheRead!,
    cacheWriteTokens: cacheWrite!,
    cacheWrite1hTokens: cacheWrite1h!,
    reasoningTokens: reasoning!,
  }));

  it("gives the Decimal path's texts for every catalog price and usage, and takes the Decimal path where integers would not be exact", () => {
    let integer = 0;
    let decimal = 0;
    for (const id of PROVIDERS) {
      for (const model of findProvider({ providerId: id })!.models) {
        const prices = Array.isArray(model.prices) ? model.prices.map((c) => c.prices) : [model.prices];
        for (const price of prices) {
          for (const factor of ['1', '0.9', '0.333']) {
            const compiled = compileModelPrice(price, new Money(factor));
            for (const usage of USAGES) {
              const text = computeCostText(compiled, usage);
              const cost = computeCost(compiled, usage);
              const want = {
                total: formatUsd(cost.total),
                input: formatUsd(cost.input),
                output: formatUsd(cost.output),
              };
              if (text === undefined) decimal++;
              else {
                integer++;
                assert.deepEqual(text, want, `${id}/${model.id} × ${factor}, ${JSON.stringify(usage)}`);
              }
            }
          }
        }
      }
    }
    // Both paths met: most catalog prices are whole pico-dollars per token; the huge usage and the
    // 1/3 discount are not.
    assert.ok(integer > decimal, `${integer} integer, ${decimal} decimal`);
    assert.ok(decimal > 0);
  });
});

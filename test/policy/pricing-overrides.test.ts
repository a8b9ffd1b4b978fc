import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import { parsePolicy } from '../../collector/src/govern/policy/load';
import { PolicyPricer } from '../../collector/src/pricing/policy-pricer';
import { modelPrices } from '../../collector/src/govern/policy/prices';
import { Pricer } from '../../collector/src/pricing/pricer';
import { picoToUsd } from '../../instrumentation/src/money/pico';
import { costPico, unitPrices } from '../../instrumentation/src/money/unit-prices';
import { extractedCall } from '../support/calls';

const POLICY = `
version: 1
policies: []
pricing:
  overrides:
    - { model: house-llm, input_mtok: 0.2, output_mtok: 0.6 }
    - { provider: openai, model: gpt-4o, discount: 0.15 }
`;

function policyFile(yaml: string) {
  const result = parsePolicy(yaml);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.policy;
}

describe('pricing overrides from the policy file', () => {
  const pricer = new PolicyPricer(policyFile(POLICY));
  const listPricer = new Pricer();

  it('prices a self-hosted model the catalog does not know from its override', () => {
    const call = extractedCall({
      provider: 'vllm',
      requestModel: 'house-llm',
      inputTokens: 1000,
      outputTokens: 500,
    });
    assert.equal(listPricer.price(call).priced, false, 'the catalog must not know the model');
    const priced = pricer.price(call);
    assert.equal(priced.priced, true);
    const expected = new Decimal(0.2).times(1000).plus(new Decimal(0.6).times(500)).dividedBy(1_000_000);
    assert.equal(priced.costUsd, expected.toFixed());
  });

  it('applies an OpenAI discount to the catalog price, exactly', () => {
    const call = extractedCall({
      provider: 'openai',
      requestModel: 'gpt-4o',
      inputTokens: 12_345,
      outputTokens: 678,
    });
    const list = listPricer.price(call);
    assert.equal(list.priced, true);
    assert.ok(new Decimal(list.costUsd).gt(0));
    assert.equal(pricer.price(call).costUsd, new Decimal(list.costUsd).times('0.85').toFixed());
    // Another provider's model is untouched.
    const other = extractedCall({ provider: 'openai', requestModel: 'gpt-4o-mini', inputTokens: 1000 });
    assert.equal(pricer.price(other).costUsd, listPricer.price(other).costUsd);
  });

  it('a reload swaps the overrides in place; without a policy, list prices', () => {
    const swapped = new PolicyPricer(policyFile(POLICY));
    const call = extractedCall({ provider: 'openai', requestModel: 'gpt-4o', inputTokens: 1000 });
    swapped.use(policyFile(POLICY.replace('discount: 0.15', 'discount: 0.5')));
    assert.equal(
      swapped.price(call).costUsd,
      new Decimal(listPricer.price(call).costUsd).times('0.5').toFixed(),
    );
    swapped.use(undefined);
    assert.equal(swapped.price(call).costUsd, listPricer.price(call).costUsd);
  });

  it('publishes per-million-token prices for the guard, overrides included', () => {
    const prices = modelPrices(pricer, [
      { provider: '', model: 'house-llm' },
      { provider: 'openai', model: 'gpt-4o' },
      { provider: '', model: 'no-such-model-anywhere' },
    ]);
    assert.deepEqual(prices['*/house-llm'], { input_mtok: '0.2', output_mtok: '0.6' });
    const list = modelPrices(listPricer, [{ provider: 'openai', model: 'gpt-4o' }])['openai/gpt-4o']!;
    const discounted = prices['openai/gpt-4o']!;
    assert.equal(discounted.input_mtok, new Decimal(list.input_mtok).times('0.85').toFixed());
    assert.equal(discounted.output_mtok, new Decimal(list.output_mtok).times('0.85').toFixed());
    assert.ok(
      discounted.cache_read_mtok && new Decimal(discounted.cache_read_mtok).lt(discounted.input_mtok),
    );
    assert.equal(Object.keys(prices).length, 2, 'an unknown model has no price entry');
  });

  it("publishes Claude's 1-hour cache-write price; the guard then costs a call as the collector does", () => {
    const sonnet = modelPrices(listPricer, [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }])[
      'anthropic/claude-sonnet-4-5'
    ]!;
    assert.deepEqual(sonnet, {
      input_mtok: '3',
      output_mtok: '15',
      cache_read_mtok: '0.3',
      cache_write_mtok: '3.75',
      cache_write_1h_mtok: '6',
    });
    // gpt-4o prices no cache writes: nothing to publish for them.
    const gpt = modelPrices(listPricer, [{ provider: 'openai', model: 'gpt-4o' }])['openai/gpt-4o']!;
    assert.equal(gpt.cache_write_1h_mtok, undefined);

    const usage = { inputTokens: 1000, cacheReadTokens: 100, cacheWriteTokens: 800, cacheWrite1hTokens: 600 };
    const collector = listPricer.price(
      extractedCall({
        provider: 'anthropic',
        requestModel: 'claude-sonnet-4-5',
        outputTokens: 100,
        ...usage,
      }),
    );
    const guard = costPico(unitPrices(sonnet)!, {
      input: usage.inputTokens,
      output: 100,
      cacheRead: usage.cacheReadTokens,
      cacheWrite: usage.cacheWriteTokens,
      cacheWrite1h: usage.cacheWrite1hTokens,
    });
    assert.equal(picoToUsd(guard), collector.costUsd);
    assert.equal(collector.costUsd, '0.00618');
  });
});

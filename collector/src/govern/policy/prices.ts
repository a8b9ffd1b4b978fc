/**
 * Per-model prices (USD per million tokens, with policy overrides) for the in-app guard, which
 * costs its own calls in-process. Read through the Pricer's public price(): a thousand tokens of
 * one kind, times a thousand — small enough to stay in a model's first price tier.
 */
import { callToPrice } from '../../core/call-builder';
import type { ExtractedCall } from '../../core/call';
import type { Pricer } from '../../pricing/pricer';
import { Money } from '../../core/money';
import type { PriceView } from 'tokenledger/wire';

const SAMPLE_TOKENS = 1000;

function sample(provider: string, model: string, over: Partial<ExtractedCall>): ExtractedCall {
  return callToPrice(provider, model, 'tokenledger.prices', over);
}

/** `"<provider>/<model>"` → prices, for the models the pricer knows; unknown ones are left out. */
export function modelPrices(
  pricer: Pricer,
  models: Iterable<{ provider: string; model: string }>,
): Record<string, PriceView> {
  const out: Record<string, PriceView> = {};
  for (const { provider, model } of models) {
    const perMtok = (over: Partial<ExtractedCall>) => {
      const priced = pricer.price(sample(provider, model, over));
      return priced.priced
        ? { value: new Money(priced.costUsd).times(1_000_000 / SAMPLE_TOKENS).toFixed(), priced }
        : undefined;
    };
    const input = perMtok({ inputTokens: SAMPLE_TOKENS });
    if (!input) continue;
    const output = perMtok({ outputTokens: SAMPLE_TOKENS })!;
    const cacheRead = perMtok({ inputTokens: SAMPLE_TOKENS, cacheReadTokens: SAMPLE_TOKENS })!;
    const cacheWrite = perMtok({ inputTokens: SAMPLE_TOKENS, cacheWriteTokens: SAMPLE_TOKENS })!;
    const cacheWrite1h = perMtok({
      inputTokens: SAMPLE_TOKENS,
      cacheWriteTokens: SAMPLE_TOKENS,
      cacheWrite1hTokens: SAMPLE_TOKENS,
    })!;
    // '*': a custom price for any provider (an override without one), e.g. a self-hosted model.
    const key = `${provider || input.priced.pricedProvider || '*'}/${model}`;
    out[key] = {
      input_mtok: input.value,
      output_mtok: output.value,
      // Only where the model prices cached tokens differently from plain input.
      ...(cacheRead.value !== input.value ? { cache_read_mtok: cacheRead.value } : {}),
      ...(cacheWrite.value !== input.value ? { cache_write_mtok: cacheWrite.value } : {}),
      ...(cacheWrite1h.value !== cacheWrite.value ? { cache_write_1h_mtok: cacheWrite1h.value } : {}),
    };
  }
  return out;
}

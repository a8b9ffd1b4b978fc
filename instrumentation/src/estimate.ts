/**
 * `estimateCost()`: what a call or a batch job will cost before it runs, priced by the collector
 * with the same catalog and policy overrides as real calls (the app ships no price list).
 */
import { collectorRequest } from './collector-api';
import { rememberUnitPrices } from './money/estimate-prices';
import type { ChatMessage, EstimateRequest, EstimateResponse, UnitPricesMtok } from './wire';

export interface EstimateCostInput {
  model: string;
  provider?: string;
  /** Input tokens per call; or give `messages` and the collector counts them with a tokenizer. */
  inputTokens?: number;
  messages?: ChatMessage[];
  /** Output tokens per call: the max_tokens the job sets. */
  outputTokens: number;
  cachedInputTokens?: number;
  /** Number of calls in the job (default 1). */
  count?: number;
}

export interface CostEstimate {
  model: string;
  provider: string;
  priced: boolean;
  pricedModel: string;
  inputTokens: number;
  outputTokens: number;
  count: number;
  /** Decimal strings (exact); null when the model has no price. */
  costPerCallUsd: string | null;
  costUsd: string | null;
  tokenizer?: string;
  note?: string;
  /** USD per million input, cached-input and output tokens (decimal strings); absent when unpriced. */
  unitPricesMtok?: UnitPricesMtok;
}

export async function estimateCost(input: EstimateCostInput): Promise<CostEstimate> {
  const e = await collectorRequest<EstimateResponse>('POST', '/v1/estimate', {
    model: input.model,
    provider: input.provider,
    input_tokens: input.inputTokens,
    messages: input.messages,
    output_tokens: input.outputTokens,
    cached_input_tokens: input.cachedInputTokens,
    count: input.count,
  } satisfies EstimateRequest);
  if (e.unit_prices_mtok) {
    // Approved jobs cost their calls with these (see approvals/grant.ts).
    rememberUnitPrices([input.provider ?? '', e.provider], input.model, e.unit_prices_mtok);
  }
  return {
    model: e.model,
    provider: e.provider,
    priced: e.priced,
    pricedModel: e.priced_model,
    inputTokens: e.input_tokens,
    outputTokens: e.output_tokens,
    count: e.count,
    costPerCallUsd: e.cost_per_call_usd,
    costUsd: e.cost_usd,
    ...(e.tokenizer ? { tokenizer: e.tokenizer } : {}),
    ...(e.note ? { note: e.note } : {}),
    ...(e.unit_prices_mtok ? { unitPricesMtok: e.unit_prices_mtok } : {}),
  };
}

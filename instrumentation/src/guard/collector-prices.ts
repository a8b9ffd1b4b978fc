/** How the guard asks the collector for a model's prices: one POST /v1/estimate of no tokens. */
import { toUnitPrices, type UnitPrices } from '../money/unit-prices';
import type { EstimateRequest, EstimateResponse } from '../wire';
import { collectorJson } from './collector-client';

const TIMEOUT_MS = 2_000;

/** The estimate's per-million prices as pico-dollars per token, or null when the model is unpriced. */
export async function askCollectorPrices(provider: string, model: string): Promise<UnitPrices | null> {
  const body: EstimateRequest = { model, provider, input_tokens: 0, output_tokens: 0 };
  const e = await collectorJson<Partial<EstimateResponse> | undefined>('POST', '/v1/estimate', body, {
    timeoutMs: TIMEOUT_MS,
  });
  const m = e?.priced === false ? undefined : e?.unit_prices_mtok;
  return (m && toUnitPrices(m)) ?? null;
}

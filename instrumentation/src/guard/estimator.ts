/**
 * What a call will cost at most, before it leaves: output = the max tokens sent (or the largest
 * recent output of the model when the request sets none), input = the largest recent input of
 * the model in this process (decaying slowly), or a conservative default before the first call.
 * Reservations are replaced by the actual cost when the call ends, so an over-estimate only holds
 * budget back for the duration of the call.
 */
import { costPico, type UnitPrices } from '../money/unit-prices';

export const DEFAULT_INPUT_TOKENS = 2_048;
export const DEFAULT_OUTPUT_TOKENS = 1_024;
/** Per observation below the running maximum, it moves this share towards the observation. */
const DECAY = 0.02;

export class UsageEstimator {
  private readonly input = new Map<string, number>();
  private readonly output = new Map<string, number>();

  observe(model: string, inputTokens: number, outputTokens: number): void {
    track(this.input, model, inputTokens);
    track(this.output, model, outputTokens);
  }

  estimatePico(prices: UnitPrices, model: string, maxOutputTokens: number | undefined): bigint {
    const input = Math.ceil(this.input.get(model) ?? DEFAULT_INPUT_TOKENS);
    const output = maxOutputTokens ?? Math.ceil(this.output.get(model) ?? DEFAULT_OUTPUT_TOKENS);
    return costPico(prices, { input, output, cacheRead: 0, cacheWrite: 0 });
  }
}

function track(map: Map<string, number>, model: string, value: number): void {
  const prev = map.get(model);
  map.set(model, prev === undefined || value >= prev ? value : prev + (value - prev) * DECAY);
}

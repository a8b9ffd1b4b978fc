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

/**
 * One model's record: its recent largest input and output, and its last estimate with what it was
 * computed from — calls of the same size at the same prices cost the same, without bigint work.
 * One record per model, so a call reads one map entry.
 */
interface ModelUsage {
  input: number | undefined;
  output: number | undefined;
  lastPrices: UnitPrices | undefined;
  lastInput: number;
  lastOutput: number;
  lastPico: bigint;
}

export class UsageEstimator {
  private readonly models = new Map<string, ModelUsage>();

  observe(model: string, inputTokens: number, outputTokens: number): void {
    const m = this.model(model);
    m.input = track(m.input, inputTokens);
    m.output = track(m.output, outputTokens);
  }

  estimatePico(prices: UnitPrices, model: string, maxOutputTokens: number | undefined): bigint {
    const m = this.model(model);
    const input = Math.ceil(m.input ?? DEFAULT_INPUT_TOKENS);
    const output = maxOutputTokens ?? Math.ceil(m.output ?? DEFAULT_OUTPUT_TOKENS);
    if (m.lastPrices === prices && m.lastInput === input && m.lastOutput === output) return m.lastPico;
    m.lastPico = costPico(prices, { input, output, cacheRead: 0, cacheWrite: 0 });
    m.lastPrices = prices;
    m.lastInput = input;
    m.lastOutput = output;
    return m.lastPico;
  }

  private model(model: string): ModelUsage {
    let m = this.models.get(model);
    if (m === undefined) {
      m = {
        input: undefined,
        output: undefined,
        lastPrices: undefined,
        lastInput: 0,
        lastOutput: 0,
        lastPico: 0n,
      };
      this.models.set(model, m);
    }
    return m;
  }
}

function track(prev: number | undefined, value: number): number {
  return prev === undefined || value >= prev ? value : prev + (value - prev) * DECAY;
}

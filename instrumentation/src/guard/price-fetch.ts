/**
 * Prices of models the collector's /v1/budgets did not list (a model neither named in the policy
 * nor seen yet this period): asked once per model from POST /v1/estimate (its unit_prices_mtok) in
 * the background, the way approvals price their calls. Never on the hot path: until the answer arrives the guard
 * reserves at the highest price it knows.
 */
import { toUnitPrices } from '../approvals/prices';
import { collectorJson } from './collector-client';
import type { UnitPrices } from './prices';

const RETRY_AFTER_MS = 30_000;
const TIMEOUT_MS = 2_000;

interface EstimateAnswer {
  priced?: boolean;
  /** USD per million tokens of each kind (what the collector priced the estimate with). */
  unit_prices_mtok?: { input: string; cached_input: string; output: string } | null;
}

/** One estimate answer carries the model's per-million prices: pico-dollars per token, or null when unpriced. */
async function unitPricesOf(provider: string, model: string): Promise<UnitPrices | null> {
  const body = { model, provider, input_tokens: 0, output_tokens: 0 };
  const e = await collectorJson<EstimateAnswer>('POST', '/v1/estimate', body, { timeoutMs: TIMEOUT_MS });
  const m = e?.priced === false ? undefined : e?.unit_prices_mtok;
  return (m && toUnitPrices(m)) ?? null;
}

export class PriceFetcher {
  private readonly known = new Map<string, UnitPrices | null>();
  private readonly pending = new Map<string, Promise<UnitPrices | undefined>>();
  private readonly failedAt = new Map<string, number>();

  /** Known prices, or undefined (and a fetch starts in the background). */
  get(provider: string, model: string): UnitPrices | undefined {
    const key = `${provider}/${model}`;
    const p = this.known.get(key);
    if (p !== undefined) return p ?? undefined;
    void this.fetch(provider, model);
    return undefined;
  }

  /** Resolves with the prices once known (undefined: unpriced or unreachable). Never rejects. */
  fetch(provider: string, model: string): Promise<UnitPrices | undefined> {
    const key = `${provider}/${model}`;
    const known = this.known.get(key);
    if (known !== undefined) return Promise.resolve(known ?? undefined);
    const pending = this.pending.get(key);
    if (pending) return pending;
    if (Date.now() - (this.failedAt.get(key) ?? -Infinity) < RETRY_AFTER_MS)
      return Promise.resolve(undefined);
    const run = unitPricesOf(provider, model).then(
      (prices) => {
        this.known.set(key, prices);
        return prices ?? undefined;
      },
      () => {
        this.failedAt.set(key, Date.now());
        return undefined;
      },
    );
    this.pending.set(key, run);
    void run.finally(() => this.pending.delete(key));
    return run;
  }
}

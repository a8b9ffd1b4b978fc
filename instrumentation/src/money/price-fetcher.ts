/**
 * Prices of models the collector's /v1/budgets did not list (a model neither named in the policy
 * nor seen yet this period), asked once per model in the background. Never on the hot path: until
 * the answer arrives the guard reserves at the highest price it knows. A failed ask is retried
 * after RETRY_AFTER_MS; an unpriced model (null) is not asked again.
 */
import type { UnitPrices } from './unit-prices';

const RETRY_AFTER_MS = 30_000;

/** Asks the collector for a model's prices: null when it has none. */
export type AskPrices = (provider: string, model: string) => Promise<UnitPrices | null>;

export class PriceFetcher {
  private readonly known = new Map<string, UnitPrices | null>();
  private readonly pending = new Map<string, Promise<UnitPrices | undefined>>();
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly ask: AskPrices) {}

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
    const run = this.ask(provider, model).then(
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

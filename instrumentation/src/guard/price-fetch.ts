/**
 * Prices of models the collector's /v1/budgets did not list (a model neither named in the policy
 * nor seen yet this period): asked once per model from POST /v1/estimate in the background, the
 * way approvals price their calls. Never on the hot path: until the answer arrives the guard
 * reserves at the highest price it knows.
 */
import { collectorJson } from './collector-client';
import { toPico, type UnitPrices } from './prices';

const M = 1_000_000;
const RETRY_AFTER_MS = 30_000;
const TIMEOUT_MS = 2_000;

interface EstimateAnswer {
  cost_usd: string | null;
  priced?: boolean;
}

async function perToken(
  provider: string,
  model: string,
  input: number,
  cached: number,
  output: number,
): Promise<bigint | undefined> {
  const body = { model, provider, input_tokens: input, cached_input_tokens: cached, output_tokens: output };
  const e = await collectorJson<EstimateAnswer>('POST', '/v1/estimate', body, { timeoutMs: TIMEOUT_MS });
  const pico = e?.priced === false ? undefined : toPico(e?.cost_usd);
  return pico === undefined ? undefined : pico / BigInt(M);
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
    const run = Promise.all([
      perToken(provider, model, M, 0, 0),
      perToken(provider, model, M, M, 0),
      perToken(provider, model, 0, 0, M),
    ]).then(
      ([input, cacheRead, output]) => {
        const prices =
          input === undefined || output === undefined
            ? null
            : { input, output, cacheRead: cacheRead ?? input, cacheWrite: input };
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

/**
 * Per-token prices of the models an approved job calls, as the collector prices them: learnt from
 * every `estimateCost()` answer (a job estimates before it asks for approval, so its model's prices
 * are usually known before its first call), else fetched once per model. Pico-dollars per token.
 */
import { toPico, type UnitPrices } from '../guard/prices';

export type { UnitPrices };

export interface UnitPricesMtok {
  input: string;
  cached_input: string;
  output: string;
}

const MILLION = 1_000_000n;
const perToken = (usdPerMtok: string): bigint | undefined => {
  const pico = toPico(usdPerMtok);
  return pico === undefined ? undefined : pico / MILLION;
};
const known = new Map<string, Promise<UnitPrices | undefined>>();

const keyOf = (provider: string, model: string): string => `${provider}\u0000${model}`;

/** The collector's per-million prices as the guard's per-token prices; undefined when unusable. */
export function toUnitPrices(mtok: UnitPricesMtok): UnitPrices | undefined {
  const input = perToken(mtok.input);
  const output = perToken(mtok.output);
  if (input === undefined || output === undefined) return undefined;
  // The estimate has no cache-write price: the catalog bills cache writes at least at input.
  return {
    input,
    output,
    cacheRead: perToken(mtok.cached_input) ?? input,
    cacheWrite: input,
    cacheWrite1h: input,
  };
}

/** Records prices learnt from an estimate, under each provider name the calls may carry. */
export function rememberUnitPrices(providers: string[], model: string, mtok: UnitPricesMtok): void {
  const p = Promise.resolve(toUnitPrices(mtok));
  for (const provider of new Set(providers)) known.set(keyOf(provider, model), p);
}

/** Known (or pending) prices of a model; `fetch` runs once per model when none are. */
export function pricesOf(
  provider: string,
  model: string,
  fetch: () => Promise<UnitPrices | undefined>,
): Promise<UnitPrices | undefined> {
  const key = keyOf(provider, model);
  let p = known.get(key) ?? known.get(keyOf('', model));
  if (!p) {
    p = fetch().catch(() => {
      known.delete(key); // try again next time
      return undefined;
    });
    known.set(key, p);
  }
  return p;
}

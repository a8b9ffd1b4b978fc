/**
 * Per-token prices of the models an approved job calls, as the collector prices them: learnt from
 * every `estimateCost()` answer (a job estimates before it asks for approval, so its model's prices
 * are usually known before its first call), else fetched once per model.
 */
import type { UnitPricesMtok } from '../wire';
import { toUnitPrices, type UnitPrices } from './unit-prices';

const known = new Map<string, Promise<UnitPrices | undefined>>();

const keyOf = (provider: string, model: string): string => `${provider}\u0000${model}`;

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

/**
 * Catalog list prices (USD per million tokens) for every model of the providers tokenledger names,
 * from the bundled @pydantic/genai-prices catalog, in force at a given time.
 */
import { findProvider, type ModelPrice } from '@pydantic/genai-prices';
import * as providers from '../../core/providers';
import { catalogProviderId, priceAt } from '../../pricing/catalog';
import { Money } from '../../core/money';
import { modelFamily } from './family';

export interface ModelPriceRow {
  provider: string;
  model: string;
  family: string;
  input_mtok: string;
  output_mtok: string;
  cache_read_mtok: string;
  /** 1 for a preview / experimental model (the id says so): not offered as a saving unless asked. */
  preview: number;
}

/** `-preview`, `-exp`, `-experimental`, `-beta` in the id (the catalog has no such field). */
const PREVIEW = /(^|[-_.])(preview|exp|experimental|beta)([-_.]|$)/i;

/** tokenledger's canonical provider names (the PROVIDER_* constants). */
function canonicalProviders(): string[] {
  return Object.entries(providers)
    .filter(([name, value]) => name.startsWith('PROVIDER_') && typeof value === 'string')
    .map(([, value]) => value as string);
}

/** A flat price, or the base of a tiered one (list price for ordinary volumes). */
function listPrice(p: ModelPrice, key: string): string | undefined {
  const v = p[key];
  if (typeof v === 'number') return new Money(v).toFixed();
  if (v && typeof v === 'object' && typeof v.base === 'number') return new Money(v.base).toFixed();
  return undefined;
}

export function catalogPrices(at: Date): ModelPriceRow[] {
  const rows: ModelPriceRow[] = [];
  const seen = new Set<string>();
  for (const provider of canonicalProviders()) {
    const catalog = findProvider({ providerId: catalogProviderId(provider) });
    for (const model of catalog?.models ?? []) {
      const price = priceAt(model, at);
      const input = listPrice(price, 'input_mtok');
      const output = listPrice(price, 'output_mtok');
      // One row per (provider, model), the table's key: the catalog's first entry wins.
      const key = `${provider}\u0000${model.id}`;
      if (input === undefined || output === undefined || seen.has(key)) continue;
      seen.add(key);
      rows.push({
        provider,
        model: model.id,
        family: modelFamily(model.id),
        input_mtok: input,
        output_mtok: output,
        // Without a cache price a cache read costs input (as the pricer charges it).
        cache_read_mtok: listPrice(price, 'cache_read_mtok') ?? input,
        preview: PREVIEW.test(model.id) ? 1 : 0,
      });
    }
  }
  return rows;
}

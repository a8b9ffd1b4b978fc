/**
 * Model lookup in the genai-prices catalog, and selection of the price in force at a time.
 *
 * Only the bundled catalog snapshot is used: genai-prices fetches remote data solely when
 * `updatePrices` has been called with a storage factory, which tokenledger never does, so
 * `calcPrice` works on the data compiled into the package and never touches the network.
 */
import {
  calcPrice,
  type ConditionalPrice,
  type ModelInfo,
  type ModelPrice,
  type Provider,
} from '@pydantic/genai-prices';

export interface CatalogMatch {
  provider: Provider;
  model: ModelInfo;
}

/** Our canonical provider names (gen_ai.provider.name) → genai-prices provider ids. */
const CATALOG_PROVIDER: Record<string, string> = {
  openai: 'openai',
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  anthropic: 'anthropic',
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  'aws.bedrock': 'aws',
  mistral_ai: 'mistral',
  groq: 'groq',
  deepseek: 'deepseek',
  x_ai: 'x-ai',
  cohere: 'cohere',
  perplexity: 'perplexity',
};

export function catalogProviderId(provider: string): string {
  return CATALOG_PROVIDER[provider] ?? provider;
}

// Matching does not depend on time; the timestamp only picks among a model's dated prices.
const LOOKUP_TIME = new Date();

/**
 * The catalog model for a model id, trying the provider hint first (its fallback providers
 * included, e.g. azure → openai), then model-only matching across the catalog.
 */
export function findModel(provider: string, modelId: string): CatalogMatch | null {
  if (modelId === '') return null;
  const providerId = catalogProviderId(provider);
  if (providerId !== '') {
    const hit = tryCalc(modelId, providerId);
    if (hit) return hit;
  }
  return tryCalc(modelId, undefined);
}

function tryCalc(modelId: string, providerId: string | undefined): CatalogMatch | null {
  try {
    // Empty usage: we only want the match; money is computed in Decimal (./cost.ts).
    const r = calcPrice({}, modelId, { providerId, timestamp: LOOKUP_TIME });
    return r ? { provider: r.provider, model: r.model } : null;
  } catch {
    return null;
  }
}

/**
 * The ModelPrice in force at `at`, exactly as genai-prices selects it: constraints are checked
 * from the last entry back; a start_date applies from that UTC date on; a time_of_date window
 * (UTC, may wrap midnight) applies within it; with nothing matching, the first entry.
 */
export function priceAt(model: ModelInfo, at: Date): ModelPrice {
  if (!Array.isArray(model.prices)) return model.prices;
  const list: ConditionalPrice[] = model.prices;
  for (let i = list.length - 1; i >= 0; i--) {
    const entry = list[i];
    if (!entry) continue;
    const c = entry.constraint;
    if (c === undefined) return entry.prices;
    if (c.type === 'start_date') {
      if (at >= new Date(c.start_date)) return entry.prices;
    } else if (c.type === 'time_of_date') {
      const t =
        at.getUTCHours() * 3600 +
        at.getUTCMinutes() * 60 +
        at.getUTCSeconds() +
        at.getUTCMilliseconds() / 1e3;
      const start = secondsOfDay(c.start_time);
      const end = secondsOfDay(c.end_time);
      if (end < start ? t >= start || t < end : t >= start && t < end) return entry.prices;
    }
  }
  const first = list[0];
  if (!first) throw new Error(`model '${model.id}' has an empty price list`);
  return first.prices;
}

const timeCache = new Map<string, number>();

/** 'HH:MM:SS[.fff](Z|±HH:MM)' → seconds after UTC midnight. */
function secondsOfDay(s: string): number {
  const cached = timeCache.get(s);
  if (cached !== undefined) return cached;
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) throw new Error(`invalid time-of-day price constraint '${s}'`);
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(`0.${m[4] ?? ''}`);
  const offset = m[5] === 'Z' ? 0 : (m[6] === '+' ? 1 : -1) * (Number(m[7]) * 3600 + Number(m[8]) * 60);
  const v = (local - offset + 86400) % 86400;
  timeCache.set(s, v);
  return v;
}

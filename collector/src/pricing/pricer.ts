/**
 * Prices extracted calls: catalog lookup (cached), the price in force at the call's start,
 * policy overrides, and Decimal money. An unknown model is returned unpriced, never dropped.
 */
import type { ModelPrice } from '@pydantic/genai-prices';
import { normaliseProvider } from '../core/providers';
import type { BatchFlag, UsageFlag } from '../ingest/extract/usage';
import type { ExtractedCall, PricedCall } from '../core/call';
import { findModel, priceAt, type CatalogMatch } from './catalog';
import { compileModelPrice, compileRate, computeCost, computeCostText, type CompiledPrice } from './cost';
import { Money, formatUsd } from '../core/money';
import { batchFactor } from './batch';

/**
 * A pricing override from the policy file. `discount` (0..1) multiplies the price by
 * (1 − discount). Any `*_mtok` (USD per million tokens) defines the model's price outright,
 * in place of the catalog's: a private or self-hosted model, or a negotiated rate.
 */
export interface PriceOverride {
  /** Any spelling of the provider (normalised like span providers); absent = any provider. */
  provider?: string;
  /** The model id as spans report it, or the catalog's model id (matches its dated variants). */
  model: string;
  discount?: number;
  input_mtok?: string | number;
  output_mtok?: string | number;
  cache_read_mtok?: string | number;
  cache_write_mtok?: string | number;
  /** Writes to a 1-hour cache; needs cache_write_mtok (the other cache writes). */
  cache_write_1h_mtok?: string | number;
}

export class PriceOverrideError extends Error {
  override readonly name = 'PriceOverrideError';
}

interface CompiledOverride {
  provider: string; // normalised, '' = any
  model: string; // lowercased
  factor: Money;
  custom: CompiledPrice | null;
}

/** A cached resolution of (provider, model): where prices come from, with compiled prices per ModelPrice. */
interface Resolution {
  catalog: CatalogMatch | null;
  override: CompiledOverride | null;
  pricedProvider: string;
  pricedModel: string;
  compiled: Map<ModelPrice, CompiledPrice>;
}

const MAX_CACHE_ENTRIES = 10_000;

export class Pricer {
  private readonly overrides: CompiledOverride[];
  private readonly cache = new Map<string, Resolution>();

  constructor(opts?: { overrides?: PriceOverride[] }) {
    this.overrides = (opts?.overrides ?? []).map(compileOverride);
  }

  /** `call.batch`: the call came back from a provider's batch API, billed at its batch discount. */
  price(call: ExtractedCall & BatchFlag & UsageFlag): PricedCall {
    const res = this.resolve(call.provider, call.responseModel || call.requestModel);
    // No usage reported: the cost is unknown, not zero (the model is still named as priced).
    if (call.usageMissing === true) return unpriced(call, res);
    const prices = res && this.pricesFor(res, call.startTimeUnixNano);
    if (!res || !prices) return unpriced(call);
    const factor = call.batch === true ? batchFactor(res.pricedProvider, call.provider) : undefined;
    // Exact in integers for nearly every call (decision 0101); Decimal where that is not exact.
    const text = factor ? undefined : computeCostText(prices, call);
    if (text) {
      return withPrice(call, text.total, text.input, text.output, true, res.pricedProvider, res.pricedModel);
    }
    let cost = computeCost(prices, call);
    if (factor) {
      cost = {
        input: cost.input.times(factor),
        output: cost.output.times(factor),
        total: cost.total.times(factor),
      };
    }
    return withPrice(
      call,
      formatUsd(cost.total),
      formatUsd(cost.input),
      formatUsd(cost.output),
      true,
      res.pricedProvider,
      res.pricedModel,
    );
  }

  /** Resolution for (provider, model), memoised: the catalog walk is the expensive part. */
  private resolve(provider: string, modelId: string): Resolution | null {
    if (modelId === '') return null;
    const key = `${provider}\u0000${modelId}`;
    let res = this.cache.get(key);
    if (res === undefined) {
      res = this.build(provider, modelId);
      // Model ids come from the network: bound the memo rather than let it grow without limit.
      if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
      this.cache.set(key, res);
    }
    return res.catalog || res.override?.custom ? res : null;
  }

  private build(provider: string, modelId: string): Resolution {
    let catalog = findModel(provider, modelId);
    // A response model the catalog does not know (a new dated snapshot) is retried without its date suffix.
    if (!catalog) {
      const undated = modelId.replace(/-\d{4}-?\d{2}-?\d{2}$/, '');
      if (undated !== modelId) catalog = findModel(provider, undated);
    }
    const override = this.findOverride(provider, modelId, catalog);
    if (override?.custom) {
      return { catalog: null, override, pricedProvider: provider, pricedModel: modelId, compiled: new Map() };
    }
    return {
      catalog,
      override,
      pricedProvider: catalog?.provider.id ?? '',
      pricedModel: catalog?.model.id ?? '',
      compiled: new Map(),
    };
  }

  private findOverride(
    provider: string,
    modelId: string,
    catalog: CatalogMatch | null,
  ): CompiledOverride | null {
    const model = modelId.toLowerCase();
    for (const o of this.overrides) {
      if (o.provider !== '' && o.provider !== provider && o.provider !== catalog?.provider.id) continue;
      if (o.model === model || o.model === catalog?.model.id.toLowerCase()) return o;
    }
    return null;
  }

  private pricesFor(res: Resolution, startTimeUnixNano: string): CompiledPrice | null {
    if (res.override?.custom) return res.override.custom;
    if (!res.catalog) return null;
    const mp = priceAt(res.catalog.model, callTime(startTimeUnixNano));
    let compiled = res.compiled.get(mp);
    if (!compiled) {
      compiled = compileModelPrice(mp, res.override?.factor ?? ONE);
      res.compiled.set(mp, compiled);
    }
    return compiled;
  }
}

const ONE = new Money(1);

function compileOverride(o: PriceOverride): CompiledOverride {
  if (typeof o.model !== 'string' || o.model.trim() === '') {
    throw new PriceOverrideError('price override needs a model');
  }
  const d = o.discount ?? 0;
  if (typeof d !== 'number' || !(d >= 0 && d <= 1)) {
    throw new PriceOverrideError(
      `price override for '${o.model}': discount must be between 0 and 1, got ${String(d)}`,
    );
  }
  const factor = ONE.minus(new Money(d));
  const hasCustom = [
    o.input_mtok,
    o.output_mtok,
    o.cache_read_mtok,
    o.cache_write_mtok,
    o.cache_write_1h_mtok,
  ].some((v) => v !== undefined);
  if (o.cache_write_1h_mtok !== undefined && o.cache_write_mtok === undefined) {
    throw new PriceOverrideError(
      `price override for '${o.model}': cache_write_1h_mtok needs cache_write_mtok (the price of the other cache writes)`,
    );
  }
  let custom: CompiledPrice | null = null;
  if (hasCustom) {
    const rate = (field: string, v: string | number | undefined) => {
      if (v === undefined) return undefined;
      let m: Money;
      try {
        m = new Money(v);
      } catch {
        throw new PriceOverrideError(
          `price override for '${o.model}': ${field} is not a number: ${String(v)}`,
        );
      }
      if (!m.isFinite() || m.isNegative()) {
        throw new PriceOverrideError(
          `price override for '${o.model}': ${field} must be a non-negative number`,
        );
      }
      return compileRate(m.toString(), factor);
    };
    custom = {
      input: rate('input_mtok', o.input_mtok),
      output: rate('output_mtok', o.output_mtok),
      cacheRead: rate('cache_read_mtok', o.cache_read_mtok),
      cacheWrite: rate('cache_write_mtok', o.cache_write_mtok),
      cacheWrite1h: rate('cache_write_1h_mtok', o.cache_write_1h_mtok),
    };
  }
  return {
    provider: o.provider ? normaliseProvider(o.provider) : '',
    model: o.model.trim().toLowerCase(),
    factor,
    custom,
  };
}

/** The call's start as a Date; a span without a start time is priced at today's prices. */
function callTime(startTimeUnixNano: string): Date {
  const ms = Number(startTimeUnixNano) / 1e6;
  return ms > 0 ? new Date(ms) : new Date();
}

function unpriced(call: ExtractedCall, known?: Resolution | null): PricedCall {
  return withPrice(call, '0', '0', '0', false, known?.pricedProvider ?? '', known?.pricedModel ?? '');
}

/**
 * Field by field on purpose: `{ ...call, costUsd, ... }` on an object this wide takes V8's slow
 * path (~7 µs a call on Node 20), more than all the pricing work put together.
 */
function withPrice(
  c: ExtractedCall,
  costUsd: string,
  inputCostUsd: string,
  outputCostUsd: string,
  priced: boolean,
  pricedProvider: string,
  pricedModel: string,
): PricedCall {
  return {
    traceId: c.traceId,
    spanId: c.spanId,
    startTimeUnixNano: c.startTimeUnixNano,
    durationMs: c.durationMs,
    provider: c.provider,
    operation: c.operation,
    requestModel: c.requestModel,
    responseModel: c.responseModel,
    inputTokens: c.inputTokens,
    outputTokens: c.outputTokens,
    cacheReadTokens: c.cacheReadTokens,
    cacheWriteTokens: c.cacheWriteTokens,
    cacheWrite1hTokens: c.cacheWrite1hTokens,
    reasoningTokens: c.reasoningTokens,
    streaming: c.streaming,
    errorType: c.errorType,
    serverAddress: c.serverAddress,
    enforcement: c.enforcement,
    ...(c.askedModel ? { askedModel: c.askedModel } : {}),
    ...(c.serviceVersion ? { serviceVersion: c.serviceVersion } : {}),
    ...(c.serviceTier ? { serviceTier: c.serviceTier } : {}),
    source: c.source,
    attribution: c.attribution,
    truncated: c.truncated === true,
    ...(c.leaseIds !== undefined ? { leaseIds: c.leaseIds } : {}),
    costUsd,
    inputCostUsd,
    outputCostUsd,
    priced,
    pricedProvider,
    pricedModel,
    ...(c.replacesStored ? { replacesStored: true as const } : {}),
  };
}

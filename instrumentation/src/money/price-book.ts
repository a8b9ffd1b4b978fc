/** The prices of one /v1/budgets answer, looked up by provider and model. */
import type { PriceView } from '../wire';
import { unitPrices, type UnitPrices } from './unit-prices';

/** Dated snapshots (`gpt-4o-2024-08-06`) price as their base model when only that is listed. */
const DATE_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

/** Prices by `provider/model` and by bare model, built once per /v1/budgets answer. */
export class PriceBook {
  private readonly byKey = new Map<string, UnitPrices>();
  private readonly byModel = new Map<string, UnitPrices>();

  constructor(prices: Record<string, PriceView> | undefined) {
    for (const [key, view] of Object.entries(prices ?? {})) {
      const p = unitPrices(view);
      if (!p) continue;
      this.byKey.set(key, p);
      const slash = key.indexOf('/');
      const model = slash >= 0 ? key.slice(slash + 1) : key;
      if (!this.byModel.has(model)) this.byModel.set(model, p);
    }
  }

  /** The highest price of each kind listed: a safe stand-in for a model not priced yet. */
  highest(): UnitPrices | undefined {
    let top: UnitPrices | undefined;
    for (const p of this.byKey.values()) {
      top = top
        ? {
            input: p.input > top.input ? p.input : top.input,
            output: p.output > top.output ? p.output : top.output,
            cacheRead: p.cacheRead > top.cacheRead ? p.cacheRead : top.cacheRead,
            cacheWrite: p.cacheWrite > top.cacheWrite ? p.cacheWrite : top.cacheWrite,
            cacheWrite1h: p.cacheWrite1h > top.cacheWrite1h ? p.cacheWrite1h : top.cacheWrite1h,
          }
        : p;
    }
    return top;
  }

  lookup(provider: string, model: string | undefined): UnitPrices | undefined {
    if (!model) return undefined;
    const p = this.byKey.get(`${provider}/${model}`) ?? this.byModel.get(model);
    if (p || !DATE_SUFFIX.test(model)) return p;
    return this.lookup(provider, model.replace(DATE_SUFFIX, ''));
  }
}

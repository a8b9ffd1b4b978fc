/**
 * In-process pricing of the process's own calls with the prices the collector sends in
 * /v1/budgets. Integer pico-dollars (10^-12 USD) throughout: exact, and never a float sum.
 */
import { picoToUsd, usdToPico } from '../approvals/money';
import type { PriceView } from './budgets-wire';

export { picoToUsd, usdToPico };

/** Pico-dollars per token (= USD per million tokens × 10^6). */
export interface UnitPrices {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
  /** Writes to a 1-hour cache (= cacheWrite where the model does not price them apart). */
  cacheWrite1h: bigint;
}

export interface TokenUsage {
  /** Total input, cache reads and writes included. */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** The part of cacheWrite written to a 1-hour cache. */
  cacheWrite1h?: number;
}

const PER_MTOK = 1_000_000n;

/** "2.5" or 2.5 USD → pico-dollars, exactly (numbers through their fixed-point text, never arithmetic). */
export function toPico(usd: string | number | null | undefined): bigint | undefined {
  if (usd === null || usd === undefined) return undefined;
  const text = typeof usd === 'number' ? (Number.isFinite(usd) ? usd.toFixed(12) : '') : usd;
  if (!/^-?\d+(\.\d+)?$/.test(text.trim())) return undefined;
  return usdToPico(text);
}

function perToken(usdPerMtok: string | number | null | undefined): bigint | undefined {
  const p = toPico(usdPerMtok);
  return p === undefined ? undefined : p / PER_MTOK;
}

export function unitPrices(view: PriceView): UnitPrices | undefined {
  const input = perToken(view.input_mtok);
  const output = perToken(view.output_mtok);
  if (input === undefined || output === undefined) return undefined;
  const cacheWrite = perToken(view.cache_write_mtok) ?? input;
  return {
    input,
    output,
    cacheRead: perToken(view.cache_read_mtok) ?? input,
    cacheWrite,
    cacheWrite1h: perToken(view.cache_write_1h_mtok) ?? cacheWrite,
  };
}

export function costPico(p: UnitPrices, u: TokenUsage): bigint {
  const cacheRead = Math.min(u.cacheRead, u.input);
  const cacheWrite = Math.min(u.cacheWrite, u.input - cacheRead);
  const cacheWrite1h = Math.min(u.cacheWrite1h ?? 0, cacheWrite);
  const plain = u.input - cacheRead - cacheWrite;
  return (
    BigInt(plain) * p.input +
    BigInt(cacheRead) * p.cacheRead +
    BigInt(cacheWrite - cacheWrite1h) * p.cacheWrite +
    BigInt(cacheWrite1h) * p.cacheWrite1h +
    BigInt(u.output) * p.output
  );
}

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

/**
 * A model's per-token prices and the exact cost of a call, in pico-dollars, from the prices the
 * collector sends: per-million prices in /v1/budgets (the guard) or in an estimate (approvals).
 */
import type { PriceView, UnitPricesMtok } from '../wire';
import { toPico } from './pico';

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

function perToken(usdPerMtok: string | number | null | undefined): bigint | undefined {
  const p = toPico(usdPerMtok);
  return p === undefined ? undefined : p / PER_MTOK;
}

/** A /v1/budgets price entry as per-token prices; undefined when unusable. */
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

/** An estimate's per-million prices as per-token prices; undefined when unusable. */
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

export function costPico(p: UnitPrices, u: TokenUsage): bigint {
  // Most calls read and write no cache: two products, not five (bigint work is what a call costs here).
  if (u.cacheRead === 0 && u.cacheWrite === 0) return BigInt(u.input) * p.input + BigInt(u.output) * p.output;
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

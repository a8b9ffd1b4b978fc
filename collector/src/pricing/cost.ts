/**
 * Money for one call from one ModelPrice, in Decimal arithmetic, mirroring genai-prices' own
 * calculation (its `calcPrice` works in floats, which a ledger cannot).
 *
 * genai-prices prices "leaf" amounts: each priced usage unit is charged for its own tokens
 * minus those of its more specific PRICED units. For the usage a span reports (total input,
 * cache reads, cache writes, output, reasoning) that reduces exactly to:
 *   input_mtok        × (input − cache_read if cache_read_mtok is priced − cache_write if cache_write_mtok is)
 *   cache_read_mtok   × cache_read
 *   cache_write_mtok  × (cache_write − cache_write_1h if cache_write_1h_mtok is priced)
 *   cache_write_1h_mtok × cache_write_1h   (writes to a 1-hour cache; priced only beside cache_write_mtok)
 *   output_mtok       × (output − reasoning if output_reasoning_mtok is priced)
 *   output_reasoning_mtok × reasoning
 *   requests_kcount   / 1000 per call
 * so a cache read on a model without a cache price costs the input price, and reasoning tokens
 * are ordinary output tokens unless the model prices them separately. Other price keys (audio,
 * image, web searches, ...) meet no usage from a span and cost 0, as in the library.
 *
 * Tiered prices: the library picks ONE rate for the whole quantity: the last tier whose `start`
 * the call's total input tokens strictly exceed (else `base`), for every priced unit, output
 * included. Mirrored exactly.
 */
import type { ModelPrice, TieredPrices } from '@pydantic/genai-prices';
import { Money, ZERO } from '../core/money';

interface Tier {
  start: number;
  price: Money;
}
/**
 * A compiled price in USD per token (per request for requests_kcount): a flat rate, or tiers
 * (sorted by start) keyed on total input tokens. Dividing once here keeps pricing to
 * multiplications.
 */
export type Rate = Money | { base: Money; tiers: Tier[] };

/** The price keys a span's usage can meet, compiled to Decimal USD per unit. */
export interface CompiledPrice {
  input?: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
  /** Writes to a 1-hour cache; without it they cost cacheWrite, as in the library. */
  cacheWrite1h?: Rate;
  output?: Rate;
  outputReasoning?: Rate;
  perRequest?: Rate;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens written to a 1-hour cache. */
  cacheWrite1hTokens: number;
  reasoningTokens: number;
}

export interface CallCost {
  input: Money;
  output: Money;
  total: Money;
}

/** `raw` is a catalog price per `per` units (1e6 for *_mtok, 1000 for *_kcount); `factor` is 1 − discount. */
export function compileRate(
  raw: number | string | TieredPrices | undefined,
  factor: Money,
  per: number = 1_000_000,
): Rate | undefined {
  if (raw === undefined) return undefined;
  const unit = (v: number | string) => new Money(v).times(factor).div(per);
  if (typeof raw === 'number' || typeof raw === 'string') return unit(raw);
  const tiers = [...raw.tiers]
    .sort((x, y) => x.start - y.start)
    .map((t) => ({ start: t.start, price: unit(t.price) }));
  return { base: unit(raw.base), tiers };
}

/** Compiles a catalog ModelPrice; `factor` is 1 − discount. */
export function compileModelPrice(p: ModelPrice, factor: Money): CompiledPrice {
  return {
    input: compileRate(p.input_mtok, factor),
    cacheRead: compileRate(p.cache_read_mtok, factor),
    cacheWrite: compileRate(p.cache_write_mtok, factor),
    cacheWrite1h: compileRate(p.cache_write_1h_mtok, factor),
    output: compileRate(p.output_mtok, factor),
    outputReasoning: compileRate(p.output_reasoning_mtok, factor),
    perRequest: compileRate(p.requests_kcount, factor, 1000),
  };
}

function rateAt(rate: Rate, totalInput: number): Money {
  if (rate instanceof Money) return rate;
  let price = rate.base;
  for (const t of rate.tiers) if (totalInput > t.start) price = t.price;
  return price;
}

function charge(rate: Rate | undefined, tokens: number, totalInput: number): Money {
  if (rate === undefined || tokens <= 0) return ZERO;
  return rateAt(rate, totalInput).times(tokens);
}

/** The tokens each priced unit is charged for (the leaf amounts above). */
function unitsOf(p: CompiledPrice, u: TokenUsage) {
  const cacheRead = p.cacheRead ? u.cacheReadTokens : 0;
  const cacheWrite = p.cacheWrite ? u.cacheWriteTokens : 0;
  // The library requires cache_write_mtok beside cache_write_1h_mtok (the 1-hour unit's ancestor).
  const cacheWrite1h = p.cacheWrite && p.cacheWrite1h ? Math.min(u.cacheWrite1hTokens, cacheWrite) : 0;
  // Clamped: extraction guarantees input ≥ its cached parts, but a buggy span must not go negative.
  const uncached = Math.max(0, u.inputTokens - cacheRead - cacheWrite);
  const reasoning = p.outputReasoning ? u.reasoningTokens : 0;
  const plainOutput = Math.max(0, u.outputTokens - reasoning);
  return { cacheRead, cacheWrite, cacheWrite1h, uncached, reasoning, plainOutput, total: u.inputTokens };
}

export function computeCost(p: CompiledPrice, u: TokenUsage): CallCost {
  const { cacheRead, cacheWrite, cacheWrite1h, uncached, reasoning, plainOutput, total } = unitsOf(p, u);
  const input = charge(p.input, uncached, total)
    .plus(charge(p.cacheRead, cacheRead, total))
    .plus(charge(p.cacheWrite, cacheWrite - cacheWrite1h, total))
    .plus(charge(p.cacheWrite1h, cacheWrite1h, total));
  const output = charge(p.output, plainOutput, total).plus(charge(p.outputReasoning, reasoning, total));
  const perRequest = p.perRequest ? rateAt(p.perRequest, total) : ZERO;
  return { input, output, total: input.plus(output).plus(perRequest) };
}

/** Pico-dollars per dollar: the scale of the exact integer path below. */
const PICO = new Money(1e12);
/** Each compiled rate's price in whole pico-dollars, or null where it is not a whole number of them. */
const picoRates = new WeakMap<Money, number | null>();

function picoOf(rate: Money): number | null {
  let pico = picoRates.get(rate);
  if (pico === undefined) {
    const scaled = rate.times(PICO);
    pico = scaled.isInteger() && scaled.abs().lte(Number.MAX_SAFE_INTEGER) ? scaled.toNumber() : null;
    picoRates.set(rate, pico);
  }
  return pico;
}

/** Whole pico-dollars → the text formatUsd gives the same amount as Decimal: 4500000000 → '0.0045'. */
function picoText(pico: number): string {
  const whole = Math.floor(pico / 1e12);
  const frac = pico - whole * 1e12;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(12, '0').replace(/0+$/, '')}`;
}

/** The call's money as formatUsd texts (total, input, output). */
export interface CostText {
  total: string;
  input: string;
  output: string;
}

/**
 * computeCost in integers, where that is exact: every rate the call meets is a whole number of
 * pico-dollars per unit (catalog prices have a few decimals per million tokens) and every product
 * and sum stays a safe integer. Returns undefined otherwise, and the caller takes the Decimal path.
 * The same texts as formatUsd(computeCost(...)), without a Decimal per term (decision 0101).
 */
export function computeCostText(p: CompiledPrice, u: TokenUsage): CostText | undefined {
  const { cacheRead, cacheWrite, cacheWrite1h, uncached, reasoning, plainOutput, total } = unitsOf(p, u);
  let exact = true;
  const charge = (rate: Rate | undefined, tokens: number): number => {
    if (rate === undefined || tokens <= 0) return 0;
    const pico = picoOf(rateAt(rate, total));
    const amount = pico === null ? NaN : pico * tokens;
    if (!Number.isSafeInteger(amount)) exact = false;
    return amount;
  };
  const input =
    charge(p.input, uncached) +
    charge(p.cacheRead, cacheRead) +
    charge(p.cacheWrite, cacheWrite - cacheWrite1h) +
    charge(p.cacheWrite1h, cacheWrite1h);
  const output = charge(p.output, plainOutput) + charge(p.outputReasoning, reasoning);
  const all = input + output + charge(p.perRequest, 1);
  if (!exact || !Number.isSafeInteger(all) || input < 0 || output < 0 || all < 0) return undefined;
  return { total: picoText(all), input: picoText(input), output: picoText(output) };
}

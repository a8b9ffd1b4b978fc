import Decimal from 'decimal.js';

/**
 * The Decimal flavour used for money: 40 significant digits, so that no realistic token count
 * times a catalog price ever rounds (token counts are integers, prices have a few decimals).
 */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Money = Decimal;

export const ZERO: Money = new Money(0);

/** Exact decimal text, no exponent, no trailing zeros: 0.0045 → '0.0045', 0 → '0'. */
export function formatUsd(d: Money): string {
  return d.toFixed();
}

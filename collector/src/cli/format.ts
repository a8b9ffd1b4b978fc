/** Dollars as a finance reader expects them: cents from $1 up, three significant digits below. */
import Decimal from 'decimal.js';

export function displayUsd(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  let d = new Decimal(value);
  const sign = d.isNeg() ? '-' : '';
  d = d.abs();
  let text: string;
  if (d.gte(1) || d.isZero()) text = d.toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
  else {
    const rounded = d.toSignificantDigits(3, Decimal.ROUND_HALF_UP);
    text = rounded.gte(1) ? rounded.toFixed(2) : rounded.toFixed();
    const decimals = text.split('.')[1]?.length ?? 0;
    if (decimals < 2) text = rounded.toFixed(2);
  }
  const [whole, fraction] = text.split('.');
  return `${sign}$${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
}

/** A share as a percentage with one decimal ("5.3 %"); '—' when unknown. */
export const displayShare = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(1)} %`;

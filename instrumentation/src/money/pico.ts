/** Exact USD amounts as integers of pico-dollars (10^-12 USD): sums never go through a float. */
const PICO_PER_USD = 1_000_000_000_000n;

/** "12.345" USD → pico-dollars, exactly (digits beyond 12 decimals are dropped). */
export function usdToPico(usd: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(usd.trim());
  if (!m) return 0n;
  const frac = (m[3] ?? '').padEnd(12, '0').slice(0, 12);
  const v = BigInt(m[2]!) * PICO_PER_USD + BigInt(frac);
  return m[1] === '-' ? -v : v;
}

export function picoToUsd(pico: bigint): string {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  const whole = abs / PICO_PER_USD;
  const frac = (abs % PICO_PER_USD).toString().padStart(12, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** "2.5" or 2.5 USD → pico-dollars, exactly (numbers through their fixed-point text, never arithmetic). */
export function toPico(usd: string | number | null | undefined): bigint | undefined {
  if (usd === null || usd === undefined) return undefined;
  const text = typeof usd === 'number' ? (Number.isFinite(usd) ? usd.toFixed(12) : '') : usd;
  if (!/^-?\d+(\.\d+)?$/.test(text.trim())) return undefined;
  return usdToPico(text);
}

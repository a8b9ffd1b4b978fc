/** Typed reads of flat OTLP attributes, tolerant of the ways producers encode numbers. */
import type { AttrValue, Attributes } from '../otlp/types';

/**
 * A count (tokens, a port, a status code): a non-negative integer that a double holds exactly
 * (≤ 2^53 − 1), as a number or a numeric string; undefined for anything else (negative, fractional,
 * too large, not a number). Larger values would lose digits in sums and overflow the UInt64 columns.
 */
function countValue(v: AttrValue | undefined): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The first of `keys` holding a count (see countValue), else undefined. */
export function intAttr(a: Attributes, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const n = countValue(a[k]);
    if (n !== undefined) return n;
  }
  return undefined;
}

/**
 * Reads a span's token counts and remembers the attributes present that hold no count, so that a
 * call whose usage is garbled is stored as unpriced and reported, not priced as if it said 0.
 */
export class TokenCounts {
  /** `key=value` of each usage attribute present without a valid count. */
  readonly invalid: string[] = [];

  constructor(private readonly a: Attributes) {}

  /** The first of `keys` holding a count; noted as invalid when keys are present but none holds one. */
  get(...keys: string[]): number | undefined {
    let bad: string | undefined;
    for (const k of keys) {
      const v = this.a[k];
      if (v === undefined) continue;
      const n = countValue(v);
      if (n !== undefined) return n;
      bad ??= `${k}=${(typeof v === 'number' ? String(v) : JSON.stringify(v)).slice(0, 40)}`;
    }
    if (bad !== undefined) this.invalid.push(bad);
    return undefined;
  }
}

/** The first of `keys` holding a non-empty string (a one-element array counts), else ''. */
export function strAttr(a: Attributes, ...keys: string[]): string {
  for (const k of keys) {
    let v = a[k];
    if (Array.isArray(v)) v = v[0];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return '';
}

/** The first of `keys` holding a boolean (or 'true' / 'false'), else undefined. */
export function boolAttr(a: Attributes, ...keys: string[]): boolean | undefined {
  for (const k of keys) {
    const v = a[k];
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

export function hasAny(a: Attributes, keys: readonly string[]): boolean {
  for (const k of keys) if (a[k] !== undefined) return true;
  return false;
}

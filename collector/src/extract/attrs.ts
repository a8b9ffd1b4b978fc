/** Typed reads of flat OTLP attributes, tolerant of the ways producers encode numbers. */
import type { Attributes } from '../otlp/types';

/** The first of `keys` holding a non-negative integer (numbers or numeric strings), else undefined. */
export function intAttr(a: Attributes, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = a[k];
    if (v === undefined) continue;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (Number.isFinite(n)) return n > 0 ? Math.floor(n) : 0;
  }
  return undefined;
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

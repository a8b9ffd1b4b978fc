/**
 * Helpers shared by the protobuf and JSON decoders: id and timestamp validation, int64
 * conversion, string repair, and the bookkeeping of spans rejected under OTLP partial success.
 */
import { LATEST_STORED_TIME } from '../../core/time-range';
import type { AttrPrimitive, AttrValue, Attributes } from './types';

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const ZERO_32 = '0'.repeat(32);
const ZERO_16 = '0'.repeat(16);
const DECIMAL = /^\d+$/;

/**
 * Counts things gone wrong and remembers the first reason, for a partial-success `error_message`:
 * spans the decoder dropped, calls kept with garbled usage. `what` names the rest.
 */
export class Reasons {
  count = 0;
  private firstReason = '';
  constructor(private readonly what = 'rejected span(s)') {}
  add(reason: string): void {
    if (this.count === 0) this.firstReason = reason;
    this.count++;
  }
  message(): string {
    if (this.count === 0) return '';
    const more = this.count > 1 ? ` (and ${this.count - 1} more ${this.what})` : '';
    return `${this.firstReason}${more}`;
  }
}

/** Lowercase hex of decoded id bytes (JSON's base64 ids); '' when absent. */
export function bytesToHex(bytes: Uint8Array | readonly number[] | null | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  if (bytes instanceof Uint8Array)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return Buffer.from(bytes).toString('hex');
}

/** Why a trace id is invalid, or '' when it is valid (16 bytes, not all zero). */
export function traceIdProblem(hex: string): string {
  if (!HEX_32.test(hex)) return `invalid trace id '${hex}': expected 16 bytes (32 hex digits)`;
  if (hex === ZERO_32) return 'invalid trace id: all zeros';
  return '';
}

/** Why a span id is invalid, or '' when it is valid (8 bytes, not all zero). */
export function spanIdProblem(hex: string): string {
  if (!HEX_16.test(hex)) return `invalid span id '${hex}': expected 8 bytes (16 hex digits)`;
  if (hex === ZERO_16) return 'invalid span id: all zeros';
  return '';
}

/** The latest span start stored, in nanoseconds (see storage/time-range). */
const LATEST_START_NANOS = `${LATEST_STORED_TIME.getTime()}999999`;
const LATEST_START = LATEST_STORED_TIME.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Why a span's start time cannot be stored, or '' when it can. `nanos` is a decimal string
 * without leading zeros, as both decoders produce.
 */
export function startTimeProblem(nanos: string): string {
  const late =
    nanos.length > LATEST_START_NANOS.length ||
    (nanos.length === LATEST_START_NANOS.length && nanos > LATEST_START_NANOS);
  return late
    ? `startTimeUnixNano ${nanos} is after ${LATEST_START}, the latest start time stored (a clock or unit error?)`
    : '';
}

/** A parent span id that is not a valid 8-byte id is treated as absent: the span is still usable. */
export function normaliseParentId(hex: string): string {
  return HEX_16.test(hex) && hex !== ZERO_16 ? hex : '';
}

/**
 * The string with lone UTF-16 surrogates replaced by U+FFFD. JSON can carry them (`"\\ud800"`, e.g. an
 * emoji cut in half by a producer's truncation); ClickHouse refuses such a row, and with it the
 * whole insert. Protobuf strings are UTF-8 and decode well-formed.
 */
export function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

export function isDecimalString(s: string): boolean {
  return DECIMAL.test(s);
}

/** The shape of protobufjs' Long (from the `long` package) that we rely on. */
export interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toString(radix?: number): string;
  toNumber(): number;
}

/** An int64 as a number when it is exactly representable, else as its decimal string. */
export function int64ToAttr(v: LongLike | number | string): number | string {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') {
    // Token counts and the like: exact as a number (high word 0, or -1 for small negatives).
    const n = v.toNumber();
    if (Number.isSafeInteger(n)) return n;
  }
  const s = typeof v === 'string' ? v.trim() : v.toString(10);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

/**
 * Arrays and kvlists nested deeper than this in an attribute value are dropped (the attribute keeps
 * the rest), in both encodings alike: the decoders recurse, and a request nesting thousands of
 * levels overflowed the stack. Depth counts the arrays and kvlists around a value (0 for the
 * attribute's own value; a kvlist inside an array element is one level below the element).
 */
export const MAX_VALUE_DEPTH = 32;

/**
 * A value as decoded, before it becomes an attribute: arrays and kvlists stay structures at every
 * level and are turned into JSON text once, at the attribute (see attrValue). Serialising each
 * level as it was read made the text of nested arrays double its escapes per level: 30 levels
 * were gigabytes.
 */
export type RawValue = AttrPrimitive | RawValue[] | { [key: string]: RawValue };

/** Keys that would alter an object's prototype if assigned; such attributes are dropped. */
function isSafeKey(key: string): boolean {
  return key !== '__proto__';
}

/** Sets a kvlist entry (any key but __proto__). */
export function setEntry(
  target: { [key: string]: RawValue },
  key: string,
  value: RawValue | undefined,
): void {
  if (value !== undefined && isSafeKey(key)) target[key] = value;
}

/**
 * An attribute's value from its decoded form: a primitive as it is; an array as its elements, each
 * nested structure as its JSON text; a kvlist as its JSON text.
 */
function attrValue(raw: RawValue): AttrValue {
  if (typeof raw !== 'object') return raw;
  if (!Array.isArray(raw)) return JSON.stringify(raw);
  return raw.map((el) => (typeof el === 'object' ? JSON.stringify(el) : el));
}

export function addAttr(target: Attributes, key: string, value: RawValue | undefined): void {
  if (value === undefined || !isSafeKey(key)) return;
  target[key] = attrValue(value);
}

/**
 * The cap on the values the collector stores from spans (team, feature, customer, model names…):
 * 256 characters by default (TOKENLEDGER_MAX_ATTRIBUTE_LENGTH). A longer value is cut to its first
 * characters and the row is flagged (`truncated`), so reports never carry megabytes per row, a
 * budget's `match` (no longer than the cap: the policy loader checks) still matches a cut value's
 * call exactly as before, and the memory a call takes while it waits to be stored is bounded.
 *
 * Characters are Unicode code points (what a JSON Schema maxLength counts), and a cut never splits
 * a surrogate pair (ClickHouse refuses a lone surrogate, which would fail the whole insert).
 */
import type { AiHttpCall } from '../core/ai-http-call';
import type { ExtractedCall } from '../core/call';

export const DEFAULT_MAX_VALUE_LENGTH = 256;

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/**
 * `s` itself when it has at most `max` code points, else its first `max` as a string of its own:
 * a slice would keep the whole original (possibly megabytes) alive for as long as the cut value.
 */
export function capText(s: string, max: number): string {
  if (s.length <= max) return s;
  let units = 0;
  for (let points = 0; points < max && units < s.length; points++) {
    units += isHigh(s.charCodeAt(units)) && isLow(s.charCodeAt(units + 1)) ? 2 : 1;
  }
  if (units >= s.length) return s;
  return Buffer.from(s.slice(0, units), 'utf8').toString('utf8');
}

type CallTextField =
  | 'provider'
  | 'operation'
  | 'requestModel'
  | 'responseModel'
  | 'errorType'
  | 'serverAddress'
  | 'enforcement'
  | 'source';

const CALL_TEXT_FIELDS: readonly CallTextField[] = [
  'provider',
  'operation',
  'requestModel',
  'responseModel',
  'errorType',
  'serverAddress',
  'enforcement',
  'source',
];

/** Caps the named text fields of `record` in place; whether one was cut. */
function capFields<T extends Record<F, string>, F extends keyof T>(
  record: T,
  fields: readonly F[],
  max: number,
): boolean {
  let cut = false;
  for (const f of fields) {
    const v = capText(record[f], max);
    if (v !== record[f]) {
      record[f] = v as T[F];
      cut = true;
    }
  }
  return cut;
}

/** Caps every text the call's row stores; flags the call when one was cut. Returns the flag. */
export function capCall(call: ExtractedCall, max: number): boolean {
  const a = call.attribution;
  const cutCall = capFields(call, CALL_TEXT_FIELDS, max);
  const cutAttribution = capFields(a, Object.keys(a) as Array<keyof typeof a>, max);
  if (cutCall || cutAttribution) call.truncated = true;
  return cutCall || cutAttribution;
}

type AiHttpTextField = 'service' | 'environment' | 'host' | 'provider' | 'method' | 'path' | 'source';

const AI_HTTP_TEXT_FIELDS: readonly AiHttpTextField[] = [
  'service',
  'environment',
  'host',
  'provider',
  'method',
  'path',
  'source',
];

/** The same for an uninstrumented AI request's row. */
export function capAiHttpCall(call: AiHttpCall, max: number): boolean {
  const cut = capFields(call, AI_HTTP_TEXT_FIELDS, max);
  if (cut) call.truncated = true;
  return cut;
}

/**
 * OTLP JSON nested deeper than the decoder ever reads is cut out before JSON.parse sees it: parsing
 * builds every level (a 2 MB body of nested arrays is a million objects, and the parser's own stack
 * grows with them), only for the decoder to drop what lies below MAX_VALUE_DEPTH. Cutting at the
 * depth the deepest kept attribute value can reach changes nothing the decoder returns, so JSON
 * and protobuf keep and drop the same levels, and the protobuf reader skips deep levels by their
 * length without building them either.
 */
import { MAX_VALUE_DEPTH } from './normalize';

/**
 * The deepest JSON level the decoder reads: a span's attribute value is an object 10 levels down
 * (request, resourceSpans, its element, scopeSpans, its element, spans, the span, attributes, the
 * key/value, value); each nested kvlist adds 4 levels (kvlistValue, values, the key/value, value),
 * an array 3; and the last kept level's own contents 4 more.
 */
export const MAX_JSON_DEPTH = 10 + MAX_VALUE_DEPTH * 4 + 4;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const NULL = Buffer.from('null');

/** `body` with every object or array deeper than `maxDepth` replaced by null; `body` itself if none is. */
export function pruneDeepJson(body: Buffer, maxDepth = MAX_JSON_DEPTH): Buffer {
  const kept: Buffer[] = [];
  let copiedTo = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth < maxDepth) {
        depth++;
        continue;
      }
      const end = endOfValue(body, i);
      kept.push(body.subarray(copiedTo, i), NULL);
      copiedTo = end;
      i = end - 1;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  if (kept.length === 0) return body;
  kept.push(body.subarray(copiedTo));
  return Buffer.concat(kept);
}

/** The offset just past the object or array opening at `start` (the body's end if it never closes). */
function endOfValue(body: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return body.length;
}

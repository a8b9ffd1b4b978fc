/**
 * How much memory decoding a request and extracting its calls will take, estimated from the body
 * before it is decoded, by a scan that allocates nothing: the receiver admits a request only when
 * its estimate fits the memory it may use for ingest (http/ingest-budget.ts).
 *
 * The body's size alone does not say: a protobuf body of tiny spans or a JSON body of empty
 * objects becomes 10–50 times its size in objects. So the scan counts what becomes objects — spans
 * and attributes in protobuf, objects and arrays in JSON — and the constants below, measured with
 * `node --expose-gc` on the decoders (heap after GC, per item), turn the counts into bytes. They
 * err on the high side.
 */
import { CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, mediaType } from './decode';
import { MAX_JSON_DEPTH } from './json-depth';

/** A decoded span (ids, times, name, status, attribute map), without its attributes. */
const SPAN_BYTES = 600;
/** One attribute in a span's map (key and value slot; strings are counted with the body). */
const ATTRIBUTE_BYTES = 80;
/** A call extracted from a span and waiting to be stored (the record and its attribution). */
export const CALL_BYTES = 800;
/** A JSON object or array as JSON.parse builds it, and what the decoder makes of it. */
const JSON_CONTAINER_BYTES = 120;

export interface DecodeCost {
  /** Estimated bytes of the decoded request and the calls extracted from it. */
  bytes: number;
  /** Spans in the request (protobuf), or undefined when the scan cannot tell (JSON). */
  spans?: number;
}

/** The estimate for a body of the given media type (an unknown type costs nothing: it is refused). */
export function decodeCost(body: Buffer, contentType: string): DecodeCost {
  const type = mediaType(contentType);
  if (type === CONTENT_TYPE_PROTOBUF || type === 'application/protobuf') return protobufCost(body);
  if (type === CONTENT_TYPE_JSON) return jsonCost(body);
  return { bytes: 0 };
}

/**
 * JSON: every object and array the parser will build (none below MAX_JSON_DEPTH, see ./json-depth.ts),
 * and the body's text (decoded once as a string, then again as the strings it holds). A span is at
 * least a few objects, so its call is covered by its containers.
 */
function jsonCost(body: Buffer): DecodeCost {
  let containers = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth <= MAX_JSON_DEPTH) containers++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return { bytes: containers * JSON_CONTAINER_BYTES + body.length * 3 };
}

/**
 * Protobuf: the spans (field 2 of ScopeSpans, in field 2 of ResourceSpans, in field 1 of the request)
 * and their attributes (field 9), found by skipping length-delimited fields. A body that does not
 * parse costs its size (the decoder refuses it on the first bad byte).
 */
function protobufCost(body: Buffer): DecodeCost {
  const counts = { spans: 0, attributes: 0 };
  try {
    forEachField(body, 0, body.length, (field, start, end) => {
      if (field !== 1) return; // resource_spans
      forEachField(body, start, end, (f2, s2, e2) => {
        if (f2 === 1) counts.attributes += countFields(body, s2, e2, 1); // resource attributes
        if (f2 !== 2) return; // scope_spans
        forEachField(body, s2, e2, (f3, s3, e3) => {
          if (f3 !== 2) return; // spans
          counts.spans++;
          counts.attributes += countFields(body, s3, e3, 9);
        });
      });
    });
  } catch {
    return { bytes: body.length };
  }
  return {
    bytes: counts.spans * (SPAN_BYTES + CALL_BYTES) + counts.attributes * ATTRIBUTE_BYTES + body.length * 2,
    spans: counts.spans,
  };
}

function countFields(body: Buffer, start: number, end: number, wanted: number): number {
  let n = 0;
  forEachField(body, start, end, (field) => {
    if (field === wanted) n++;
  });
  return n;
}

/** Calls `each` for every length-delimited field in [start, end); other wire types are skipped. */
function forEachField(
  body: Buffer,
  start: number,
  end: number,
  each: (field: number, start: number, end: number) => void,
): void {
  let pos = start;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) throw new RangeError('truncated varint');
      const b = body[pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
    throw new RangeError('varint too long');
  };
  while (pos < end) {
    const tag = varint();
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      const fieldEnd = pos + length;
      if (fieldEnd > end) throw new RangeError('field past the end');
      each(Math.floor(tag / 8), pos, fieldEnd);
      pos = fieldEnd;
    } else throw new RangeError(`wire type ${wire}`);
  }
}

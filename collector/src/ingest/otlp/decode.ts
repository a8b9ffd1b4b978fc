/**
 * OTLP/HTTP trace request decoding. The HTTP layer inflates gzip before calling this.
 *
 * Partial success: a span with an unusable trace or span id (wrong length, all zeros) or, in
 * JSON, a timestamp that is not an unsigned integer, is dropped and counted in
 * `rejectedSpans` with the first reason in `errorMessage`, rather than failing the whole
 * request. That is what OTLP's ExportTracePartialSuccess exists for: the sender learns that
 * some spans were refused and must not retry them, and the good spans of the batch are kept.
 * A body that is not OTLP at all (bad protobuf, bad JSON, wrong shape) throws OtlpDecodeError
 * (HTTP 400, not retryable); an unknown media type throws OtlpUnsupportedContentTypeError (415).
 */
import { OtlpUnsupportedContentTypeError } from './errors';
import { decodeJson } from './json';
import { decodeProtobuf } from './protobuf';
import type { OtlpTraceRequest } from './types';

export const CONTENT_TYPE_PROTOBUF = 'application/x-protobuf';
export const CONTENT_TYPE_JSON = 'application/json';

/** The media type without parameters, lowercased: 'application/json; charset=utf-8' → 'application/json'. */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

export function decodeTraceRequest(body: Buffer, contentType: string): OtlpTraceRequest {
  const type = mediaType(contentType);
  if (type === CONTENT_TYPE_PROTOBUF || type === 'application/protobuf') return decodeProtobuf(body);
  if (type === CONTENT_TYPE_JSON) return decodeJson(body);
  throw new OtlpUnsupportedContentTypeError(contentType);
}

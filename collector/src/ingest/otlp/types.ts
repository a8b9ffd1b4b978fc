/**
 * The decoded, normalised form of an OTLP trace export request. Both the protobuf and the
 * JSON encodings decode to this shape, so nothing downstream knows which one arrived.
 */

export type AttrPrimitive = string | number | boolean;
/**
 * An attribute value. Ints that fit a double exactly are numbers, larger ones decimal strings;
 * bytes are base64 strings; a nested key/value list is its JSON text.
 */
export type AttrValue = AttrPrimitive | AttrPrimitive[];
export type Attributes = Record<string, AttrValue>;

/** The OTLP proto's SpanKind CLIENT (the only kind the collector tells apart). */
export const SPAN_KIND_CLIENT = 3;

/** The OTLP proto's Status.StatusCode ERROR. */
export const STATUS_CODE_ERROR = 2;

export interface OtlpSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** 16 lowercase hex digits, '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  /** Nanoseconds since the epoch as an exact decimal string (the value exceeds 2^53). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  status: { code: number; message: string };
}

export interface OtlpScopeSpans {
  scope: { name: string; version: string };
  spans: OtlpSpan[];
}

export interface OtlpResourceSpans {
  /** Resource attributes, flat. */
  resource: Attributes;
  scopeSpans: OtlpScopeSpans[];
}

export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
  /**
   * Spans dropped while decoding because they were unusable (bad trace or span id). The
   * server reports them in the OTLP partial-success response (`rejected_spans`).
   */
  rejectedSpans: number;
  /** Why spans were rejected, for the partial-success `error_message`; '' when none were. */
  errorMessage: string;
}

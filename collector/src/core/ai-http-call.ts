/** An HTTP request to an AI API that no GenAI instrumentation recorded (uninstrumented, "shadow" AI). */
export interface AiHttpCall {
  traceId: string;
  spanId: string;
  /** The HTTP span's parent ('' for a root span): what tells a GenAI span that covers it. */
  parentSpanId: string;
  /** Nanoseconds since the epoch, decimal string. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  service: string;
  environment: string;
  host: string;
  provider: string;
  method: string;
  /** URL path without the query (which may carry keys). */
  path: string;
  statusCode: number;
  /** The HTTP instrumentation that saw it (its scope name). */
  source: string;
  /** A text value was longer than the collector stores and was cut (the row's `truncated` flag). */
  truncated?: boolean;
  /**
   * Set on a request recorded by an earlier export that a GenAI span arriving later turned out to
   * cover: it is not shadow traffic after all, and is deleted from ai_http_calls.
   */
  coveredLater?: boolean;
}

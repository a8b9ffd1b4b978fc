/** An HTTP request to an AI API that no GenAI instrumentation recorded (uninstrumented, "shadow" AI). */
export interface AiHttpCall {
  traceId: string;
  spanId: string;
  /** Nanoseconds since the epoch, decimal string. */
  startTimeUnixNano: string;
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
}

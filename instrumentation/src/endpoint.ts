/** Where the collector is when nothing says otherwise (OTLP/HTTP's standard local endpoint). */
export const DEFAULT_OTLP_ENDPOINT = 'http://127.0.0.1:4318';

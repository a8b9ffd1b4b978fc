import { envString } from './env';

/** Where the collector is when nothing says otherwise (OTLP/HTTP's standard local endpoint). */
export const DEFAULT_OTLP_ENDPOINT = 'http://127.0.0.1:4318';

/**
 * TOKENLEDGER_OTLP_ENDPOINT: the collector tokenledger's spans go to when the app's own
 * OpenTelemetry exports elsewhere. Set, it is tokenledger's alone: the OTEL_EXPORTER_OTLP_* variables
 * (endpoint, headers, protocol, timeout, compression) are then the app's, and not read.
 */
export function ownOtlpEndpoint(): string | undefined {
  return envString('TOKENLEDGER_OTLP_ENDPOINT')?.replace(/\/+$/, '');
}

/** The traces URL the OTLP exporter posts to, resolved from the environment as it does. */
export function tracesEndpoint(): string {
  const own = ownOtlpEndpoint();
  if (own) return `${own}/v1/traces`;
  const traces = envString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces) return traces;
  const base = envString('OTEL_EXPORTER_OTLP_ENDPOINT');
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : `${DEFAULT_OTLP_ENDPOINT}/v1/traces`;
}

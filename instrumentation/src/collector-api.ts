/**
 * The app's calls to the collector's API (estimates, approvals): JSON over fetch, with the key the
 * span exporter sends (see `authorization`), and tracing suppressed so an app that traces its HTTP
 * clients does not record tokenledger's own requests.
 */
import { context } from '@opentelemetry/api';
import { DEFAULT_OTLP_ENDPOINT, ownOtlpEndpoint } from './endpoint';
import { envString } from './env';
import { suppressTracing } from './suppress-tracing';
import type { ErrorResponse } from './wire';

export class CollectorApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CollectorApiError';
  }
}

/** TOKENLEDGER_URL, else the OTLP endpoint the spans go to, else the local default. */
export function collectorUrl(): string {
  return (
    envString('TOKENLEDGER_URL') ??
    ownOtlpEndpoint() ??
    envString('OTEL_EXPORTER_OTLP_ENDPOINT') ??
    DEFAULT_OTLP_ENDPOINT
  ).replace(/\/+$/, '');
}

/**
 * The exporter's precedence: an Authorization in the OTLP headers, else TOKENLEDGER_API_KEY as a
 * bearer. With TOKENLEDGER_OTLP_ENDPOINT the OTLP headers are the app's (for its own backend) and
 * are never sent to tokenledger's collector.
 */
export function authorization(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromHeaders = env.TOKENLEDGER_OTLP_ENDPOINT?.trim() ? undefined : otlpHeadersAuthorization(env);
  if (fromHeaders !== undefined) return fromHeaders;
  const key = env.TOKENLEDGER_API_KEY?.trim();
  return key ? `Bearer ${key}` : undefined;
}

/** The Authorization set in OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, which the OTLP exporter sends itself. */
export function otlpHeadersAuthorization(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS']) {
    for (const pair of (env[name] ?? '').split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'authorization') {
        try {
          return decodeURIComponent(pair.slice(eq + 1).trim());
        } catch {
          return pair.slice(eq + 1).trim();
        }
      }
    }
  }
  return undefined;
}

export async function collectorRequest<T>(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const auth = authorization();
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const url = collectorUrl() + path;
  let res: Response;
  try {
    res = await context.with(suppressTracing(context.active()), () =>
      fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
  } catch (err) {
    throw new CollectorApiError(
      `tokenledger: cannot reach the collector at ${collectorUrl()} (${(err as Error).message}); set TOKENLEDGER_URL`,
    );
  }
  let parsed: unknown;
  try {
    parsed = await res.json();
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const reason = (parsed as Partial<ErrorResponse> | undefined)?.error ?? res.statusText;
    throw new CollectorApiError(
      `tokenledger: collector answered ${res.status} to ${method} ${path}: ${reason}`,
      res.status,
    );
  }
  return parsed as T;
}

/** How the CLI reaches the running collector (libchdb binds one process to the data dir, so the CLI never opens it). */
import path from 'node:path';
import { readCredentials } from '../govern/keys/keys';

export class CliError extends Error {}

export interface CollectorEndpoint {
  url: string;
  key?: string;
  /** Where the key came from, for the hint when the collector refuses it. */
  keySource?: 'TOKENLEDGER_API_KEY' | 'credentials';
}

export function resolveEndpoint(
  opts: { url?: string },
  env: NodeJS.ProcessEnv = process.env,
): CollectorEndpoint {
  const url = (
    opts.url ??
    env.TOKENLEDGER_URL ??
    env.OTEL_EXPORTER_OTLP_ENDPOINT ??
    'http://127.0.0.1:4318'
  ).replace(/\/+$/, '');
  const envKey = env.TOKENLEDGER_API_KEY?.trim() || undefined;
  if (envKey) return { url, key: envKey, keySource: 'TOKENLEDGER_API_KEY' };
  let key: string | undefined;
  try {
    key = readCredentials(path.resolve(env.TOKENLEDGER_DATA_DIR?.trim() || '.tokenledger'))?.admin;
  } catch {
    key = undefined;
  }
  return key ? { url, key, keySource: 'credentials' } : { url };
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  TimeoutError: 'no answer in 60 s',
};

export function getFromCollector(endpoint: CollectorEndpoint, pathAndQuery: string): Promise<Response> {
  return callCollector(endpoint, 'GET', pathAndQuery);
}

/** POSTs a JSON body; same errors as getFromCollector. */
export function postToCollector(endpoint: CollectorEndpoint, path: string, body: unknown): Promise<Response> {
  return callCollector(endpoint, 'POST', path, body);
}

/** POSTs a file's bytes as the body (e.g. a bill); same errors as getFromCollector. */
export function postFileToCollector(
  endpoint: CollectorEndpoint,
  pathAndQuery: string,
  bytes: Buffer,
): Promise<Response> {
  return callCollector(endpoint, 'POST', pathAndQuery, bytes);
}

async function callCollector(
  endpoint: CollectorEndpoint,
  method: 'GET' | 'POST',
  pathAndQuery: string,
  body?: unknown,
): Promise<Response> {
  let res: Response;
  const headers: Record<string, string> = endpoint.key ? { authorization: `Bearer ${endpoint.key}` } : {};
  const raw = Buffer.isBuffer(body);
  if (body !== undefined) headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
  try {
    res = await fetch(endpoint.url + pathAndQuery, {
      method,
      headers,
      ...(body !== undefined ? { body: raw ? body : JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    // undici wraps the socket error; with happy-eyeballs it is an AggregateError of per-address errors.
    const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } })
      .cause;
    const code = cause?.code ?? cause?.errors?.[0]?.code ?? (err as Error).name;
    const reason = REASONS[code] ?? cause?.message ?? (err as Error).message;
    throw new CliError(
      `cannot reach the collector at ${endpoint.url}: ${reason} — is \`npm start\` running?`,
    );
  }
  if (!res.ok) {
    let reason = res.statusText;
    try {
      const body = (await res.json()) as { error?: string; message?: string };
      reason = body.error ?? body.message ?? reason;
    } catch {
      // not JSON; keep the status text
    }
    throw new CliError(`collector answered ${res.status}: ${reason}${refusalHint(res.status, endpoint)}`);
  }
  return res;
}

/** What to do about a refused key; the usual mistake is an app's ingest key left in TOKENLEDGER_API_KEY. */
function refusalHint(status: number, endpoint: CollectorEndpoint): string {
  if (status === 401) return ' (set TOKENLEDGER_API_KEY to a viewer or admin key)';
  if (status === 403 && endpoint.keySource === 'TOKENLEDGER_API_KEY') {
    return (
      ' (the key is TOKENLEDGER_API_KEY from the environment: an ingest key only sends spans;' +
      ' use a viewer or admin key, or unset it to use the admin key in the data directory)'
    );
  }
  return '';
}

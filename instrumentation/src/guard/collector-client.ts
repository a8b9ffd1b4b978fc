/**
 * The guard's background requests to the collector: plain node:http(s), one connection per request
 * whose socket is unref'd (a pending refresh never keeps the app alive), a short timeout, tracing
 * suppressed (an app's own HTTP instrumentation records nothing for them), never a throw outside
 * the returned promise.
 */
import type * as Http from 'node:http';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '../suppress-tracing';
import { authorization, collectorUrl } from '../collector-api';
import type { ErrorResponse } from '../wire';

/**
 * node:http(s), loaded on first use, not at `--require` time: an app that registers the standard
 * HTTP instrumentation in its own code must be the first to load them, or they stay unpatched
 * (and the app's outgoing requests lose their trace context and baggage).
 */
function httpModule(secure: boolean): typeof Http {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return secure ? (require('node:https') as typeof Http) : (require('node:http') as typeof Http);
}

export class GuardRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  timeoutMs: number;
  /** Keep the process alive while the request runs (the exit-time lease return). */
  ref?: boolean;
}

export function collectorJson<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body: unknown,
  options: RequestOptions,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      const url = new URL(collectorUrl() + path);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { accept: 'application/json' };
      const auth = authorization();
      if (auth) headers.authorization = auth;
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const transport = httpModule(url.protocol === 'https:');
      context.with(suppressTracing(context.active()), () => {
        const req = transport.request(url, { method, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300) resolve(parsed as T);
            else {
              const reason = (parsed as Partial<ErrorResponse> | undefined)?.error ?? res.statusMessage ?? '';
              reject(
                new GuardRequestError(`collector answered ${status} to ${method} ${path}: ${reason}`, status),
              );
            }
          });
        });
        req.setTimeout(options.timeoutMs, () =>
          req.destroy(new GuardRequestError(`timed out after ${options.timeoutMs} ms`)),
        );
        if (!options.ref) req.on('socket', (s) => s.unref());
        req.on('error', reject);
        req.end(payload);
      });
    } catch (err) {
      reject(err as Error);
    }
  });
}

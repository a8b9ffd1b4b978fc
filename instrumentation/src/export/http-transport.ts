/**
 * One OTLP/HTTP POST (no retry: ./background-retry.ts retries), over agents whose sockets do not keep
 * the app alive (./unref-agent.ts). The answer is classified as OTLP/HTTP says: 2xx success; 429,
 * 502, 503, 504 retryable (after the server's Retry-After when it gives one); anything else failed,
 * the error carrying the HTTP status as `code`. A network error is retryable.
 */
import type * as http from 'node:http';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { unrefAgentFactory } from './unref-agent';

export type ExportResponse =
  | { status: 'success' }
  | { status: 'retryable'; retryInMillis?: number; error?: Error }
  | { status: 'failure'; error: Error };

/** Sends one body; the retry layer and the HTTP transport both are one. */
export interface ExporterTransport {
  send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse>;
  shutdown(): void;
}

export interface HttpTransportConfig {
  url: string;
  headers: Record<string, string>;
  contentType: string;
  compression: 'gzip' | 'none';
}

/** An HTTP error answer, with its status as `code` (what ./refused-export.ts reads). */
class OtlpHttpError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'OtlpHttpError';
  }
}

const RETRYABLE = new Set([429, 502, 503, 504]);
const gzipAsync = promisify(gzip);

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function retryAfterMillis(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(seconds * 1000, 0);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(date - Date.now(), 0);
}

export class HttpTransport implements ExporterTransport {
  private agent: Promise<http.Agent> | undefined;

  constructor(private readonly config: HttpTransportConfig) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const url = new URL(this.config.url);
    const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
    this.agent ??= unrefAgentFactory(url.protocol);
    const agent = await this.agent;
    let body = data;
    const headers: Record<string, string> = {
      ...this.config.headers,
      'Content-Type': this.config.contentType,
    };
    if (this.config.compression === 'gzip') {
      body = await gzipAsync(data);
      headers['Content-Encoding'] = 'gzip';
    }
    return new Promise<ExportResponse>((resolve) => {
      const req = mod.request(url, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.on('error', (error) => resolve({ status: 'retryable', error }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ status: 'success' });
          else if (RETRYABLE.has(status)) {
            const retryInMillis = retryAfterMillis(res.headers['retry-after'] as string | undefined);
            resolve(
              retryInMillis === undefined ? { status: 'retryable' } : { status: 'retryable', retryInMillis },
            );
          } else {
            resolve({
              status: 'failure',
              error: new OtlpHttpError(`OTLP export answered HTTP ${status}`, status),
            });
          }
        });
      });
      // A deadline, not an idle timeout: Node applies a request's idle timeout only once it is
      // connected, and a loaded collector's full accept queue left connects hanging for minutes while
      // the batch processor went on with new exports — 80 connections a process in SYN-SENT, which
      // kept the collector's accept queue full for good (decision 0094).
      const deadline = setTimeout(
        () => req.destroy(new Error('OTLP export timed out')),
        Math.max(timeoutMillis, 1),
      );
      deadline.unref();
      req.on('close', () => clearTimeout(deadline));
      req.on('error', (error) => resolve({ status: 'retryable', error }));
      req.end(body);
    });
  }

  shutdown(): void {}
}

/**
 * The OTLP exporter's retry layer, made so that waiting for a retry never keeps the app's process
 * alive (a plain `setTimeout`, as OpenTelemetry's exporters wait, would keep a script that ends just
 * after the batch processor's first export alive through every retry, ~9 s, with the collector down).
 * The policy is OpenTelemetry's — up to 5 retries, backoff from 1 s, ×1.5 up to 5 s, ±20 % jitter,
 * the server's Retry-After when it gives one, all within the export's timeout — only the timers are
 * unref'd. A process that stays up (a service) retries exactly as
 * before; one that is done exits, and its exit flush (../exit-flush.ts) bounds the wait.
 */
import { diag } from '@opentelemetry/api';
import type { ExportResponse, ExporterTransport } from './http-transport';

export const MAX_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5_000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;

/** A wait that does not keep the event loop alive. */
function unrefDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export class BackgroundRetryTransport implements ExporterTransport {
  /** `attempt` sends once (the library's HTTP transport). */
  constructor(
    private readonly attempt: ExporterTransport,
    private readonly random: () => number = Math.random,
  ) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let backoff = INITIAL_BACKOFF_MS;
    let result = await this.attempt.send(data, timeoutMillis);
    for (let retries = 0; result.status === 'retryable' && retries < MAX_RETRIES; retries++) {
      const jittered = Math.min(backoff * (1 + (this.random() * 2 - 1) * JITTER), MAX_BACKOFF_MS);
      backoff *= BACKOFF_MULTIPLIER;
      const wait = Math.max(result.retryInMillis ?? jittered, 0);
      const remaining = deadline - Date.now();
      if (wait > remaining) break;
      await unrefDelay(wait);
      result = await this.attempt.send(data, deadline - Date.now());
    }
    if (result.status !== 'success') diag.debug('tokenledger: OTLP export gave up', result);
    return result;
  }

  shutdown(): void {
    this.attempt.shutdown();
  }
}

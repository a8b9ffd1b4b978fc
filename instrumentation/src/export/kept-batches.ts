/**
 * Batches of spans the collector could not take, kept and sent again until it takes them or the
 * process exits (decision 0104). A span carries its call's spend, and — for a call paid from a
 * budget slice — money the budget counts as held until the span is stored: an exporter that drops
 * a batch after its retries (as OpenTelemetry's do) loses that spend from every report, and on a
 * collector too loaded to accept connections it lost hundreds of calls in a run.
 *
 * - Bounded by bytes (`TOKENLEDGER_EXPORT_KEEP_BYTES`, 16 MiB by default, the encoded bodies): a
 *   batch that does not fit is dropped, and the operator told once. Never more memory than that.
 * - One batch in flight at a time, the oldest first; while any batch is kept, new batches join the
 *   queue instead of each trying on its own: a process has one connection attempt to a collector
 *   that is down or starved, not one per batch (decision 0094).
 * - Backoff from 1 s, doubling up to 30 s, ±20 % jitter; the collector's Retry-After when it gives
 *   one. After a success the next batch goes at once.
 * - With `merge`, the oldest batches are sent as one request of up to `maxSendBytes` (1 MiB): a
 *   process that took hundreds of small batches from the exit spool, or kept them through an outage,
 *   sends them in a few round trips, not one each — on a starved collector each costs seconds
 *   (decision 0122). A merged request refused for good is sent again batch by batch.
 * - An answer that is no retry (a 4xx other than 429) drops the batch, as the exporter does.
 * - Its timers never keep the process alive; the exit flush (../exit-flush.ts) sends what it can
 *   within its bound (`sendNow`), the rest goes to the exit spool (./exit-spool.ts) for the next
 *   process.
 * Resent spans are stored once: the collector deduplicates calls by trace and span id.
 */
import { diag } from '@opentelemetry/api';
import type { ExportResponse, ExporterTransport } from './http-transport';

export const DEFAULT_KEEP_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_SEND_BYTES = 1024 * 1024;
const INITIAL_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const JITTER = 0.2;

export interface KeptBatchesOptions {
  /** The most bytes kept (encoded bodies). */
  maxBytes: number;
  /** The timeout of each attempt. */
  timeoutMillis: number;
  /** Told of every batch's final result (a refusal is warned about there). */
  onResult?: (response: ExportResponse) => void;
  /** Told when a batch is dropped because the bound is reached (spans in it). */
  onOverflow?: (spans: number) => void;
  /** One request body carrying every span of `bodies` (OTLP requests merge); without it, one at a time. */
  merge?: (bodies: readonly Uint8Array[]) => Uint8Array;
  /** The largest merged request, bytes (default 1 MiB); a batch larger than that goes alone. */
  maxSendBytes?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  random?: () => number;
}

interface Kept {
  body: Uint8Array;
  spans: number;
}

export class KeptBatches {
  private readonly queue: Kept[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private backoffMs: number;
  private stopped = false;
  /** Batches to send one at a time, after a merged request was refused for good. */
  private singlyLeft = 0;
  /** Spans dropped because the bound was reached. */
  dropped = 0;

  constructor(
    /** Sends once (no retry of its own). */
    private readonly transport: ExporterTransport,
    private readonly options: KeptBatchesOptions,
  ) {
    this.backoffMs = options.initialBackoffMs ?? INITIAL_BACKOFF_MS;
  }

  /** Batches kept now. */
  get size(): number {
    return this.queue.length;
  }

  /** Bytes kept now. */
  get keptBytes(): number {
    return this.bytes;
  }

  /** The bound: the most bytes kept. */
  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /** The batches kept now, oldest first (written to the exit spool when the process ends). */
  batches(): Array<{ body: Uint8Array; spans: number }> {
    return this.queue.map(({ body, spans }) => ({ body, spans }));
  }

  /**
   * Keeps a batch the collector did not take, to send it again after the backoff. False (dropped,
   * `onOverflow` told) when it does not fit in the bound.
   */
  keep(body: Uint8Array, spans: number, retryInMillis?: number): boolean {
    if (this.stopped) return false;
    if (this.bytes + body.byteLength > this.options.maxBytes) {
      this.dropped += spans;
      this.options.onOverflow?.(spans);
      return false;
    }
    this.queue.push({ body, spans });
    this.bytes += body.byteLength;
    if (this.sending === undefined && this.timer === undefined) this.schedule(retryInMillis);
    return true;
  }

  /**
   * Sends the kept batches now, oldest first, until one is not taken (the exit flush and
   * `forceFlush`). Resolves when done; shares a send already in flight. Never rejects.
   */
  sendNow(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    if (this.sending) return this.sending;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.sendAll();
  }

  /** No more retries; what is kept is dropped (the exporter shuts down). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopped = true;
    this.queue.length = 0;
    this.bytes = 0;
  }

  private schedule(retryInMillis?: number): void {
    if (this.stopped) return;
    const random = this.options.random ?? Math.random;
    const jittered = this.backoffMs * (1 + (random() * 2 - 1) * JITTER);
    const wait = Math.max(retryInMillis ?? jittered, 0);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? MAX_BACKOFF_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendAll();
    }, wait);
    this.timer.unref();
  }

  /** The oldest batches that go in the next request: one, or as many as merge within the bound. */
  private nextSend(): { body: Uint8Array; count: number } {
    const first = this.queue[0]!;
    const merge = this.options.merge;
    if (!merge || this.singlyLeft > 0) return { body: first.body, count: 1 };
    const max = this.options.maxSendBytes ?? DEFAULT_MAX_SEND_BYTES;
    let bytes = first.body.byteLength;
    let count = 1;
    while (count < this.queue.length && bytes + this.queue[count]!.body.byteLength <= max) {
      bytes += this.queue[count]!.body.byteLength;
      count++;
    }
    if (count === 1) return { body: first.body, count };
    try {
      return { body: merge(this.queue.slice(0, count).map((k) => k.body)), count };
    } catch {
      return { body: first.body, count: 1 };
    }
  }

  private sendAll(): Promise<void> {
    const run = async (): Promise<void> => {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        const { body, count } = this.nextSend();
        let response: ExportResponse;
        try {
          response = await this.transport.send(body, this.options.timeoutMillis);
        } catch (error) {
          response = { status: 'retryable', error: error as Error };
        }
        if (response.status === 'retryable') {
          diag.debug('tokenledger: kept spans not taken yet; retrying later', response.error);
          this.schedule(response.retryInMillis);
          return;
        }
        if (this.queue[0] !== first) return; // stopped meanwhile
        if (response.status === 'failure' && count > 1) {
          // Refused for good (a body limit set below the merged size, one bad batch): each batch
          // goes alone, so only a batch refused by itself is dropped.
          this.singlyLeft = count;
          continue;
        }
        if (this.singlyLeft > 0) this.singlyLeft--;
        for (const sent of this.queue.splice(0, count)) this.bytes -= sent.body.byteLength;
        this.backoffMs = this.options.initialBackoffMs ?? INITIAL_BACKOFF_MS;
        this.options.onResult?.(response);
      }
    };
    const p = run().finally(() => {
      if (this.sending === p) this.sending = undefined;
    });
    this.sending = p;
    return p;
  }
}

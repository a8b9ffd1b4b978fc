/**
 * Sends hostile requests to a collector over raw HTTP, several at once, the way a crowd of broken
 * exporters would: chunked and aborted bodies included. A request carrying valid calls is retried
 * on 429/503 after its Retry-After, as an OTLP exporter would; the rest are sent once.
 */
import http from 'node:http';
import type { HostileBody } from './hostile-bodies';

export interface SendOutcome {
  /** HTTP status, or 0 when the connection failed or was dropped on purpose. */
  status: number;
  /** What went wrong on the wire, when status is 0. */
  error?: string;
  retryAfter?: string;
}

export interface SenderOptions {
  url: string;
  ingestKey: string;
  /** Retries of a request with valid calls answered 429/503 (default 30). */
  maxRetries?: number;
  /** Longest wait before a retry, ms (Retry-After is honoured up to this; default 2,000). */
  maxRetryWaitMs?: number;
}

export interface BodyResult {
  kind: string;
  /** Every answer, retries included. */
  statuses: number[];
  /** The final answer was 2xx: its valid calls must be stored. */
  acked: boolean;
  validCalls: number;
  error?: string;
}

/** Idle sockets are closed before the collector's keep-alive timeout (5 s) could close them under a request. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });

/**
 * Sends once; a kept-alive socket the server closed just then is retried on a connection of its own
 * (another pooled socket may be just as stale on a loaded machine), as clients do.
 */
export async function sendOnce(opts: SenderOptions, b: HostileBody): Promise<SendOutcome> {
  const out = await attempt(opts, b, false);
  return out.reusedSocketReset ? attempt(opts, b, true) : out;
}

function attempt(
  opts: SenderOptions,
  b: HostileBody,
  fresh: boolean,
): Promise<SendOutcome & { reusedSocketReset?: boolean }> {
  const url = new URL('/v1/traces', opts.url);
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${opts.ingestKey}`,
      ...b.headers,
    };
    if (b.contentType) headers['content-type'] = b.contentType;
    if (!b.chunked) headers['content-length'] = b.body.length;
    const req = http.request(url, {
      method: 'POST',
      headers,
      agent: fresh || b.abortAfter !== undefined ? false : agent,
    });
    let settled = false;
    const done = (o: SendOutcome & { reusedSocketReset?: boolean }): void => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }),
      );
      res.on('error', (err) => done({ status: res.statusCode ?? 0, error: err.message }));
    });
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      done({
        status: 0,
        error: `${code ?? err.message}${req.reusedSocket ? ' (a reused socket)' : ''}`,
        reusedSocketReset: req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE'),
      });
    });
    if (b.abortAfter !== undefined) {
      req.write(b.body.subarray(0, b.abortAfter), () => {
        setTimeout(() => {
          req.destroy();
          done({ status: 0, error: 'aborted by the sender' });
        }, 5);
      });
      return;
    }
    // Large bodies in pieces, so that a collector answering early (413) is seen as such.
    const piece = 1024 * 1024;
    let at = 0;
    const pump = (): void => {
      while (at < b.body.length) {
        const chunk = b.body.subarray(at, at + piece);
        at += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends one hostile body, retrying it (if it carries valid calls) while the collector sheds load. */
export async function sendHostile(opts: SenderOptions, b: HostileBody): Promise<BodyResult> {
  const statuses: number[] = [];
  const retries = opts.maxRetries ?? 30;
  for (let attempt = 0; ; attempt++) {
    const out = await sendOnce(opts, b);
    statuses.push(out.status);
    const shed = out.status === 429 || out.status === 503;
    if (!shed || b.validCalls === 0 || attempt >= retries) {
      return {
        kind: b.kind,
        statuses,
        acked: out.status >= 200 && out.status < 300,
        validCalls: b.validCalls,
        error: out.error,
      };
    }
    const seconds = Number(out.retryAfter);
    await sleep(Math.min(opts.maxRetryWaitMs ?? 2_000, Number.isFinite(seconds) ? seconds * 1000 : 1000));
  }
}

/** Runs `next()` bodies through `concurrency` senders until `count` have been sent. */
export async function sendAll(
  opts: SenderOptions,
  next: () => HostileBody,
  count: number,
  concurrency: number,
  onResult: (r: BodyResult) => void,
): Promise<void> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < count) {
      issued++;
      onResult(await sendHostile(opts, next()));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export function closeSenderSockets(): void {
  agent.destroy();
}

/**
 * Flush-on-exit: when the event loop drains (`beforeExit`), force-flush tokenledger's tracer provider
 * if tokenledger ended spans since the last flush, so a short script loses no span.
 *
 * The exporter's sockets and retry timers do not keep the process alive (./export/), so while the
 * flush waits for the collector a timer does, for at most FLUSH_TIMEOUT_MS: a collector that is
 * down or hangs costs a finished script at most EXIT_FLUSH_TIMEOUT_MS. `beforeExit` fires again after the flush;
 * the counter guard makes that round a no-op, so the process then exits. Signals and
 * `process.exit()` are left alone: tokenledger installs no signal handlers (that would change the
 * app's exit behaviour); apps that exit that way can `await flush()` first.
 */
import { type Span, diag, trace } from '@opentelemetry/api';

let endedSpans = 0;
let flushedAt = 0;
/** Batches an earlier process left (../export/exit-spool.ts) were taken since the last flush. */
let takenSinceFlush = false;
let flushing = false;
let installed = false;

/** How long `flush()` waits for the collector by default. */
const FLUSH_TIMEOUT_MS = 1_000;

/**
 * How long the exit flush waits: a finished script must be gone within 1.1 s of its last statement
 * whatever the collector does (down, hanging, shedding), and the process's own teardown takes tens
 * of milliseconds, more on a loaded machine. A collector that answers takes a batch in far less.
 */
const EXIT_FLUSH_TIMEOUT_MS = 900;

/** Listeners told about every ended tokenledger span (the guard and approval grants count spend). */
type SpanEndListener = (span: Span) => void;
const spanEndListeners: SpanEndListener[] = [];

/** Adds a listener; returns a function that removes it. */
export function onSpanEnded(listener: SpanEndListener): () => void {
  spanEndListeners.push(listener);
  return () => {
    const i = spanEndListeners.indexOf(listener);
    if (i >= 0) spanEndListeners.splice(i, 1);
  };
}

/** The exporter took batches from the exit spool: the exit flush sends them even if no span ended since. */
export function noteBatchesTaken(): void {
  takenSinceFlush = true;
}

/** Every provider patch calls this right after it ends a span. */
export function noteSpanEnded(span?: Span): void {
  endedSpans++;
  if (span === undefined) return;
  for (let i = 0; i < spanEndListeners.length; i++) {
    try {
      spanEndListeners[i]!(span);
    } catch {
      // never throw into the app
    }
  }
}

interface Flushable {
  forceFlush?: () => Promise<void>;
  getDelegate?: () => unknown;
}

let ownProvider: Flushable | undefined;

/** tokenledger's private provider, the one flush() flushes when there is one. */
export function setOwnProvider(provider: Flushable): void {
  ownProvider = provider;
}

/**
 * tokenledger's private provider, else (`TOKENLEDGER_TRACER_PROVIDER=app`) the SDK provider behind
 * the API's global proxy, if it can flush.
 */
function flushableProvider(): Flushable | undefined {
  if (ownProvider) return ownProvider;
  let p = trace.getTracerProvider() as Flushable;
  if (typeof p.getDelegate === 'function') p = p.getDelegate() as Flushable;
  return p && typeof p.forceFlush === 'function' ? p : undefined;
}

let exportQueued = false;

/**
 * Exports tokenledger's ended spans on the next turn of the event loop instead of at the batch's
 * schedule: the guard asks for it when a call settles budget money other processes wait for, which
 * the collector frees only once the call's span is stored (decision 0088). One export per turn
 * however many calls ask; tokenledger's own provider only (an app's provider keeps its schedule).
 * Waits for nothing, never throws.
 */
export function exportSpansSoon(): void {
  const p = ownProvider;
  if (exportQueued || typeof p?.forceFlush !== 'function') return;
  exportQueued = true;
  setImmediate(() => {
    exportQueued = false;
    p.forceFlush!().catch((err: unknown) => diag.debug('tokenledger: export failed', err));
  });
}

export interface FlushOptions {
  /** Stop waiting for the collector after this long (default FLUSH_TIMEOUT_MS); exports go on in the background. */
  timeoutMillis?: number;
}

/**
 * Force-flushes tokenledger's tracer provider (its own; the app's with TOKENLEDGER_TRACER_PROVIDER=app): exports the spans ended so far and waits until the
 * collector took them, or the timeout passed (a collector that is down must not hold the caller).
 * Never rejects.
 */
export async function flush(options: FlushOptions = {}): Promise<void> {
  const timeoutMillis = options.timeoutMillis ?? FLUSH_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    // tokenledger's own provider builds its deferred call spans first (see start.ts).
    const p = flushableProvider();
    flushedAt = endedSpans;
    takenSinceFlush = false;
    if (!p) return;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        diag.debug(
          `tokenledger: flush still waiting for the collector after ${timeoutMillis} ms; not waiting longer`,
        );
        resolve();
      }, timeoutMillis);
    });
    await Promise.race([p.forceFlush!(), timedOut]);
  } catch (err) {
    diag.debug('tokenledger: flush failed', err);
  } finally {
    clearTimeout(timer);
  }
}

export function installExitFlush(): void {
  if (installed) return;
  installed = true;
  process.on('beforeExit', () => {
    if (flushing || (endedSpans === flushedAt && !takenSinceFlush)) return;
    flushing = true;
    // flush()'s own timer keeps the process up while it waits, at most EXIT_FLUSH_TIMEOUT_MS.
    void flush({ timeoutMillis: EXIT_FLUSH_TIMEOUT_MS }).finally(() => {
      flushing = false;
    });
  });
}

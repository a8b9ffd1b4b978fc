/**
 * Flush-on-exit: when the event loop drains (`beforeExit`), force-flush the global tracer provider
 * if tokenledger ended spans since the last flush, so a short script loses no span.
 *
 * `beforeExit` fires again after the flush's async work is done; the counter guard makes that
 * second round a no-op, so the process then exits. Signals and `process.exit()` are left alone:
 * tokenledger installs no signal handlers (that would change the app's exit behaviour); apps that
 * exit that way can `await flush()` first.
 */
import { type Span, diag, trace } from '@opentelemetry/api';

let endedSpans = 0;
let flushedAt = 0;
let flushing = false;
let installed = false;
let exiting = false;

/** True once the event loop drained (`beforeExit`): exports should not retry any more. */
export function isExiting(): boolean {
  return exiting;
}

/** Called by instrumentations each time they end a span. */
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

/** The SDK provider behind the API's global proxy (ours or the app's), if it can flush. */
function flushableProvider(): Flushable | undefined {
  let p = trace.getTracerProvider() as Flushable;
  if (typeof p.getDelegate === 'function') p = p.getDelegate() as Flushable;
  return p && typeof p.forceFlush === 'function' ? p : undefined;
}

/** Force-flushes the global tracer provider; never rejects. */
export async function flush(): Promise<void> {
  try {
    // tokenledger's own provider builds its deferred call spans first (see start.ts).
    const p = flushableProvider();
    flushedAt = endedSpans;
    if (p) await p.forceFlush!();
  } catch (err) {
    diag.debug('tokenledger: flush failed', err);
  }
}

export function installExitFlush(): void {
  if (installed) return;
  installed = true;
  process.on('beforeExit', () => {
    if (flushing || endedSpans === flushedAt) return;
    flushing = true;
    exiting = true;
    void flush().finally(() => {
      flushing = false;
    });
  });
}

/**
 * The context manager tokenledger installs when the app has none: OpenTelemetry's AsyncLocalStorage
 * manager, but AsyncLocalStorage is only engaged once something really enters a context.
 *
 * Why: on Node < 24, the first `AsyncLocalStorage#run` installs process-wide promise hooks, and from
 * then on every promise of the app pays for them (measured: ~15 µs and extra GC per OpenAI call).
 * tokenledger itself never enters a context on the hot path; the only other `context.with` in a plain
 * app is the batch processor's, which suppresses tracing around each export so that an HTTP
 * instrumentation does not trace the exporter's own requests. While AsyncLocalStorage is not engaged
 * and Node's http/https are not patched by any instrumentation, that suppression has nothing to
 * suppress: a suppressing, non-async callback then runs in a synchronous scope (the context is active
 * for its synchronous part only; the exporter's later HTTP request could not be traced anyway). Every other `with`/`bind` (the app, `withAttribution`, an HTTP instrumentation's own
 * calls) engages AsyncLocalStorage first and behaves exactly like AsyncLocalStorageContextManager.
 */
import { type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from './async-local-storage-context';
import { isTracingSuppressed } from './suppress-tracing';

/* eslint-disable @typescript-eslint/no-require-imports -- node builtins, read lazily per export */
function httpIsInstrumented(): boolean {
  for (const name of ['http', 'https'] as const) {
    const request = (require(name) as { request?: unknown }).request as
      { __wrapped?: unknown; __original?: unknown } | undefined;
    if (!request || request.__wrapped !== undefined || request.__original !== undefined) return true;
  }
  return false;
}
/* eslint-enable @typescript-eslint/no-require-imports */

function isAsyncFunction(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: unknown } }).constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
}

function isThenable(v: unknown): boolean {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

export class LazyAsyncLocalStorageContextManager extends AsyncLocalStorageContextManager {
  private engaged = false;
  /** The context of a synchronous suppression scope, while one runs (only before engagement). */
  private syncContext: Context | undefined;

  /** Whether AsyncLocalStorage has been engaged (for tests and diagnostics). */
  isEngaged(): boolean {
    return this.engaged;
  }

  override active(): Context {
    return this.syncContext ?? super.active();
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (!this.engaged) {
      if (isTracingSuppressed(context) && !isAsyncFunction(fn) && !httpIsInstrumented()) {
        const previous = this.syncContext;
        this.syncContext = context;
        let result: ReturnType<F>;
        try {
          result = fn.call(thisArg, ...args);
        } finally {
          this.syncContext = previous;
        }
        // A callback that went asynchronous (an app suppressing its own work across `.then`): from now
        // on, engage AsyncLocalStorage so the next such scope propagates.
        if (isThenable(result)) this.engaged = true;
        return result;
      }
      this.engaged = true;
    }
    const outerSync = this.syncContext;
    if (outerSync === undefined) return super.with(context, fn, thisArg, ...args);
    // Engaged inside a synchronous scope: AsyncLocalStorage takes over for the nested call.
    this.syncContext = undefined;
    try {
      return super.with(context, fn, thisArg, ...args);
    } finally {
      this.syncContext = outerSync;
    }
  }
}

/**
 * Observes an SDK's async iterator without changing what the app reads: every item is passed
 * through by reference; the end, an early `return()` (break in `for await`) and errors are reported.
 * Provider-neutral (Google Gen AI streams, Mistral event streams).
 */

export interface StreamObserver {
  /** Sees one item; must not throw. */
  onItem(item: unknown): void;
  /** The iterator finished. */
  onDone(): void;
  /** The app stopped reading early. */
  onCancelled(): void;
  onError(err: unknown): void;
}

type Next = (...args: [] | [unknown]) => Promise<IteratorResult<unknown>>;
type Return = (value?: unknown) => Promise<IteratorResult<unknown>>;

export class ObservedIterator implements AsyncIterableIterator<unknown> {
  private finished = false;
  /** Bound once per stream, not per item: the hot path is one `then` per item. */
  private readonly onResult: (r: IteratorResult<unknown>) => IteratorResult<unknown>;
  private readonly onFailure: (err: unknown) => never;

  constructor(
    private readonly nextFn: Next,
    private readonly returnFn: Return | undefined,
    private readonly throwFn: ((err?: unknown) => Promise<IteratorResult<unknown>>) | undefined,
    private readonly observer: StreamObserver,
  ) {
    this.onResult = (r) => {
      if (r.done) this.finish(() => this.observer.onDone());
      else safely(() => this.observer.onItem(r.value));
      return r;
    };
    this.onFailure = (err) => {
      this.finish(() => this.observer.onError(err));
      throw err;
    };
  }

  /** Wraps a plain async iterator (e.g. what a ReadableStream's Symbol.asyncIterator returns). */
  static wrap(it: AsyncIterator<unknown>, observer: StreamObserver): ObservedIterator {
    return new ObservedIterator(
      (...a) => it.next(...a),
      typeof it.return === 'function' ? (v) => it.return!(v) : undefined,
      typeof it.throw === 'function' ? (e) => it.throw!(e) : undefined,
      observer,
    );
  }

  next(...args: [] | [unknown]): Promise<IteratorResult<unknown>> {
    let p: Promise<IteratorResult<unknown>>;
    try {
      p = this.nextFn(...args);
    } catch (err) {
      this.finish(() => this.observer.onError(err));
      return Promise.reject(err as Error);
    }
    return p.then(this.onResult, this.onFailure);
  }

  return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.finish(() => this.observer.onCancelled());
    return this.returnFn ? this.returnFn(value) : Promise.resolve({ done: true, value });
  }

  throw(err?: unknown): Promise<IteratorResult<unknown>> {
    this.finish(() => this.observer.onError(err));
    return this.throwFn ? this.throwFn(err) : Promise.reject(err as Error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  private finish(report: () => void): void {
    if (this.finished) return;
    this.finished = true;
    safely(report);
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // the observer must never break the app's stream
  }
}

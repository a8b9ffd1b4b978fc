/**
 * Observes an SDK stream's async iterator without changing what the app reads: every item is passed
 * through by reference, and the stream's end, an early `return()` (break in `for await`) and errors
 * are reported once. Every provider's streams go through this one implementation.
 */

/** What an ObservedIterator reports to (a provider's call). Callbacks must not throw. */
export interface StreamObserver {
  /** Sees one item; `false` hides it from the app (the next item is read instead). */
  onItem(item: unknown): boolean | void;
  /** The stream ran out. */
  onDone(): void;
  /** Reading the stream failed. */
  onError(err: unknown): void;
  /** The app stopped reading before the end. */
  onCancel(): void;
}

type Result = IteratorResult<unknown>;

const enum Ending {
  Done,
  Cancel,
  Error,
}

export class ObservedIterator implements AsyncIterableIterator<unknown> {
  /** The end (done, error or cancel) has been reported: it is reported once. */
  private finished = false;
  /** Bound once per stream, not per item: the hot path is one `then` per item. */
  private readonly onResult: (r: Result) => Result | Promise<Result>;
  private readonly onFailure: (err: unknown) => never;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly observer: StreamObserver,
  ) {
    this.onResult = (r) => {
      if (r.done) {
        if (!this.finished) this.report(Ending.Done, undefined);
        return r;
      }
      let keep: boolean | void = true;
      try {
        keep = this.observer.onItem(r.value);
      } catch {
        // the observer must never break the app's stream
      }
      return keep === false ? this.next() : r;
    };
    this.onFailure = (err) => {
      this.fail(err);
      throw err;
    };
  }

  next(value?: unknown): Promise<Result> {
    let p: Promise<Result>;
    try {
      // No rest parameters: this runs once per item, and `for await` passes no argument.
      p = arguments.length === 0 ? this.source.next() : this.source.next(value);
    } catch (err) {
      this.fail(err);
      return Promise.reject(err as Error);
    }
    return p.then(this.onResult, this.onFailure);
  }

  async return(value?: unknown): Promise<Result> {
    if (!this.finished) this.report(Ending.Cancel, undefined);
    if (typeof this.source.return === 'function') return this.source.return(value);
    return { done: true, value };
  }

  /** An error thrown into the stream: what the source makes of it (end, item or error) is observed. */
  throw(err?: unknown): Promise<Result> {
    if (typeof this.source.throw !== 'function') {
      this.fail(err);
      return Promise.reject(err as Error);
    }
    let p: Promise<Result>;
    try {
      p = this.source.throw(err);
    } catch (e) {
      this.fail(e);
      return Promise.reject(e as Error);
    }
    return p.then(this.onResult, this.onFailure);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  private fail(err: unknown): void {
    if (!this.finished) this.report(Ending.Error, err);
  }

  private report(ending: Ending, err: unknown): void {
    this.finished = true;
    try {
      if (ending === Ending.Done) this.observer.onDone();
      else if (ending === Ending.Cancel) this.observer.onCancel();
      else this.observer.onError(err);
    } catch {
      // the observer must never break the app's stream
    }
  }
}

/**
 * Replaces the iterator-returning method `key` of `target` (e.g. a Stream's `iterator`, or
 * `Symbol.asyncIterator`) on that instance so every iterator it returns is observed. An own writable
 * property is assigned (keeping its attributes), otherwise an own method shadows the inherited one.
 * False when `target[key]` is not a function.
 */
export function observeIteratorMethod(target: object, key: PropertyKey, observer: StreamObserver): boolean {
  const original = (target as Record<PropertyKey, unknown>)[key];
  if (typeof original !== 'function') return false;
  const observed = function (this: unknown, ...args: unknown[]): AsyncIterator<unknown> {
    return new ObservedIterator(
      (original as (...a: unknown[]) => AsyncIterator<unknown>).apply(this, args),
      observer,
    );
  };
  if (Object.getOwnPropertyDescriptor(target, key)?.writable === true) {
    (target as Record<PropertyKey, unknown>)[key] = observed;
  } else {
    Object.defineProperty(target, key, { configurable: true, writable: true, value: observed });
  }
  return true;
}

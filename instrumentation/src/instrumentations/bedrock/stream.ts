/**
 * Observing a Bedrock event stream (ConverseStream `stream`, InvokeModelWithResponseStream `body`)
 * without changing it: the app keeps the same stream object and gets the same events; only that
 * object's async iterator is wrapped, to read each event and end the span when the stream ends.
 */

export interface StreamObserver {
  onEvent(event: unknown): void;
  onStreamDone(): void;
  onStreamCancelled(): void;
  fail(err: unknown): void;
}

/** Wraps `iterable[Symbol.asyncIterator]` on the instance; false when it is not an async iterable. */
export function wrapAsyncIterable(iterable: unknown, observer: StreamObserver): boolean {
  if (iterable === null || typeof iterable !== 'object') return false;
  const original = (iterable as Record<symbol, unknown>)[Symbol.asyncIterator];
  if (typeof original !== 'function') return false;
  Object.defineProperty(iterable, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]): AsyncIterator<unknown> {
      return new ObservedIterator(
        (original as (...a: unknown[]) => AsyncIterator<unknown>).apply(this, args),
        observer,
      );
    },
  });
  return true;
}

class ObservedIterator implements AsyncIterableIterator<unknown> {
  private readonly onResult: (r: IteratorResult<unknown>) => IteratorResult<unknown>;
  private readonly onError: (err: unknown) => never;

  constructor(
    private readonly it: AsyncIterator<unknown>,
    private readonly observer: StreamObserver,
  ) {
    this.onResult = (r) => {
      if (r.done) this.observer.onStreamDone();
      else this.observer.onEvent(r.value);
      return r;
    };
    this.onError = (err) => {
      this.observer.fail(err);
      throw err;
    };
  }

  next(...args: [] | [unknown]): Promise<IteratorResult<unknown>> {
    let p: Promise<IteratorResult<unknown>>;
    try {
      p = this.it.next(...args);
    } catch (err) {
      this.observer.fail(err);
      return Promise.reject(err as Error);
    }
    return p.then(this.onResult, this.onError);
  }

  async return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.observer.onStreamCancelled();
    if (typeof this.it.return === 'function') return this.it.return(value);
    return { done: true, value };
  }

  async throw(err?: unknown): Promise<IteratorResult<unknown>> {
    this.observer.fail(err);
    if (typeof this.it.throw === 'function') return this.it.throw(err);
    throw err;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }
}

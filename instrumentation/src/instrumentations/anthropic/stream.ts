/**
 * Observes the SDK's Stream of raw message events without changing it: the instance's `iterator`
 * (which `[Symbol.asyncIterator]`, `tee()` and `toReadableStream()` all go through) is wrapped, and
 * every event is passed through by reference.
 */
import type { AnyRecord } from './usage';

/** What the iterator reports to; implemented by AnthropicCall. */
export interface StreamObserver {
  onEvent(event: unknown): void;
  onStreamDone(): void;
  onStreamCancelled(): void;
  fail(err: unknown): void;
}

/** Wraps `stream.iterator` on the instance; false when the object is not a Stream we know. */
export function wrapStreamIterator(stream: AnyRecord, observer: StreamObserver): boolean {
  const original = stream.iterator as ((...a: unknown[]) => AsyncIterator<unknown>) | undefined;
  if (typeof original !== 'function') return false;
  stream.iterator = function (this: unknown, ...args: unknown[]) {
    return new ObservedIterator(original.apply(this, args), observer);
  };
  return true;
}

class ObservedIterator implements AsyncIterableIterator<unknown> {
  /** Bound once per stream, not per event: the hot path is one `then` per event. */
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
    if (typeof this.it.throw === 'function') {
      try {
        return await this.it.throw(err);
      } catch (e) {
        this.observer.fail(e);
        throw e;
      }
    }
    this.observer.fail(err);
    throw err;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }
}

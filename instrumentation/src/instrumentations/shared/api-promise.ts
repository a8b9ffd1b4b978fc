/**
 * What the Stainless-generated SDKs (openai, @anthropic-ai/sdk) return from `create()`: an
 * APIPromise. The app keeps that very object (so `.withResponse()`, `.asResponse()` and `_thenUnwrap`
 * chains keep working); the call is observed at:
 *   - `responsePromise` rejection: HTTP errors (after the SDK's retries), network errors, aborts;
 *   - its own `parseResponse` (replaced on the instance, called by parse(), withResponse() and, in
 *     openai 4–6 and @anthropic-ai/sdk, every `_thenUnwrap` derived from it): the parsed body, or
 *     the Stream;
 *   - the transform of every `_thenUnwrap` (the SDK helpers' way to derive a promise; newer SDKs
 *     derive it without calling our parseResponse): the same, whichever comes first;
 *   - `asResponse()` without parsing: the call ends with what the request said;
 *   - `_responseProps()`, the raw response a helper parses through an APIPromise of its own: the
 *     Stream the SDK makes from it (the SDK's `Stream.fromSSEResponse` is patched to report it).
 */
import type { Context } from '@opentelemetry/api';
import { callSdk, observeSettled } from './sdk-call';
import { CallSpan } from './call-span';
import type { StreamObserver } from './observed-iterator';

/** The provider call an APIPromise reports to. */
export interface APIPromiseCall {
  /** parseResponse has been entered (the app reads the parsed body, not only `.asResponse()`). */
  parseStarted: boolean;
  /** The parsed body, or the Stream of a streaming call; returns the value unchanged. */
  onParsed(value: unknown): unknown;
  /** The app only took the raw Response. */
  onRawResponse(): void;
  fail(err: unknown): void;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
type AnyRecord = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Calls the SDK's `original` and observes what it returns for `call`; the app gets the SDK's own
 * result or exception. `sdkParent`: see callSdk.
 */
export function callObserved(
  original: Method,
  self: unknown,
  args: unknown[],
  call: APIPromiseCall,
  sdkParent?: Context,
): unknown {
  const result = callSdk(original, self, args, call, sdkParent);
  try {
    observeAPIPromise(result, call);
  } catch {
    // never throw into the app
  }
  return result;
}

/** Hooks `call` onto an APIPromise in place; any other thenable or value is observed unchanged. */
export function observeAPIPromise(result: unknown, call: APIPromiseCall): void {
  if (result === null || typeof result !== 'object') {
    call.onParsed(result);
    return;
  }
  const p = result as AnyRecord;
  const responsePromise = p.responsePromise as Promise<unknown> | undefined;
  const parseResponse = p.parseResponse as Method | undefined;
  if (typeof parseResponse === 'function' && responsePromise && typeof responsePromise.then === 'function') {
    responsePromise.then(undefined, (err: unknown) => call.fail(err));
    // Reached by our parseResponse and by every `_thenUnwrap` transform: whichever sees the
    // parsed body (or the Stream) first reports it, once.
    let reported = false;
    const parsed = (v: unknown): void => {
      if (reported) return;
      reported = true;
      try {
        call.onParsed(v);
      } catch {
        // never throw into the app
      }
    };
    p.parseResponse = observedParse(parseResponse, call, parsed);
    hookDerivations(p, call, parsed);
    hookResponseProps(p, call, parsed);
    return;
  }
  if (typeof p.then === 'function') {
    // Some other thenable: observe without changing it.
    (p as Promise<unknown>).then(
      (v) => call.onParsed(v),
      (err: unknown) => call.fail(err),
    );
    return;
  }
  call.onParsed(result);
}

/**
 * The ways an app or an SDK helper gets at an APIPromise's result other than awaiting it:
 *   - `asResponse()`: the raw Response only; the call ends with what the request said;
 *   - `_thenUnwrap(transform)`: the promise the helpers (`chat.completions.parse()`,
 *     `responses.parse()`, `responses.stream()`) return. openai 7.x (seen on 7.57) builds it around
 *     its own copy of the parse function, so it never calls the parseResponse we replaced: the
 *     transform is wrapped to see the parsed body, and the derived promise gets the same hooks.
 */
function hookDerivations(p: AnyRecord, call: APIPromiseCall, parsed: (v: unknown) => void): void {
  const asResponse = p.asResponse as Method | undefined;
  if (typeof asResponse === 'function') {
    p.asResponse = function (this: unknown, ...a: unknown[]): unknown {
      const r = asResponse.apply(this, a);
      if (!call.parseStarted && r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(
          () => setImmediate(() => call.onRawResponse()),
          () => undefined,
        );
      }
      return r;
    };
  }
  const thenUnwrap = p._thenUnwrap as Method | undefined;
  if (typeof thenUnwrap !== 'function') return;
  p._thenUnwrap = function (this: unknown, transform: unknown, ...rest: unknown[]): unknown {
    const seen =
      typeof transform === 'function'
        ? function (this: unknown, value: unknown, ...more: unknown[]): unknown {
            parsed(value);
            return (transform as Method).call(this, value, ...more);
          }
        : transform;
    const derived = thenUnwrap.call(this, seen, ...rest);
    try {
      hookDerived(derived, call, parsed);
    } catch {
      // never throw into the app
    }
    return derived;
  };
}

/**
 * An APIPromise's parseResponse that marks the parse started, hands the result to `onValue` and
 * fails the call on an error. Observed on a branch, registered before the SDK chains on it (so a
 * Stream is instrumented before the app can read it): the app's chain is no longer than without us.
 */
function observedParse(parseResponse: Method, call: APIPromiseCall, onValue: (v: unknown) => void): Method {
  return function (this: unknown, ...a: unknown[]): unknown {
    call.parseStarted = true;
    let out: unknown;
    try {
      out = parseResponse.apply(this, a);
    } catch (err) {
      call.fail(err);
      throw err;
    }
    observeSettled(out, onValue, (err) => call.fail(err));
    return out;
  };
}

/**
 * A promise `_thenUnwrap` made: parsing it starts the call's parse, and a failure before the body
 * was parsed fails the call (an error of the transform comes after the call was reported: a no-op).
 * Its value is the transform's, not the call's: the wrapped transform reports the call's.
 */
function hookDerived(derived: unknown, call: APIPromiseCall, parsed: (v: unknown) => void): void {
  if (derived === null || typeof derived !== 'object') return;
  const d = derived as AnyRecord;
  const parseResponse = d.parseResponse as Method | undefined;
  if (typeof parseResponse === 'function')
    d.parseResponse = observedParse(parseResponse, call, () => undefined);
  hookDerivations(d, call, parsed);
}

/**
 * Responses whose body an SDK helper parses on its own, through a new APIPromise built on
 * `_responseProps()` (Anthropic's message threads stream each turn that way): who reports the Stream
 * the SDK makes from them. Keyed by the Response, so an entry goes with it.
 */
const helperParsed = new WeakMap<object, (stream: unknown) => void>();

function hookResponseProps(p: AnyRecord, call: APIPromiseCall, parsed: (v: unknown) => void): void {
  const responseProps = p._responseProps as Method | undefined;
  if (typeof responseProps !== 'function') return;
  p._responseProps = function (this: unknown, ...a: unknown[]): unknown {
    const r = responseProps.apply(this, a);
    // Registered before the helper chains on it, so the entry exists before it parses.
    if (r && typeof (r as Promise<unknown>).then === 'function') {
      (r as Promise<unknown>).then(
        (props) => {
          const response = (props as AnyRecord | undefined)?.response as unknown;
          if (response !== null && typeof response === 'object') {
            helperParsed.set(response, (stream) => {
              call.parseStarted = true;
              parsed(stream);
            });
          }
        },
        () => undefined,
      );
    }
    return r;
  };
}

/**
 * For a patched `Stream.fromSSEResponse(response, ...)`: a Stream made from a Response a helper took
 * with `_responseProps()` is reported to its call (once); any other Stream is left alone.
 */
export function onStreamFromResponse(response: unknown, stream: unknown): void {
  if (response === null || typeof response !== 'object') return;
  const report = helperParsed.get(response);
  if (!report) return;
  helperParsed.delete(response);
  report(stream);
}

/**
 * A promise that rejects with `err` when it is read, shaped like an APIPromise (`withResponse`,
 * `asResponse`, `parse`, `_thenUnwrap`): SDK helpers chaining on create() (Anthropic's MessageStream
 * awaits `create(...).withResponse()`) and another instrumentation wrapping tokenledger's patch
 * (OpenLLMetry derives its result with `_thenUnwrap`) surface our error rather than a TypeError.
 * As an APIPromise, it rejects only when read, so one that is derived from and never awaited is no
 * unhandled rejection.
 */
export function rejectedAPIPromise(err: Error): Promise<never> {
  return new RejectedAPIPromise(err);
}

/** A Promise subclass (as APIPromise is), so that `await` reads it through `then`. */
class RejectedAPIPromise extends Promise<never> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  constructor(private readonly error: Error) {
    super((resolve) => resolve(undefined as never));
  }

  private rejected(): Promise<never> {
    return Promise.reject(this.error);
  }

  override then<A = never, B = never>(
    onFulfilled?: ((value: never) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.rejected().then(onFulfilled, onRejected);
  }

  override catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<B> {
    return this.rejected().catch(onRejected);
  }

  override finally(onFinally?: (() => void) | null): Promise<never> {
    return this.rejected().finally(onFinally);
  }

  withResponse(): Promise<never> {
    return this.rejected();
  }

  asResponse(): Promise<never> {
    return this.rejected();
  }

  parse(): Promise<never> {
    return this.rejected();
  }

  _thenUnwrap(): Promise<never> {
    return new RejectedAPIPromise(this.error);
  }
}

/**
 * The stream endings of a call on an APIPromise whose Stream is observed (`streamObj`): what was
 * collected is set before the span ends, including on an error mid-stream (tokens consumed before it
 * are still billed); a stream that ran out after the SDK's controller was aborted was aborted.
 */
export abstract class APIPromiseStreamCall extends CallSpan implements APIPromiseCall, StreamObserver {
  parseStarted = false;
  /** The observed Stream of a streaming call. */
  protected streamObj: AnyRecord | undefined;

  abstract onParsed(value: unknown): unknown;
  abstract onItem(item: unknown): boolean | void;
  /** Sets what the call collected (response id, model, finish reasons, usage) on the span. */
  protected abstract setCollectedAttributes(): void;
  /** A stream ran out normally: the last say before the span ends. */
  protected onStreamCompleted(): void {}

  /** The app only took the raw Response (`.asResponse()`): end without usage, the body is the app's. */
  onRawResponse(): void {
    if (!this.parseStarted) this.end();
  }

  override fail(err: unknown): void {
    if (this.isEnded) return;
    try {
      if (this.streamObj) this.setCollectedAttributes();
    } catch {
      // ignore
    }
    super.fail(err);
  }

  /** Reading the stream failed. */
  onError(err: unknown): void {
    this.fail(err);
  }

  /** The stream ran out; the SDK ends it quietly when its controller was aborted. */
  onDone(): void {
    if (this.isEnded) return;
    try {
      this.setCollectedAttributes();
      if (this.streamObj?.controller?.signal?.aborted === true) return this.aborted();
      this.onStreamCompleted();
    } catch {
      // ignore
    }
    this.end();
  }

  /** The app stopped iterating early (break, return, exception in its loop). */
  onCancel(): void {
    if (this.isEnded) return;
    try {
      this.setCollectedAttributes();
    } catch {
      // ignore
    }
    this.cancelled();
  }
}

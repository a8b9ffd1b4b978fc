/**
 * A provider call whose SDK method returns a plain promise (Google Gen AI, Mistral): the promise
 * resolves to the response, or to the stream object for a streaming call. The app gets the SDK's own
 * promise; the call observes it on a branch.
 */
import type { Context, Span } from '@opentelemetry/api';
import { callSdk, observeSettled } from './sdk-call';
import { CallSpan } from './call-span';
import type { ErrorReader } from './errors';
import type { StreamObserver } from './observed-iterator';

type Method = (this: unknown, ...args: unknown[]) => unknown;
type AnyRecord = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export abstract class ResolvedCall extends CallSpan implements StreamObserver {
  constructor(
    span: Span,
    errors: ErrorReader,
    /** The method returns a stream (else a response). */
    private readonly streaming: boolean,
    /** The app's AbortSignal: a stream that ends after it fired was aborted. */
    private readonly abortSignal: AbortSignal | undefined,
  ) {
    super(span, errors);
  }

  /** The resolved value of the patched method; returned unchanged. */
  onResolved(value: unknown): unknown {
    try {
      if (value === null || typeof value !== 'object') this.end();
      else if (this.streaming) this.observeStream(value as AnyRecord);
      else this.onResponse(value as AnyRecord);
    } catch {
      this.end();
    }
    return value;
  }

  /** A whole response: set its attributes and end. */
  protected abstract onResponse(response: AnyRecord): void;
  /** A stream object: observe it in place (or end when it cannot be). */
  protected abstract observeStream(stream: AnyRecord): void;
  /** Sets what the stream's items said on the span. */
  protected abstract setCollected(): void;
  abstract onItem(item: unknown): void;

  onDone(): void {
    this.setCollected();
    if (this.abortSignal?.aborted === true) this.aborted();
    else this.end();
  }

  onCancel(): void {
    this.setCollected();
    this.cancelled();
  }

  onError(err: unknown): void {
    this.setCollected();
    this.fail(err);
  }
}

/**
 * Calls the SDK's `original` and observes its promise for `call`; the app gets the SDK's own
 * result or exception. `sdkParent`: see callSdk.
 */
export function callResolved(
  original: Method,
  self: unknown,
  args: unknown[],
  call: ResolvedCall,
  sdkParent?: Context,
): unknown {
  const result = callSdk(original, self, args, call, sdkParent);
  // The app gets the SDK's own promise.
  observeSettled(
    result,
    (v) => call.onResolved(v),
    (err) => call.fail(err),
  );
  return result;
}

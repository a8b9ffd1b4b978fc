/**
 * How every patch calls the SDK method it wraps, once its call span is started.
 */
import { context, type Context } from '@opentelemetry/api';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Calls `original`; a synchronous throw fails `call` and reaches the app unchanged. Run inside
 * `sdkParent` only when given: entering a context turns on AsyncLocalStorage's promise hooks for the
 * whole process, so only an SDK that records its own span (and enters a context anyway) gets one.
 */
export function callSdk(
  original: Method,
  self: unknown,
  args: unknown[],
  call: { fail(err: unknown): void },
  sdkParent: Context | undefined,
): unknown {
  try {
    return sdkParent ? context.with(sdkParent, () => original.apply(self, args)) : original.apply(self, args);
  } catch (err) {
    call.fail(err);
    throw err;
  }
}

/**
 * Hands what `value` resolves to to `onValue` (or its rejection to `onError`), observed on a branch
 * so the caller can give the app `value` itself; a value that is not a promise goes to `onValue` now.
 */
export function observeSettled(
  value: unknown,
  onValue: (v: unknown) => unknown,
  onError: (err: unknown) => void,
): void {
  if (value !== null && typeof (value as Promise<unknown>)?.then === 'function') {
    (value as Promise<unknown>).then(onValue, onError);
  } else {
    onValue(value);
  }
}

/**
 * How tokenledger patches an SDK method so that it coexists with other instrumentations of the same
 * method (the official instrumentation-openai, OpenLLMetry, OpenLIT, ...), in either load order.
 *
 * OpenTelemetry's `InstrumentationBase._wrap` first unwraps a method that is already wrapped (marked
 * `__wrapped` / `__original` / `__unwrap`, shimmer's marks), so whichever instrumentation loads last
 * would remove the other. tokenledger's wrapper therefore chains instead:
 *   - it wraps whatever is there, another instrumentation's wrapper included;
 *   - it does not carry shimmer's `__original` / `__unwrap`, so an instrumentation loading later
 *     wraps it in turn instead of unwrapping it (its "original" is then tokenledger's wrapper, which
 *     calls the SDK's);
 *   - it is recognised by a symbol of its own, so tokenledger never wraps a method twice, and
 *     unpatching restores the method only while tokenledger's wrapper is still the outermost.
 */

type Method = (...args: unknown[]) => unknown;
type Target = Record<PropertyKey, unknown>;

/** On tokenledger's wrappers: the function it wraps. */
const WRAPPED = Symbol.for('tokenledger.wrapped');

interface Marked {
  [WRAPPED]?: Method;
  __original?: unknown;
}

/** The function `fn` wraps: tokenledger's, or shimmer's `__original`. */
function inner(fn: Marked): Method | undefined {
  const next = fn[WRAPPED] ?? fn.__original;
  return typeof next === 'function' ? (next as Method) : undefined;
}

/** Whether tokenledger's wrapper is in the chain of wrappers that is `fn`. */
export function isPatchedByTokenledger(fn: unknown): boolean {
  let current = fn as Marked | undefined;
  for (let depth = 0; typeof current === 'function' && depth < 16; depth++) {
    if ((current as Marked)[WRAPPED] !== undefined) return true;
    current = inner(current as Marked) as Marked | undefined;
  }
  return false;
}

/** Whether `fn` is another instrumentation's wrapper (shimmer's marks). */
export function isForeignWrapper(fn: unknown): boolean {
  return typeof fn === 'function' && typeof (fn as Marked).__original === 'function';
}

/**
 * Wraps `target[name]` with `wrapper(current)`, chaining on whatever is there. False when there is
 * no such method, or `target`'s own is already wrapped by tokenledger.
 */
export function wrapMethod(
  target: object,
  name: PropertyKey,
  wrapper: (original: Method) => Method,
): boolean {
  const t = target as Target;
  const current = t[name];
  if (typeof current !== 'function') return false;
  // The require and import hooks can both reach one build: wrap once. (An inherited method is
  // wrapped on `target` all the same, as it was before.)
  if (Object.prototype.hasOwnProperty.call(target, name) && isPatchedByTokenledger(current)) return false;
  const wrapped = wrapper(current as Method);
  Object.defineProperty(wrapped, WRAPPED, { value: current });
  // `__wrapped` alone tells a reader the method is instrumented; OpenTelemetry's `isWrapped` (what
  // `_wrap` checks before unwrapping) needs `__original` and `__unwrap` too, which are left off.
  Object.defineProperty(wrapped, '__wrapped', { value: true });
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: descriptor?.enumerable ?? false,
    writable: true,
    value: wrapped,
  });
  return true;
}

/** Restores `target[name]` when tokenledger's wrapper is the outermost (else leaves the chain alone). */
export function unwrapMethod(target: object, name: PropertyKey): void {
  const t = target as Target;
  const current = t[name] as Marked | undefined;
  if (typeof current !== 'function' || !Object.prototype.hasOwnProperty.call(target, name)) return;
  const original = current[WRAPPED];
  if (original === undefined) return;
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: false,
    writable: true,
    value: original,
  });
}

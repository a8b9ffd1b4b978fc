/**
 * How a call whose guard verdict is pending still returns the SDK's own value at once.
 *
 * The Stainless-generated SDKs (openai, @anthropic-ai/sdk) build the APIPromise they return in
 * `client.request(options)`, synchronously inside the resource method; `options` may be a promise,
 * which `makeRequest` awaits before it builds the HTTP request. So the method is called as usual,
 * with `client.request` shadowed for the length of that synchronous call: the request's options go
 * behind the verdict. The app gets the SDK's own APIPromise (`instanceof`, `.withResponse()`,
 * `.asResponse()`, streams) and nothing is sent until the verdict resolves; a block rejects it with
 * the PolicyError, unsent. The SDK's retries call `makeRequest` with the resolved options: they do
 * not wait again.
 */
type AnyRecord = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs `run()` (the SDK method) with the first `client.request(options)` it makes given
 * `defer(options)` instead. `deferred` is false when the SDK made no such call synchronously (a
 * layout this does not know): the request then went out as it was.
 */
export function callWithDeferredRequest(
  client: unknown,
  defer: (options: unknown) => Promise<unknown>,
  run: () => unknown,
): { result: unknown; deferred: boolean } {
  const c = client as AnyRecord | null | undefined;
  const request = c?.request as Method | undefined;
  if (c === null || typeof c !== 'object' || typeof request !== 'function') {
    return { result: run(), deferred: false };
  }
  const own = Object.getOwnPropertyDescriptor(c, 'request');
  let deferred = false;
  const restore = (): void => {
    if (own) Object.defineProperty(c, 'request', own);
    else delete c.request;
  };
  c.request = function (this: unknown, options: unknown, ...rest: unknown[]): unknown {
    restore();
    deferred = true;
    return request.call(this, defer(options), ...rest);
  };
  try {
    return { result: run(), deferred };
  } finally {
    if (!deferred) restore();
  }
}

/** `options` (or the promise of them) once `verdict` resolved, changed by `apply`; rejects as `verdict` does. */
export function optionsAfter<V>(
  options: unknown,
  verdict: Promise<V>,
  apply: (options: AnyRecord, verdict: V) => unknown,
): Promise<unknown> {
  return Promise.all([options, verdict]).then(([o, v]) =>
    o !== null && typeof o === 'object' ? apply(o as AnyRecord, v) : o,
  );
}

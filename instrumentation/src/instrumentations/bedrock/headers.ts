/**
 * InvokeModel answers its token counts in `x-amzn-bedrock-*` response headers, which the SDK does
 * not put on the command output. A small middleware on each instrumented client keeps those
 * headers per output object (a WeakMap: nothing is added to what the app receives).
 */
import type { AnyRecord } from './usage';

const HEADER_PREFIX = 'x-amzn-bedrock-';
const MIDDLEWARE_NAME = 'tokenledgerBedrockUsageHeaders';

const headersByOutput = new WeakMap<object, Record<string, string>>();
const clientsWithMiddleware = new WeakSet<object>();

type Handler = (args: unknown) => Promise<AnyRecord>;

function captureHeaders(next: Handler): Handler {
  return async (args) => {
    const result = await next(args);
    try {
      const headers = result?.response?.headers as Record<string, unknown> | undefined;
      const output = result?.output as object | undefined;
      if (headers && output && typeof output === 'object') {
        let kept: Record<string, string> | undefined;
        for (const name of Object.keys(headers)) {
          const lower = name.toLowerCase();
          const value = headers[name];
          if (lower.startsWith(HEADER_PREFIX) && typeof value === 'string') (kept ??= {})[lower] = value;
        }
        if (kept) headersByOutput.set(output, kept);
      }
    } catch {
      // never throw into the app
    }
    return result;
  };
}

/** Adds the header-keeping middleware to a client once. */
export function ensureHeaderCapture(client: unknown): void {
  if (client === null || typeof client !== 'object' || clientsWithMiddleware.has(client)) return;
  clientsWithMiddleware.add(client);
  try {
    const stack = (client as AnyRecord).middlewareStack;
    if (stack && typeof stack.add === 'function') {
      stack.add(captureHeaders, { step: 'build', name: MIDDLEWARE_NAME, override: true });
    }
  } catch {
    // no headers then: usage still comes from the body
  }
}

/** The `x-amzn-bedrock-*` headers (lowercase names) that came with this output, if any. */
export function usageHeaders(output: unknown): Record<string, string> | undefined {
  return output !== null && typeof output === 'object' ? headersByOutput.get(output) : undefined;
}

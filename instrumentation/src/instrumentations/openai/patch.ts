/**
 * The wrapper around each patched `create(body, options)`.
 *
 * The app's return value stays what the SDK returned: the same APIPromise object (so
 * `.withResponse()`, `.asResponse()`, `_thenUnwrap` chains keep working) and the same Stream object.
 * Observation points on that APIPromise:
 *   - `responsePromise` rejection: HTTP errors (after the SDK's retries), network errors, aborts;
 *   - its own `parseResponse` (replaced on the instance, called by parse(), withResponse() and
 *     every `_thenUnwrap` derived from it): the parsed body, or the Stream, whose `iterator` is
 *     wrapped (Symbol.asyncIterator, tee() and toReadableStream() all use it);
 *   - `asResponse()` without parsing: the span ends with what the request said.
 */
import { context, SpanKind, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { OpenAICall } from './call';
import { runGuard } from '../shared/guarded';
import { ATTR_GEN_AI_PROVIDER_NAME } from '../../semconv';
import {
  bodyWithStreamUsage,
  bodyWithVerdict,
  OpenAIOperation,
  operationName,
  requestAttributes,
  requestedMaxTokens,
  serverInfo,
  spanName,
  type AnyRecord,
} from './utils';

export interface PatchOptions {
  tracer: () => Tracer;
  injectStreamUsage: boolean;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function createPatchedMethod(original: Method, op: OpenAIOperation, options: PatchOptions): Method {
  return function patchedCreate(this: unknown, ...args: unknown[]): unknown {
    let call: OpenAICall | undefined;
    let callArgs = args;
    try {
      const body = args[0] as AnyRecord | undefined;
      if (body !== null && typeof body === 'object') {
        const parent = context.active();
        const attributes = requestAttributes(op, body, serverInfo((this as AnyRecord | undefined)?._client));
        addAttributionAttributes(parent, attributes);
        const span = options
          .tracer()
          .startSpan(spanName(op, body), { kind: SpanKind.CLIENT, attributes }, parent);
        const guarded = runGuard(
          span,
          attributes[ATTR_GEN_AI_PROVIDER_NAME] as string,
          operationName(op),
          typeof body.model === 'string' ? body.model : undefined,
          requestedMaxTokens(op, body),
          attributes,
        );
        // Blocked by policy: the request never leaves; the app gets the error as a rejected promise.
        if (guarded.blocked) return Promise.reject(guarded.blocked);
        let sent = guarded.verdict ? bodyWithVerdict(op, body, guarded.verdict) : body;
        if (span.isRecording()) {
          let injected = false;
          if (op === OpenAIOperation.ChatCompletions && options.injectStreamUsage) {
            const replaced = bodyWithStreamUsage(sent);
            if (replaced) {
              sent = replaced;
              injected = true;
            }
          }
          call = new OpenAICall(span, op, body.stream === true, injected);
        } else {
          span.end();
        }
        if (sent !== body) {
          callArgs = args.slice();
          callArgs[0] = sent;
        }
      }
    } catch {
      call = undefined;
      callArgs = args;
    }
    if (!call) return original.apply(this, callArgs);

    let result: unknown;
    try {
      // Not run inside context.with(span): tokenledger records no child spans, and entering a context
      // makes AsyncLocalStorage enable its promise hooks, which then tax every promise of the process.
      result = original.apply(this, callArgs);
    } catch (err) {
      call.fail(err);
      throw err;
    }
    try {
      observe(result, call);
    } catch {
      // never throw into the app
    }
    return result;
  };
}

function observe(result: unknown, call: OpenAICall): void {
  if (result === null || typeof result !== 'object') {
    call.onParsed(result);
    return;
  }
  const p = result as AnyRecord;
  const responsePromise = p.responsePromise as Promise<unknown> | undefined;
  const parseResponse = p.parseResponse as Method | undefined;
  if (typeof parseResponse === 'function' && responsePromise && typeof responsePromise.then === 'function') {
    // APIPromise (openai 4.x–7.x).
    responsePromise.then(undefined, (err: unknown) => call.fail(err));
    p.parseResponse = function (this: unknown, ...a: unknown[]): unknown {
      call.parseStarted = true;
      let out: unknown;
      try {
        out = parseResponse.apply(this, a);
      } catch (err) {
        call.fail(err);
        throw err;
      }
      return Promise.resolve(out).then(
        (v) => call.onParsed(v),
        (err: unknown) => {
          call.fail(err);
          throw err;
        },
      );
    };
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

/**
 * The wrapper around each patched `create(body, options)`. The app's return value stays what the
 * SDK returned (the same APIPromise and Stream objects); how the APIPromise is observed is in
 * ../shared/api-promise.ts, and the Stream's `iterator` is wrapped (Symbol.asyncIterator, tee() and
 * toReadableStream() all use it). A verdict the guard gives only after a wait goes into the
 * request's options (../shared/deferred-request.ts): the app still gets the SDK's APIPromise at once.
 */
import { context, diag, SpanKind, trace, type Context, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import type { GuardVerdict } from '../../guard/hook';
import { OpenAICall } from './call';
import { callObserved, rejectedAPIPromise } from '../shared/api-promise';
import { callWithDeferredRequest, optionsAfter } from '../shared/deferred-request';
import { runGuard } from '../shared/guarded';
import { isForeignWrapper } from '../shared/wrap';
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
  // Wrapping another instrumentation's wrapper (it loaded first): its span is made a child of ours,
  // so the collector sees one call in one trace (decision 0024's rule, for the same reason).
  const parentsAnother = isForeignWrapper(original);
  return function patchedCreate(this: unknown, ...args: unknown[]): unknown {
    let call: OpenAICall | undefined;
    let callArgs = args;
    let pending: Promise<GuardVerdict | undefined> | undefined;
    let sdkParent: Context | undefined;
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
        // Blocked by policy: the request never leaves; the app gets the error as a rejected promise
        // that also answers the APIPromise helpers (`.withResponse()`, `.asResponse()`).
        if (guarded.blocked) return rejectedAPIPromise(guarded.blocked);
        pending = guarded.pending;
        let sent = guarded.verdict ? bodyWithVerdict(op, body, guarded.verdict) : body;
        let injected = false;
        if (span.isRecording() && op === OpenAIOperation.ChatCompletions && options.injectStreamUsage) {
          const replaced = bodyWithStreamUsage(sent);
          if (replaced) {
            sent = replaced;
            injected = true;
          }
        }
        const background = op === OpenAIOperation.Responses && body.background === true;
        // A pending verdict ends the span itself when it blocks: the call must exist to do so.
        if (span.isRecording() || pending) {
          call = new OpenAICall(span, op, body.stream === true, injected, background);
          if (parentsAnother) sdkParent = trace.setSpan(parent, span);
        } else span.end();
        if (sent !== body) {
          callArgs = args.slice();
          callArgs[0] = sent;
        }
      }
    } catch {
      call = undefined;
      callArgs = args;
      pending = undefined;
    }
    if (!call) return original.apply(this, callArgs);
    if (!pending) {
      // Not run inside context.with(span) unless another instrumentation is below: tokenledger records
      // no child spans (see callObserved).
      return callObserved(original, this, callArgs, call, sdkParent);
    }
    const verdict = pending;
    const client = (this as AnyRecord | undefined)?._client;
    const { result, deferred } = callWithDeferredRequest(
      client,
      (opts) =>
        optionsAfter(opts, verdict, (o, v) =>
          v && o.body !== null && typeof o.body === 'object'
            ? { ...o, body: bodyWithVerdict(op, o.body, v) }
            : o,
        ),
      () => callObserved(original, this, callArgs, call, sdkParent),
    );
    if (!deferred)
      diag.debug('tokenledger: openai request options could not wait for the guard; sent unchanged');
    return result;
  };
}

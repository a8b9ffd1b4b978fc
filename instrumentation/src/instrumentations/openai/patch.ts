/**
 * The wrapper around each patched `create(body, options)`. The app's return value stays what the
 * SDK returned (the same APIPromise and Stream objects); how the APIPromise is observed is in
 * ../shared/api-promise.ts, and the Stream's `iterator` is wrapped (Symbol.asyncIterator, tee() and
 * toReadableStream() all use it).
 */
import { context, SpanKind, trace, type Context, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { OpenAICall } from './call';
import { callObserved, rejectedAPIPromise } from '../shared/api-promise';
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
          const background = op === OpenAIOperation.Responses && body.background === true;
          call = new OpenAICall(span, op, body.stream === true, injected, background);
          if (parentsAnother) sdkParent = trace.setSpan(parent, span);
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

    // Not run inside context.with(span) unless another instrumentation is below: tokenledger records
    // no child spans (see callObserved).
    return callObserved(original, this, callArgs, call, sdkParent);
  };
}

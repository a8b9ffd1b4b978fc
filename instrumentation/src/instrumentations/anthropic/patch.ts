/**
 * The wrapper around `Messages.prototype.create(params, options)`; `messages.stream()` (the
 * MessageStream helper) calls it too, with `stream: true`, so each API call is counted once.
 *
 * The app gets what the SDK returned: the same APIPromise, observed as ../shared/api-promise.ts
 * describes (the Stream's `iterator` is wrapped), and the same Stream.
 *
 * The SDK's own OpenTelemetry spans (on by default in recent versions) describe the same request;
 * ours is made their parent, or their child for the MessageStream helper, which starts its span
 * before calling create, so the collector sees one call, not two. A verdict the guard gives only
 * after a wait goes into the request's options (../shared/deferred-request.ts).
 */
import { context, diag, SpanKind, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import type { GuardVerdict } from '../../guard/hook';
import { callObserved, rejectedAPIPromise } from '../shared/api-promise';
import { callWithDeferredRequest, optionsAfter } from '../shared/deferred-request';
import { runGuard } from '../shared/guarded';
import { GEN_AI_OPERATION_CHAT, GEN_AI_PROVIDER_ANTHROPIC } from '../../semconv';
import { AnthropicCall } from './call';
import { bodyWithVerdict, requestAttributes, serverInfo, spanName, type AnyRecord } from './usage';

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function createPatchedCreate(original: Method, tracer: () => Tracer): Method {
  return function patchedCreate(this: unknown, ...args: unknown[]): unknown {
    let call: AnthropicCall | undefined;
    let callArgs = args;
    let sdkParent: Context | undefined;
    let pending: Promise<GuardVerdict | undefined> | undefined;
    try {
      const body = args[0] as AnyRecord | undefined;
      if (body !== null && typeof body === 'object') {
        const parent = context.active();
        const client = (this as AnyRecord | undefined)?._client as AnyRecord | undefined;
        const attributes = requestAttributes(body, serverInfo(client));
        addAttributionAttributes(parent, attributes);
        const helperSpan = sdkHelperSpan(args[1]);
        const spanParent = helperSpan ? trace.setSpan(parent, helperSpan) : parent;
        const span = tracer().startSpan(spanName(body), { kind: SpanKind.CLIENT, attributes }, spanParent);
        const guarded = runGuard(
          span,
          GEN_AI_PROVIDER_ANTHROPIC,
          GEN_AI_OPERATION_CHAT,
          typeof body.model === 'string' ? body.model : undefined,
          typeof body.max_tokens === 'number' ? body.max_tokens : undefined,
          attributes,
        );
        // Blocked by policy: the request never leaves; the app gets the error as a rejected promise.
        if (guarded.blocked) return rejectedAPIPromise(guarded.blocked);
        pending = guarded.pending;
        const sent = bodyWithVerdict(body, guarded.verdict);
        if (sent !== body) {
          callArgs = args.slice();
          callArgs[0] = sent;
        }
        // A pending verdict ends the span itself when it blocks: the call must exist to do so.
        if (span.isRecording() || pending) {
          call = new AnthropicCall(span, body.stream === true);
          // The SDK starts its own call span inside create() when its tracing is on: as our child.
          if (!helperSpan && client?._tracer) sdkParent = trace.setSpan(parent, span);
        } else {
          span.end();
        }
      }
    } catch {
      call = undefined;
      callArgs = args;
      sdkParent = undefined;
      pending = undefined;
    }
    if (!call) return original.apply(this, callArgs);
    // Our span is made active only for the SDK's own tracing (see callObserved).
    if (!pending) return callObserved(original, this, callArgs, call, sdkParent);
    const verdict = pending;
    const { result, deferred } = callWithDeferredRequest(
      (this as AnyRecord | undefined)?._client,
      (opts) =>
        optionsAfter(opts, verdict, (o, v) =>
          v && o.body !== null && typeof o.body === 'object' ? { ...o, body: bodyWithVerdict(o.body, v) } : o,
        ),
      () => callObserved(original, this, callArgs, call, sdkParent),
    );
    if (!deferred)
      diag.debug('tokenledger: anthropic request options could not wait for the guard; sent unchanged');
    return result;
  };
}

/** The span the SDK's MessageStream helper started and hands to create() as `options.__span`. */
function sdkHelperSpan(options: unknown): Span | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const span = (options as AnyRecord).__span?.span;
  return span && typeof span.spanContext === 'function' ? span : undefined;
}

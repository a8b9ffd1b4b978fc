/**
 * The wrapper around `Messages.prototype.create(params, options)`; `messages.stream()` (the
 * MessageStream helper) calls it too, with `stream: true`, so each API call is counted once.
 *
 * The app gets what the SDK returned: the same APIPromise, observed as ../shared/api-promise.ts
 * describes (the Stream's `iterator` is wrapped), and the same Stream.
 *
 * The SDK's own OpenTelemetry spans (on by default in recent versions) describe the same request;
 * ours is made their parent, or their child for the MessageStream helper, which starts its span
 * before calling create, so the collector sees one call, not two.
 */
import { context, SpanKind, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { callObserved, rejectedAPIPromise } from '../shared/api-promise';
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
        const sent = bodyWithVerdict(body, guarded.verdict);
        if (sent !== body) {
          callArgs = args.slice();
          callArgs[0] = sent;
        }
        if (span.isRecording()) {
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
    }
    if (!call) return original.apply(this, callArgs);

    // Our span is made active only for the SDK's own tracing (see callObserved).
    return callObserved(original, this, callArgs, call, sdkParent);
  };
}

/** The span the SDK's MessageStream helper started and hands to create() as `options.__span`. */
function sdkHelperSpan(options: unknown): Span | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const span = (options as AnyRecord).__span?.span;
  return span && typeof span.spanContext === 'function' ? span : undefined;
}

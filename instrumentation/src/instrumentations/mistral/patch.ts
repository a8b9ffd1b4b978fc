/**
 * The wrapper around each patched Mistral SDK method (`chat.complete(request, options)`,
 * `chat.stream(...)`, `embeddings.create(...)`). The promise and the EventStream the SDK returns
 * reach the app unchanged; a verdict the guard gives only after a wait delays the call.
 */
import { context, SpanKind, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import type { GuardVerdict } from '../../guard/hook';
import { GEN_AI_PROVIDER_MISTRAL_AI } from '../../semconv';
import { afterVerdict, runGuard, type GuardOutcome } from '../shared/guarded';
import { callResolved } from '../shared/resolved-call';
import { MistralCall } from './call';
import { sdkTracingOn, telemetryEnvIsGlobal } from './sdk-tracing';
import {
  MistralOperation,
  operationName,
  requestAttributes,
  requestedMaxTokens,
  requestedModel,
  requestWithVerdict,
  serverInfo,
  spanName,
  type AnyRecord,
} from './utils';

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function createPatchedMethod(original: Method, op: MistralOperation, tracer: () => Tracer): Method {
  const envGlobal = telemetryEnvIsGlobal();
  return function patchedMistralMethod(this: unknown, ...args: unknown[]): unknown {
    let proceed: ((verdict: GuardVerdict | undefined) => unknown) | undefined;
    let guarded: GuardOutcome | undefined;
    let span: Span | undefined;
    try {
      const request = args[0] as AnyRecord | undefined;
      if (request !== null && typeof request === 'object') {
        const parent = context.active();
        const attributes = requestAttributes(op, request, serverInfo(this));
        addAttributionAttributes(parent, attributes);
        const s = tracer().startSpan(spanName(op, request), { kind: SpanKind.CLIENT, attributes }, parent);
        span = s;
        guarded = runGuard(
          s,
          GEN_AI_PROVIDER_MISTRAL_AI,
          operationName(op),
          requestedModel(request),
          requestedMaxTokens(op, request),
          attributes,
        );
        // Blocked by policy: no request; the app's complete() / stream() / create() rejects.
        if (guarded.blocked) return Promise.reject(guarded.blocked);
        proceed = (verdict) => {
          let callArgs = args;
          let call: MistralCall | undefined;
          let sdkParent: Context | undefined;
          try {
            const sent = verdict ? requestWithVerdict(op, request, verdict) : request;
            if (sent !== request) {
              callArgs = args.slice();
              callArgs[0] = sent;
            }
            if (s.isRecording()) {
              call = new MistralCall(s, op, abortSignalOf(args[1]));
              if (sdkTracingOn(this, envGlobal)) sdkParent = trace.setSpan(parent, s);
            } else {
              s.end();
            }
          } catch {
            call = undefined;
          }
          if (!call) return original.apply(this, callArgs);
          // Inside our span's context only when the SDK records its own span (see ./sdk-tracing.ts).
          return callResolved(original, this, callArgs, call, sdkParent);
        };
      }
    } catch {
      proceed = undefined;
    }
    if (!proceed || !guarded || !span) return original.apply(this, args);
    // The methods return a promise: after a pending verdict, the same promise comes later.
    if (guarded.pending) return afterVerdict(guarded.pending, span, proceed);
    return proceed(guarded.verdict);
  };
}

/** The AbortSignal of the SDK's per-call options (`signal`, or `fetchOptions.signal`). */
function abortSignalOf(options: unknown): AbortSignal | undefined {
  const o = options as AnyRecord | undefined;
  const signal = o?.signal ?? o?.fetchOptions?.signal;
  return signal !== null && typeof signal === 'object' ? (signal as AbortSignal) : undefined;
}

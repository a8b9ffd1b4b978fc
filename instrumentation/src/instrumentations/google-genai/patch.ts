/**
 * The wrapper around each patched `Models` method (`generateContentInternal(params)` and friends).
 * Those are the methods that send exactly one HTTP request: the public `generateContent` /
 * `generateContentStream` / `embedContent` are per-instance arrow functions that call them (once,
 * or several times for automatic function calling and automatic continuation), so every request
 * gets its own span. The promise and the stream object the SDK returns reach the app unchanged; a
 * verdict the guard gives only after a wait delays the call, and the promise it returns.
 */
import { context, SpanKind, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import type { GuardVerdict } from '../../guard/hook';
import { afterVerdict, runGuard, type GuardOutcome } from '../shared/guarded';
import { callResolved } from '../shared/resolved-call';
import { ATTR_GEN_AI_PROVIDER_NAME } from '../../semconv';
import { GeminiCall } from './call';
import {
  GeminiOperation,
  operationName,
  paramsWithVerdict,
  requestAttributes,
  requestedMaxTokens,
  requestedModel,
  serverInfo,
  spanName,
  type AnyRecord,
  type ServerInfo,
} from './utils';

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function createPatchedMethod(original: Method, op: GeminiOperation, tracer: () => Tracer): Method {
  return function patchedModelsMethod(this: unknown, ...args: unknown[]): unknown {
    let proceed: ((verdict: GuardVerdict | undefined) => unknown) | undefined;
    let guarded: GuardOutcome | undefined;
    let span: Span | undefined;
    try {
      const params = args[0] as AnyRecord | undefined;
      if (params !== null && typeof params === 'object') {
        const parent = context.active();
        const attributes = requestAttributes(op, params, serverOf(this));
        addAttributionAttributes(parent, attributes);
        const s = tracer().startSpan(spanName(op, params), { kind: SpanKind.CLIENT, attributes }, parent);
        span = s;
        guarded = runGuard(
          s,
          attributes[ATTR_GEN_AI_PROVIDER_NAME] as string,
          operationName(op),
          requestedModel(params),
          requestedMaxTokens(op, params),
          attributes,
        );
        // Blocked by policy: no request; the app's generateContent() rejects with the policy error.
        if (guarded.blocked) return Promise.reject(guarded.blocked);
        proceed = (verdict) => {
          let callArgs = args;
          let call: GeminiCall | undefined;
          try {
            const sent = verdict ? paramsWithVerdict(op, params, verdict) : params;
            if (sent !== params) {
              callArgs = args.slice();
              callArgs[0] = sent;
            }
            if (s.isRecording()) call = new GeminiCall(s, op, abortSignalOf(sent));
            else s.end();
          } catch {
            call = undefined;
          }
          if (!call) return original.apply(this, callArgs);
          return callResolved(original, this, callArgs, call);
        };
      }
    } catch {
      proceed = undefined;
    }
    if (!proceed || !guarded || !span) return original.apply(this, args);
    // The method returns a promise: after a pending verdict, the same promise comes later.
    if (guarded.pending) return afterVerdict(guarded.pending, span, proceed);
    return proceed(guarded.verdict);
  };
}

/** Server and provider of the `Models` instance's ApiClient, cached per client. */
const serverCache = new WeakMap<object, ServerInfo>();

function serverOf(models: unknown): ServerInfo {
  const client = (models as AnyRecord | undefined)?.apiClient as object | undefined;
  if (client === null || typeof client !== 'object') return serverInfo(undefined);
  let info = serverCache.get(client);
  if (!info) {
    info = serverInfo(client);
    serverCache.set(client, info);
  }
  return info;
}

function abortSignalOf(params: AnyRecord): AbortSignal | undefined {
  const signal = params.config?.abortSignal;
  return signal !== null && typeof signal === 'object' ? (signal as AbortSignal) : undefined;
}

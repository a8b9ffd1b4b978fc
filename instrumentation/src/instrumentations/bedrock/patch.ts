/**
 * The wrapper around `BedrockRuntimeClient.prototype.send(command, options?, callback?)`.
 *
 * Only the metered commands (./commands.ts) get a span; every other command goes straight through.
 * The app gets what the SDK returned: the same promise (or the same callback call), the same
 * output object; a streamed output keeps its stream object, whose iterator is observed. A verdict
 * the guard gives only after a wait delays the send (and the promise, or the callback).
 */
import { context, SpanKind, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { guardActive, type GuardVerdict } from '../../guard/hook';
import { GEN_AI_PROVIDER_AWS_BEDROCK } from '../../semconv';
import { afterVerdict, runGuard, type GuardOutcome } from '../shared/guarded';
import { callSdk } from '../shared/sdk-call';
import { BedrockCall } from './call';
import {
  commandKind,
  commandWithInput,
  inputWithVerdict,
  modelIdOf,
  operationName,
  requestAttributes,
  requestedMaxTokens,
  spanName,
} from './commands';
import { ensureHeaderCapture } from './headers';
import type { AnyRecord } from './usage';

type Send = (this: unknown, ...args: unknown[]) => unknown;
type Callback = (err: unknown, output?: unknown) => void;

export function createPatchedSend(original: Send, tracer: () => Tracer): Send {
  return function patchedSend(this: unknown, ...args: unknown[]): unknown {
    let proceed: ((verdict: GuardVerdict | undefined) => unknown) | undefined;
    let guarded: GuardOutcome | undefined;
    let span: Span | undefined;
    try {
      const command = args[0];
      const kind = commandKind(command);
      const input = (command as AnyRecord | undefined)?.input as AnyRecord | undefined;
      if (kind !== undefined && input !== null && typeof input === 'object') {
        const parent = context.active();
        const attributes = requestAttributes(kind, input);
        addAttributionAttributes(parent, attributes);
        const s = tracer().startSpan(spanName(kind, input), { kind: SpanKind.CLIENT, attributes }, parent);
        span = s;
        const modelId = modelIdOf(input);
        guarded = runGuard(
          s,
          GEN_AI_PROVIDER_AWS_BEDROCK,
          operationName(kind, modelId),
          modelId,
          // Parsing an InvokeModel body costs: only when a guard will look at it.
          guardActive() ? requestedMaxTokens(kind, input) : undefined,
          attributes,
        );
        // Blocked by policy: the request never leaves; the error reaches the app as the SDK's own would.
        if (guarded.blocked) return rejectBlocked(guarded.blocked, args);
        proceed = (verdict) => {
          let sendArgs = args;
          let call: BedrockCall | undefined;
          try {
            if (verdict) {
              const sent = inputWithVerdict(kind, input, verdict);
              if (sent !== input) {
                sendArgs = args.slice();
                sendArgs[0] = commandWithInput(command as object, sent);
              }
            }
            if (s.isRecording()) {
              ensureHeaderCapture(this);
              call = new BedrockCall(s, kind, abortSignalOf(args[1]));
              const cbIndex = callbackIndex(args);
              if (cbIndex !== undefined) {
                if (sendArgs === args) sendArgs = args.slice();
                sendArgs[cbIndex] = observedCallback(args[cbIndex] as Callback, call);
              }
            } else {
              s.end();
            }
          } catch {
            call = undefined;
            sendArgs = args;
          }
          if (!call) return original.apply(this, sendArgs);
          return sendObserved(original, this, sendArgs, call);
        };
      }
    } catch {
      proceed = undefined;
    }
    if (!proceed || !guarded || !span) return original.apply(this, args);
    if (!guarded.pending) return proceed(guarded.verdict);
    // After a pending verdict: the same promise later, or the callback called later.
    const later = afterVerdict(guarded.pending, span, proceed);
    const i = callbackIndex(args);
    if (i === undefined) return later;
    later.then(undefined, (err: unknown) => (args[i] as Callback)(err));
    return undefined;
  };
}

/** The SDK's send, observed: the app gets its own promise (or callback); a stream is observed before the app reads it. */
function sendObserved(original: Send, self: unknown, sendArgs: unknown[], call: BedrockCall): unknown {
  // Not run inside a span's context: no child spans of ours (see callSdk).
  const result = callSdk(original, self, sendArgs, call, undefined);
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as Promise<unknown>).then === 'function'
  ) {
    // Registered before the app's own handlers, so a stream is observed before the app reads it.
    (result as Promise<unknown>).then(
      (output) => call.onOutput(output),
      (err: unknown) => call.fail(err),
    );
  }
  return result;
}

function callbackIndex(args: unknown[]): number | undefined {
  if (typeof args[1] === 'function') return 1;
  if (typeof args[2] === 'function') return 2;
  return undefined;
}

function observedCallback(cb: Callback, call: BedrockCall): Callback {
  return function (this: unknown, err: unknown, output?: unknown): void {
    if (err) call.fail(err);
    else call.onOutput(output);
    cb.call(this, err, output);
  };
}

function abortSignalOf(options: unknown): AbortSignal | undefined {
  const s = (options as AnyRecord | undefined)?.abortSignal;
  return s !== null && typeof s === 'object' && 'aborted' in s ? (s as AbortSignal) : undefined;
}

/** A blocked call: a rejected promise, or the callback called with the error (asynchronously, as the SDK does). */
function rejectBlocked(err: Error, args: unknown[]): unknown {
  const i = callbackIndex(args);
  if (i === undefined) return Promise.reject(err);
  const cb = args[i] as Callback;
  void Promise.resolve().then(() => cb(err));
  return undefined;
}

/**
 * The wrapper around `BedrockRuntimeClient.prototype.send(command, options?, callback?)`.
 *
 * Only the metered commands (./commands.ts) get a span; every other command goes straight through.
 * The app gets what the SDK returned: the same promise (or the same callback call), the same
 * output object; a streamed output keeps its stream object, whose iterator is observed.
 */
import { context, SpanKind, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
import { guardActive } from '../../guard/hook';
import { GEN_AI_PROVIDER_AWS_BEDROCK } from '../../semconv';
import { runGuard } from '../shared/guarded';
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
    let call: BedrockCall | undefined;
    let sendArgs = args;
    try {
      const command = args[0];
      const kind = commandKind(command);
      const input = (command as AnyRecord | undefined)?.input as AnyRecord | undefined;
      if (kind !== undefined && input !== null && typeof input === 'object') {
        const parent = context.active();
        const attributes = requestAttributes(kind, input);
        addAttributionAttributes(parent, attributes);
        const span = tracer().startSpan(spanName(kind, input), { kind: SpanKind.CLIENT, attributes }, parent);
        const modelId = modelIdOf(input);
        const guarded = runGuard(
          span,
          GEN_AI_PROVIDER_AWS_BEDROCK,
          operationName(kind, modelId),
          modelId,
          // Parsing an InvokeModel body costs: only when a guard will look at it.
          guardActive() ? requestedMaxTokens(kind, input) : undefined,
          attributes,
        );
        // Blocked by policy: the request never leaves; the error reaches the app as the SDK's own would.
        if (guarded.blocked) return rejectBlocked(guarded.blocked, args);
        if (guarded.verdict) {
          const sent = inputWithVerdict(kind, input, guarded.verdict);
          if (sent !== input) {
            sendArgs = args.slice();
            sendArgs[0] = commandWithInput(command as object, sent);
          }
        }
        if (span.isRecording()) {
          ensureHeaderCapture(this);
          call = new BedrockCall(span, kind, abortSignalOf(args[1]));
          const cbIndex = callbackIndex(args);
          if (cbIndex !== undefined) {
            if (sendArgs === args) sendArgs = args.slice();
            sendArgs[cbIndex] = observedCallback(args[cbIndex] as Callback, call);
          }
        } else {
          span.end();
        }
      }
    } catch {
      call = undefined;
      sendArgs = args;
    }
    if (!call) return original.apply(this, sendArgs);

    // Not run inside a span's context: no child spans of ours (see callSdk).
    const result = callSdk(original, this, sendArgs, call, undefined);
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as Promise<unknown>).then === 'function'
    ) {
      const c = call;
      // Registered before the app's own handlers, so a stream is observed before the app reads it.
      (result as Promise<unknown>).then(
        (output) => c.onOutput(output),
        (err: unknown) => c.fail(err),
      );
    }
    return result;
  };
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

/**
 * The wrapper around `Messages.prototype.create(params, options)`; `messages.stream()` (the
 * MessageStream helper) calls it too, with `stream: true`, so each API call is counted once.
 *
 * The app gets what the SDK returned: the same APIPromise (so `.withResponse()`, `.asResponse()`
 * and `_thenUnwrap` chains keep working) and the same Stream. Observation points on the APIPromise:
 *   - `responsePromise` rejection: HTTP errors (after retries), network errors, aborts;
 *   - its own `parseResponse` (replaced on the instance): the Message, or the Stream, whose
 *     `iterator` is wrapped;
 *   - `asResponse()` without parsing: the span ends without usage.
 *
 * The SDK's own OpenTelemetry spans (on by default in recent versions) describe the same request;
 * ours is made their parent, or their child for the MessageStream helper, which starts its span
 * before calling create, so the collector sees one call, not two.
 */
import { context, SpanKind, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { addAttributionAttributes } from '../../attribution';
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

    let result: unknown;
    try {
      // Our span is not made active otherwise: entering a context turns on AsyncLocalStorage's
      // promise hooks for the whole process. An SDK that traces itself enters one anyway.
      result = sdkParent
        ? context.with(sdkParent, () => original.apply(this, callArgs))
        : original.apply(this, callArgs);
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

/** The span the SDK's MessageStream helper started and hands to create() as `options.__span`. */
function sdkHelperSpan(options: unknown): Span | undefined {
  if (options === null || typeof options !== 'object') return undefined;
  const span = (options as AnyRecord).__span?.span;
  return span && typeof span.spanContext === 'function' ? span : undefined;
}

/**
 * A rejected promise shaped enough like an APIPromise (`withResponse`, `asResponse`) that SDK
 * helpers chaining on create() — MessageStream awaits `create(...).withResponse()` — surface our
 * error rather than a TypeError.
 */
function rejectedAPIPromise(err: Error): Promise<never> {
  const p = Promise.reject(err) as Promise<never> & AnyRecord;
  p.withResponse = () => p;
  p.asResponse = () => p;
  return p;
}

function observe(result: unknown, call: AnthropicCall): void {
  if (result === null || typeof result !== 'object') {
    call.onParsed(result);
    return;
  }
  const p = result as AnyRecord;
  const responsePromise = p.responsePromise as Promise<unknown> | undefined;
  const parseResponse = p.parseResponse as Method | undefined;
  if (typeof parseResponse === 'function' && responsePromise && typeof responsePromise.then === 'function') {
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
    (p as Promise<unknown>).then(
      (v) => call.onParsed(v),
      (err: unknown) => call.fail(err),
    );
    return;
  }
  call.onParsed(result);
}

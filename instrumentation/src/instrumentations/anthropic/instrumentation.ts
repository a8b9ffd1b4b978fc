/**
 * Anthropic instrumentation for `@anthropic-ai/sdk`, 0.x (tested on 0.137) and 1.x (tested on 1.12),
 * CommonJS and ESM (the package ships a separate `.mjs` build, whose classes are patched on their own).
 *
 * Patched (prototype methods, shared by every client instance):
 *   Anthropic.Messages.prototype.create                 chat, plain and `stream: true`; also what the
 *                                                       `messages.stream()` helper calls
 *   Anthropic.Beta.Messages.prototype.create            the same for `client.beta.messages`
 *   Anthropic.Messages.Batches.prototype.results        one span per succeeded batch result
 *   Anthropic.Beta.Messages.Batches.prototype.results   the same for beta batches
 *   Stream.fromSSEResponse (core/streaming)              reports the Stream of a turn a message thread
 *                                                       parses on its own (`beta.messages.thread()`
 *                                                       `.stream()`, streaming tool runners)
 * The classes are statics of the exported Anthropic class in both builds.
 */
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { PACKAGE_NAME, VERSION } from '../../version';
import { createPatchedResults } from './batch';
import { createPatchedCreate } from './patch';
import type { AnyRecord } from './usage';
import { callTracer } from '../shared/deferred-span';
import { notInstrumentedWarning } from '../shared/not-instrumented';
import { onStreamFromResponse } from '../shared/api-promise';
import { isPatchedByTokenledger, unwrapMethod, wrapMethod } from '../shared/wrap';

const ANTHROPIC_MODULE = '@anthropic-ai/sdk';
/** Tested on 0.137 and 1.12; older 0.x releases are not verified, so not patched. */
const SUPPORTED_VERSIONS = ['>=0.137.0 <2'];

export interface AnthropicInstrumentationConfig {
  enabled?: boolean;
}

type Method = (...args: unknown[]) => unknown;
type Target = [proto: AnyRecord, method: 'create' | 'results'];

export class AnthropicInstrumentation extends InstrumentationBase<AnthropicInstrumentationConfig> {
  constructor(config: AnthropicInstrumentationConfig = {}) {
    super(`${PACKAGE_NAME}/instrumentation-anthropic`, VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        ANTHROPIC_MODULE,
        SUPPORTED_VERSIONS,
        (moduleExports: unknown) => {
          try {
            this.patch(moduleExports);
          } catch (err) {
            this._diag.error('failed to patch @anthropic-ai/sdk', err);
          }
          return moduleExports;
        },
        (moduleExports: unknown) => {
          try {
            this.unpatch(moduleExports);
          } catch {
            // ignore
          }
        },
        ['js', 'mjs'].map(
          (ext) =>
            new InstrumentationNodeModuleFile(
              `${ANTHROPIC_MODULE}/core/streaming.${ext}`,
              SUPPORTED_VERSIONS,
              (streaming: unknown) => this.patchStreaming(streaming),
              (streaming: unknown) => this.unpatchStreaming(streaming),
            ),
        ),
      ),
      notInstrumentedWarning(ANTHROPIC_MODULE, SUPPORTED_VERSIONS, (m) => this.isPatched(m)),
    ];
  }

  private isPatched(moduleExports: unknown): boolean {
    const targets = this.targets(moduleExports);
    return targets.length > 0 && targets.every(([proto, method]) => isPatchedByTokenledger(proto[method]));
  }

  /** The SDK's Stream class, whose static fromSSEResponse every SSE response goes through. */
  private streamClass(streaming: unknown): AnyRecord | undefined {
    const Stream = (streaming as AnyRecord | undefined)?.Stream as AnyRecord | undefined;
    return typeof Stream?.fromSSEResponse === 'function' ? Stream : undefined;
  }

  private patchStreaming(streaming: unknown): unknown {
    try {
      const Stream = this.streamClass(streaming);
      if (Stream) wrapMethod(Stream, 'fromSSEResponse', (original: Method) => wrapFromSSEResponse(original));
    } catch (err) {
      this._diag.error('failed to patch @anthropic-ai/sdk streaming', err);
    }
    return streaming;
  }

  private unpatchStreaming(streaming: unknown): void {
    const Stream = this.streamClass(streaming);
    if (Stream) unwrapMethod(Stream, 'fromSSEResponse');
  }

  private targets(moduleExports: unknown): Target[] {
    const m = moduleExports as AnyRecord | undefined;
    // CJS exports and the ESM namespace both carry `Anthropic` (and `default`).
    const Anthropic: AnyRecord | undefined = m?.Anthropic ?? m?.default?.Anthropic ?? m?.default;
    const out: Target[] = [];
    const add = (cls: AnyRecord | undefined, method: Target[1]): void => {
      const proto = cls?.prototype as AnyRecord | undefined;
      if (proto && typeof proto[method] === 'function') out.push([proto, method]);
    };
    for (const Messages of [Anthropic?.Messages, Anthropic?.Beta?.Messages]) {
      add(Messages, 'create');
      add(Messages?.Batches, 'results');
    }
    return out;
  }

  private patch(moduleExports: unknown): void {
    const tracer = () => callTracer(this.tracer);
    for (const [proto, method] of this.targets(moduleExports)) {
      wrapMethod(proto, method, (original: Method) =>
        method === 'create'
          ? (createPatchedCreate(original, tracer) as Method)
          : (createPatchedResults(original, tracer) as Method),
      );
    }
  }

  private unpatch(moduleExports: unknown): void {
    for (const [proto, method] of this.targets(moduleExports)) {
      unwrapMethod(proto, method);
    }
  }
}

function wrapFromSSEResponse(original: Method): Method {
  return function fromSSEResponse(this: unknown, ...args: unknown[]): unknown {
    const stream = original.apply(this, args);
    try {
      onStreamFromResponse(args[0], stream);
    } catch {
      // never throw into the app
    }
    return stream;
  };
}

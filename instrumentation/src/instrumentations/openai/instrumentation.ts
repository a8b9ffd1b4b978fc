/**
 * OpenAI instrumentation for the `openai` package, majors 4 to 7 (CommonJS and ESM).
 *
 * Patched (prototype methods, shared by every client instance, incl. AzureOpenAI):
 *   OpenAI.Chat.Completions.prototype.create   chat, plain and `stream: true`
 *   OpenAI.Responses.prototype.create          chat (openai.api.type=responses), plain and streamed
 *   OpenAI.Embeddings.prototype.create         embeddings
 *   OpenAI.Responses.prototype.retrieve/cancel reads of background responses (./background.ts)
 * Majors 4–7 expose these classes as statics of the exported OpenAI class; each create() returns
 * an APIPromise whose `parseResponse` yields the parsed body or a Stream (see ./patch.ts).
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { PACKAGE_NAME, VERSION } from '../../version';
import { envString } from '../../env';
import { createPatchedRead } from './background';
import { createPatchedMethod, type PatchOptions } from './patch';
import { OpenAIOperation, type AnyRecord } from './utils';
import { callTracer } from '../shared/deferred-span';
import { notInstrumentedWarning } from '../shared/not-instrumented';
import { isPatchedByTokenledger, unwrapMethod, wrapMethod } from '../shared/wrap';

const SUPPORTED_VERSIONS = ['>=4 <8'];

export interface OpenAIInstrumentationConfig {
  enabled?: boolean;
  /**
   * Add `stream_options.include_usage` to streamed chat requests that lack it, so the span gets
   * exact token counts (the extra chunk is hidden from the app). Default true; env
   * `TOKENLEDGER_OPENAI_STREAM_USAGE=false` turns it off.
   */
  injectStreamUsage?: boolean;
}

type Method = (...args: unknown[]) => unknown;

/** The Responses methods that read a stored response: where a background response's usage shows up. */
const RESPONSE_READS = ['retrieve', 'cancel'] as const;

export class OpenAIInstrumentation extends InstrumentationBase<OpenAIInstrumentationConfig> {
  constructor(config: OpenAIInstrumentationConfig = {}) {
    super(`${PACKAGE_NAME}/instrumentation-openai`, VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'openai',
        SUPPORTED_VERSIONS,
        (moduleExports: unknown) => {
          try {
            this.patch(moduleExports);
          } catch (err) {
            this._diag.error('failed to patch openai', err);
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
      ),
      notInstrumentedWarning('openai', SUPPORTED_VERSIONS, (m) => this.isPatched(m)),
    ];
  }

  private isPatched(moduleExports: unknown): boolean {
    const targets = this.targets(moduleExports);
    return targets.length > 0 && targets.every(([proto]) => isPatchedByTokenledger(proto.create));
  }

  private options(): PatchOptions {
    const env = envString('TOKENLEDGER_OPENAI_STREAM_USAGE')?.toLowerCase();
    return {
      tracer: () => callTracer(this.tracer),
      injectStreamUsage: this.getConfig().injectStreamUsage ?? !(env === 'false' || env === '0'),
    };
  }

  private targets(moduleExports: unknown): Array<[AnyRecord, OpenAIOperation]> {
    const m = moduleExports as AnyRecord | undefined;
    const OpenAI: AnyRecord | undefined = m?.OpenAI ?? m?.default ?? m;
    const out: Array<[AnyRecord, OpenAIOperation]> = [];
    const add = (cls: AnyRecord | undefined, op: OpenAIOperation): void => {
      const proto = cls?.prototype as AnyRecord | undefined;
      if (proto && typeof proto.create === 'function') out.push([proto, op]);
    };
    add(OpenAI?.Chat?.Completions, OpenAIOperation.ChatCompletions);
    add(OpenAI?.Responses, OpenAIOperation.Responses);
    add(OpenAI?.Embeddings, OpenAIOperation.Embeddings);
    return out;
  }

  private patch(moduleExports: unknown): void {
    const options = this.options();
    for (const [proto, op] of this.targets(moduleExports)) {
      wrapMethod(proto, 'create', (original: Method) => createPatchedMethod(original, op, options) as Method);
      if (op !== OpenAIOperation.Responses) continue;
      for (const name of RESPONSE_READS) {
        if (typeof proto[name] === 'function')
          wrapMethod(
            proto,
            name,
            (original: Method) => createPatchedRead(original, options.tracer) as Method,
          );
      }
    }
  }

  private unpatch(moduleExports: unknown): void {
    for (const [proto, op] of this.targets(moduleExports)) {
      unwrapMethod(proto, 'create');
      if (op === OpenAIOperation.Responses) for (const name of RESPONSE_READS) unwrapMethod(proto, name);
    }
  }
}

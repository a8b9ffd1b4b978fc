/**
 * Mistral instrumentation for the `@mistralai/mistralai` package, majors 1 and 2.
 *
 * Patched (prototype methods, shared by every client):
 *   Chat.prototype.complete         chat
 *   Chat.prototype.stream           chat, stream (SSE `data:` lines, `data: [DONE]`, usage on the last chunk)
 *   Chat.prototype.parse            chat (structured output; calls the SDK's chatComplete itself, not complete())
 *   Chat.prototype.parseStream      chat, stream (the same, for chatStream)
 *   Embeddings.prototype.create     embeddings
 * `Chat` and `Embeddings` are not exported by the package (only `Mistral`, whose lazy `chat` and
 * `embeddings` getters create them). The getters on `Mistral.prototype` are wrapped to patch the
 * prototype of the first object each returns. That works the same for 1.x (CommonJS), 2.x (ESM
 * only, `import`) and 2.x loaded by `require()` (Node ≥ 20.19 returns the ESM namespace), where
 * the SDK's inner files are never seen by a require hook.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { PACKAGE_NAME, VERSION } from '../../version';
import { createPatchedMethod } from './patch';
import { MistralOperation, type AnyRecord } from './utils';
import { callTracer } from '../shared/deferred-span';
import { notInstrumentedWarning } from '../shared/not-instrumented';
import { unwrapMethod, wrapMethod } from '../shared/wrap';

const SUPPORTED_VERSIONS = ['>=1 <3'];

export interface MistralInstrumentationConfig {
  enabled?: boolean;
}

type Method = (...args: unknown[]) => unknown;

/** Getter on Mistral.prototype → methods to patch on the prototype of what it returns. */
const TARGETS: Record<string, Array<[string, MistralOperation]>> = {
  chat: [
    ['complete', MistralOperation.Complete],
    ['stream', MistralOperation.Stream],
    ['parse', MistralOperation.Complete],
    ['parseStream', MistralOperation.Stream],
  ],
  embeddings: [['create', MistralOperation.Embed]],
};
/** Every method name TARGETS patches, for unpatching. */
const PATCHED_METHODS = new Set(Object.values(TARGETS).flatMap((methods) => methods.map(([name]) => name)));

const ORIGINAL_GETTER = Symbol('tokenledger.mistral.originalGetter');

/** The SDK's own getter behind ours, when `proto[getterName]` is our patched getter. */
function originalGetter(proto: AnyRecord, getterName: string): (() => unknown) | undefined {
  const get = Object.getOwnPropertyDescriptor(proto, getterName)?.get as
    { [ORIGINAL_GETTER]?: () => unknown } | undefined;
  return get?.[ORIGINAL_GETTER];
}

export class MistralInstrumentation extends InstrumentationBase<MistralInstrumentationConfig> {
  /** Sub-SDK prototypes patched so far (Chat.prototype, Embeddings.prototype). */
  private readonly patchedPrototypes = new Set<AnyRecord>();

  constructor(config: MistralInstrumentationConfig = {}) {
    super(`${PACKAGE_NAME}/instrumentation-mistral`, VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        '@mistralai/mistralai',
        SUPPORTED_VERSIONS,
        (moduleExports: unknown) => {
          try {
            this.patch(moduleExports);
          } catch (err) {
            this._diag.error('failed to patch @mistralai/mistralai', err);
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
      notInstrumentedWarning('@mistralai/mistralai', SUPPORTED_VERSIONS, (m) => this.isPatched(m)),
    ];
  }

  private isPatched(moduleExports: unknown): boolean {
    const proto = this.mistralPrototype(moduleExports);
    if (!proto) return false;
    return Object.keys(TARGETS).some((getterName) => originalGetter(proto, getterName) !== undefined);
  }

  private mistralPrototype(moduleExports: unknown): AnyRecord | undefined {
    const m = moduleExports as AnyRecord | undefined;
    const Mistral = (m?.Mistral ?? m?.default?.Mistral) as AnyRecord | undefined;
    const proto = Mistral?.prototype as AnyRecord | undefined;
    return proto !== null && typeof proto === 'object' ? proto : undefined;
  }

  private patch(moduleExports: unknown): void {
    const proto = this.mistralPrototype(moduleExports);
    if (!proto) return;
    for (const getterName of Object.keys(TARGETS)) {
      const desc = Object.getOwnPropertyDescriptor(proto, getterName);
      const get = desc?.get as (((this: unknown) => unknown) & { [ORIGINAL_GETTER]?: unknown }) | undefined;
      // Absent, or already ours (the same class reaching us through require and import).
      if (!desc || typeof get !== 'function' || get[ORIGINAL_GETTER] || !desc.configurable) continue;
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const instrumentation = this;
      const patchedGet = function (this: unknown): unknown {
        const sub = get.call(this);
        instrumentation.patchSubSdk(sub, getterName);
        return sub;
      };
      Object.defineProperty(patchedGet, ORIGINAL_GETTER, { value: get });
      Object.defineProperty(proto, getterName, { ...desc, get: patchedGet });
    }
  }

  /** Patches the methods of a sub-SDK object's prototype, once per prototype. */
  private patchSubSdk(sub: unknown, getterName: string): void {
    try {
      if (sub === null || typeof sub !== 'object') return;
      const proto = Object.getPrototypeOf(sub) as AnyRecord | null;
      if (!proto || this.patchedPrototypes.has(proto)) return;
      this.patchedPrototypes.add(proto);
      const tracer = () => callTracer(this.tracer);
      for (const [name, op] of TARGETS[getterName] ?? []) {
        wrapMethod(proto, name, (original: Method) => createPatchedMethod(original, op, tracer) as Method);
      }
    } catch {
      // never throw into the app's `client.chat`
    }
  }

  private unpatch(moduleExports: unknown): void {
    const proto = this.mistralPrototype(moduleExports);
    if (proto) {
      for (const getterName of Object.keys(TARGETS)) {
        const desc = Object.getOwnPropertyDescriptor(proto, getterName);
        const original = originalGetter(proto, getterName);
        if (desc && original) Object.defineProperty(proto, getterName, { ...desc, get: original });
      }
    }
    for (const sub of this.patchedPrototypes) {
      for (const name of PATCHED_METHODS) unwrapMethod(sub, name);
    }
    this.patchedPrototypes.clear();
  }
}

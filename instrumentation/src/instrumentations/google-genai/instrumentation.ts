/**
 * Google Gen AI instrumentation for the `@google/genai` package, majors 1 to 3 (CommonJS and ESM),
 * Gemini Developer API (`gcp.gemini`) and Vertex AI mode (`gcp.vertex_ai`).
 *
 * Patched (prototype methods of the exported `Models` class, shared by every client):
 *   generateContentInternal        generate_content          ← models.generateContent
 *   generateContentStreamInternal  generate_content, stream  ← models.generateContentStream
 *   embedContentInternal           embeddings                ← models.embedContent
 * The public methods are arrow functions set per instance in the constructor, so they cannot be
 * patched on the prototype; the internal ones each send one request (see ./patch.ts).
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { PACKAGE_NAME, VERSION } from '../../version';
import { createPatchedMethod } from './patch';
import { GeminiOperation, type AnyRecord } from './utils';
import { callTracer } from '../shared/deferred-span';
import { notInstrumentedWarning } from '../shared/not-instrumented';
import { isPatchedByTokenledger, unwrapMethod, wrapMethod } from '../shared/wrap';

const SUPPORTED_VERSIONS = ['>=1 <4'];

export interface GoogleGenAIInstrumentationConfig {
  enabled?: boolean;
}

type Method = (...args: unknown[]) => unknown;

const METHODS: Array<[string, GeminiOperation]> = [
  ['generateContentInternal', GeminiOperation.Generate],
  ['generateContentStreamInternal', GeminiOperation.Stream],
  ['embedContentInternal', GeminiOperation.Embed],
];

export class GoogleGenAIInstrumentation extends InstrumentationBase<GoogleGenAIInstrumentationConfig> {
  constructor(config: GoogleGenAIInstrumentationConfig = {}) {
    super(`${PACKAGE_NAME}/instrumentation-google-genai`, VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        '@google/genai',
        SUPPORTED_VERSIONS,
        (moduleExports: unknown) => {
          try {
            this.patch(moduleExports);
          } catch (err) {
            this._diag.error('failed to patch @google/genai', err);
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
      notInstrumentedWarning('@google/genai', SUPPORTED_VERSIONS, (m) => this.isPatched(m)),
    ];
  }

  private isPatched(moduleExports: unknown): boolean {
    const proto = this.modelsPrototype(moduleExports);
    return proto !== undefined && METHODS.some(([name]) => isPatchedByTokenledger(proto[name]));
  }

  /** `Models.prototype`: a named export of both the CJS build and the ESM namespace. */
  private modelsPrototype(moduleExports: unknown): AnyRecord | undefined {
    const m = moduleExports as AnyRecord | undefined;
    const Models = (m?.Models ?? m?.default?.Models) as AnyRecord | undefined;
    const proto = Models?.prototype as AnyRecord | undefined;
    return proto !== null && typeof proto === 'object' ? proto : undefined;
  }

  private patch(moduleExports: unknown): void {
    const proto = this.modelsPrototype(moduleExports);
    if (!proto) return;
    const tracer = () => callTracer(this.tracer);
    for (const [name, op] of METHODS) {
      // The same class can reach us twice (require and import of one file): wrapMethod wraps once.
      wrapMethod(proto, name, (original: Method) => createPatchedMethod(original, op, tracer) as Method);
    }
  }

  private unpatch(moduleExports: unknown): void {
    const proto = this.modelsPrototype(moduleExports);
    if (!proto) return;
    for (const [name] of METHODS) unwrapMethod(proto, name);
  }
}

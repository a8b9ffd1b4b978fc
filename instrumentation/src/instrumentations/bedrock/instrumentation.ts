/**
 * AWS Bedrock runtime instrumentation for `@aws-sdk/client-bedrock-runtime` 3.x (CommonJS and ESM;
 * the package ships one CommonJS build that ESM imports load too).
 *
 * Patched: `BedrockRuntimeClient.prototype.send`, which every command goes through (the
 * aggregated `BedrockRuntime` client's methods call it too). Metered commands: Converse,
 * ConverseStream, InvokeModel, InvokeModelWithResponseStream (see ./patch.ts).
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { PACKAGE_NAME, VERSION } from '../../version';
import { createPatchedSend } from './patch';
import type { AnyRecord } from './usage';
import { callTracer } from '../shared/deferred-span';
import { notInstrumentedWarning } from '../shared/not-instrumented';
import { isPatchedByTokenledger, unwrapMethod, wrapMethod } from '../shared/wrap';

const BEDROCK_MODULE = '@aws-sdk/client-bedrock-runtime';
/** Tested on 3.1164; `Client#send` and the command and output shapes patched are stable across 3.x. */
const SUPPORTED_VERSIONS = ['>=3.0.0 <4'];

export interface BedrockInstrumentationConfig {
  enabled?: boolean;
}

type Method = (...args: unknown[]) => unknown;

export class BedrockInstrumentation extends InstrumentationBase<BedrockInstrumentationConfig> {
  constructor(config: BedrockInstrumentationConfig = {}) {
    super(`${PACKAGE_NAME}/instrumentation-bedrock`, VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        BEDROCK_MODULE,
        SUPPORTED_VERSIONS,
        (moduleExports: unknown) => {
          try {
            this.patch(moduleExports);
          } catch (err) {
            this._diag.error('failed to patch @aws-sdk/client-bedrock-runtime', err);
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
      notInstrumentedWarning(BEDROCK_MODULE, SUPPORTED_VERSIONS, (m) => this.isPatched(m)),
    ];
  }

  private isPatched(moduleExports: unknown): boolean {
    const proto = this.clientPrototype(moduleExports);
    return proto !== undefined && isPatchedByTokenledger(proto.send);
  }

  private clientPrototype(moduleExports: unknown): AnyRecord | undefined {
    const m = moduleExports as AnyRecord | undefined;
    const cls = (m?.BedrockRuntimeClient ?? m?.default?.BedrockRuntimeClient) as AnyRecord | undefined;
    const proto = cls?.prototype as AnyRecord | undefined;
    return proto && typeof proto.send === 'function' ? proto : undefined;
  }

  private patch(moduleExports: unknown): void {
    const proto = this.clientPrototype(moduleExports);
    // The CommonJS build is reached by both the require and the import hook: wrapMethod wraps once.
    if (!proto) return;
    wrapMethod(
      proto,
      'send',
      (original: Method) => createPatchedSend(original, () => callTracer(this.tracer)) as Method,
    );
  }

  private unpatch(moduleExports: unknown): void {
    const proto = this.clientPrototype(moduleExports);
    if (proto) unwrapMethod(proto, 'send');
  }
}

/**
 * A module definition that patches nothing: it runs after the provider's own definition (hooks run
 * in the order they are registered) and checks that the SDK really was patched. An SDK whose version
 * is outside the supported range, or whose layout changed, is otherwise skipped without a word by
 * the OpenTelemetry hooks, and its calls go unrecorded; the app's operator gets one process warning.
 */
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { SDK_NOT_INSTRUMENTED, warnOnce } from '../../warn-once';

export function notInstrumentedWarning(
  moduleName: string,
  supportedVersions: readonly string[],
  isPatched: (moduleExports: unknown) => boolean,
): InstrumentationNodeModuleDefinition {
  return new InstrumentationNodeModuleDefinition(
    moduleName,
    ['*'],
    (moduleExports: unknown, version?: string) => {
      try {
        if (!isPatched(moduleExports)) {
          warnOnce(
            SDK_NOT_INSTRUMENTED,
            `tokenledger: ${moduleName} ${version ?? '(version unknown)'} is loaded but not instrumented ` +
              `(tokenledger instruments ${supportedVersions.join(' || ')}): its calls are not recorded and ` +
              'no policy applies to them; use a supported version, or a tokenledger release that supports this one',
            moduleName,
          );
        }
      } catch {
        // never throw into the app's require / import
      }
      return moduleExports;
    },
  );
}

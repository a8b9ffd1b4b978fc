/**
 * Whether the Mistral SDK's own tracing (2.x, a `TracingHook` among each client's request hooks)
 * will record this request through the process's global tracer provider, i.e. into tokenledger's
 * export stream. It does when the app set `MISTRAL_SDK_TELEMETRY=global`, or configured the hook
 * with a tracer provider or the global one. Then the patch makes its span the active parent of the
 * request, so the SDK's span becomes its child, in the same trace, and the collector counts the
 * call once. Otherwise no context is entered (see the OpenAI patch for why that matters).
 * `dedicated` telemetry exports to Mistral, not here, and is left alone.
 */
import { envString } from '../../env';
import type { AnyRecord } from './utils';

const MISTRAL_SDK_TELEMETRY_ENV = 'MISTRAL_SDK_TELEMETRY';

/** Read once: the SDK reads it when a client makes its first request. */
export function telemetryEnvIsGlobal(): boolean {
  return envString(MISTRAL_SDK_TELEMETRY_ENV)?.toLowerCase() === 'global';
}

export function sdkTracingOn(subSdk: unknown, envGlobal: boolean): boolean {
  try {
    const hooks = (subSdk as AnyRecord | undefined)?._options?.hooks?.beforeRequestHooks;
    if (!Array.isArray(hooks)) return false;
    for (const hook of hooks) {
      if (hook === null || typeof hook !== 'object' || !('tracerProvider' in hook)) continue;
      if (envGlobal || hook.tracerProvider !== undefined || hook._telemetryUseGlobalProvider === true)
        return true;
    }
  } catch {
    // unknown SDK shape: no SDK tracing to line up with
  }
  return false;
}

/**
 * Problems the app's operator must see, because spend goes unrecorded until they act (the collector
 * refusing the key): once per process and kind, as a Node process warning. The OpenTelemetry diag
 * logger is not enough: none is set unless OTEL_LOG_LEVEL is, so its output is lost by default.
 * `OTEL_LOG_LEVEL=none`, Node's `--no-warnings` and `NODE_NO_WARNINGS=1` silence them.
 */
import { envString } from './env';

const WARNING_TYPE = 'TokenledgerWarning';

/** The OTLP endpoint refused this app's key: no call is recorded. */
export const SPANS_KEY_REFUSED = 'TOKENLEDGER_SPANS_KEY_REFUSED';
/** The OTLP endpoint refused a batch of spans for another reason. */
export const SPANS_REFUSED = 'TOKENLEDGER_SPANS_REFUSED';
/** Spans kept for a collector that did not take them filled their bound: the newest were dropped. */
export const SPANS_DROPPED = 'TOKENLEDGER_SPANS_DROPPED';
/** The collector refused the policy guard's key (it may be another host than the OTLP endpoint). */
export const GUARD_KEY_REFUSED = 'TOKENLEDGER_GUARD_KEY_REFUSED';
/** A standard OTEL_* setting tokenledger does not support (grpc, another exporter): it does something else. */
export const SETTING_UNSUPPORTED = 'TOKENLEDGER_SETTING_UNSUPPORTED';
/** An SDK tokenledger instruments was loaded but could not be patched (version or layout). */
export const SDK_NOT_INSTRUMENTED = 'TOKENLEDGER_SDK_NOT_INSTRUMENTED';

/** The collector records this app's calls under its key's scope, not the cost center they claim. */
export const KEY_SCOPE = 'TOKENLEDGER_KEY_SCOPE';

/** What fixes a refused key, in every such warning. */
export const SET_INGEST_KEY = 'set TOKENLEDGER_API_KEY to an ingest key (npx tokenledger keys show ingest)';

const warned = new Set<string>();

/**
 * `code` names the kind (`TOKENLEDGER_SPANS_KEY_REFUSED`); a second warning of the same kind and
 * `subject` (an SDK's name, say) is dropped.
 */
export function warnOnce(code: string, message: string, subject = ''): void {
  const key = `${code} ${subject}`;
  if (warned.has(key)) return;
  warned.add(key);
  if (envString('OTEL_LOG_LEVEL')?.toLowerCase() === 'none') return;
  try {
    process.emitWarning(message, { type: WARNING_TYPE, code });
  } catch {
    // never throw into the app
  }
}

/**
 * What to tell the app's operator when the OTLP endpoint refuses spans for good (a 4xx other than
 * 429, which is retried): those calls are lost, and only the app's side can see why.
 * One warning per process and kind (../warn-once.ts).
 */
import { ExportResultCode, type ExportResult } from '../pipeline/batch';
import { authorization } from '../collector-api';
import { tracesEndpoint } from '../endpoint';
import { SET_INGEST_KEY, SPANS_KEY_REFUSED, SPANS_REFUSED, warnOnce } from '../warn-once';

const CONSEQUENCE = 'until then no call is recorded; the app itself is not affected';

/** The HTTP status of a refused export: the exporter's error (OtlpHttpError) carries it as `code`. */
function refusedStatus(result: ExportResult): number | undefined {
  if (result.code !== ExportResultCode.FAILED) return undefined;
  const code = (result.error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 400 && code < 500 && code !== 429 ? code : undefined;
}

/** The endpoint without credentials or query (a URL may carry a secret; secrets are never logged). */
export function endpointForMessages(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the OTLP endpoint';
  }
}

/** The warning for a refused export, or undefined when the result is not a refusal. */
export function refusalWarning(
  result: ExportResult,
  endpoint: string,
  keySet: boolean = authorization() !== undefined,
): { code: string; message: string } | undefined {
  const status = refusedStatus(result);
  if (status === undefined) return undefined;
  if (status === 401) {
    const why = keySet ? 'it does not know the key this app sends' : 'this app sends no key';
    return {
      code: SPANS_KEY_REFUSED,
      message: `tokenledger: ${endpoint} answered 401 to the spans: ${why}; ${SET_INGEST_KEY}; ${CONSEQUENCE}`,
    };
  }
  if (status === 403) {
    return {
      code: SPANS_KEY_REFUSED,
      message: `tokenledger: ${endpoint} answered 403 to the spans: the key's role cannot send spans; ${SET_INGEST_KEY}; ${CONSEQUENCE}`,
    };
  }
  return {
    code: SPANS_REFUSED,
    message: `tokenledger: ${endpoint} refused a batch of spans with HTTP ${status}; the calls in it are not recorded`,
  };
}

/** Warns once per kind when `result` is a refusal. Never throws. */
export function warnIfRefused(result: ExportResult): void {
  try {
    if (result.code === ExportResultCode.SUCCESS) return;
    const warning = refusalWarning(result, endpointForMessages(tracesEndpoint()));
    if (warning) warnOnce(warning.code, warning.message);
  } catch {
    // never throw into the app
  }
}

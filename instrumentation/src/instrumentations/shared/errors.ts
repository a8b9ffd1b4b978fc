/**
 * How a provider SDK's errors are read onto the span: error.type, the HTTP status and the status
 * message. The SDKs differ only in a few facts (which names mean the app aborted, where the status
 * is, which classes say nothing), so each provider describes its SDK once with `sdkErrorReader`.
 */
import { ERROR_TYPE_ABORTED, ERROR_TYPE_OTHER } from '../../semconv';

type AnyRecord = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** How a provider reads its SDK's errors (the classes and fields differ per SDK). */
export interface ErrorReader {
  /** error.type: the SDK's error class or API error type, `aborted`, else `_OTHER`. */
  type(err: unknown): string;
  /** The HTTP status the error carries, if any. */
  status(err: unknown): number | undefined;
  /** The span status message. */
  message(err: unknown): string | undefined;
}

export interface SdkErrorFacts {
  /** Error names (its `name` or its class) that mean the app's AbortSignal fired. */
  abortNames: readonly string[];
  /** Classes too generic to name the error (besides Object): its `name` is used instead. */
  genericClasses?: readonly string[];
  /** Where the SDK puts the HTTP status (default: `status`). */
  status?: (err: AnyRecord) => unknown;
  /** An error.type more telling than the class, where the SDK has one. */
  apiType?: (err: AnyRecord) => unknown;
}

const MAX_MESSAGE = 500;

const isObject = (err: unknown): err is AnyRecord => err !== null && typeof err === 'object';

export function sdkErrorReader(sdk: SdkErrorFacts): ErrorReader {
  const aborts = new Set(sdk.abortNames);
  const generic = new Set(['', 'Object', ...(sdk.genericClasses ?? [])]);
  const statusOf = sdk.status ?? ((err: AnyRecord) => err.status);
  return {
    type(err) {
      if (!isObject(err)) return ERROR_TYPE_OTHER;
      const ctor = err.constructor?.name;
      if (aborts.has(err.name) || aborts.has(ctor)) return ERROR_TYPE_ABORTED;
      const apiType = sdk.apiType?.(err);
      if (typeof apiType === 'string' && apiType !== '') return apiType;
      if (typeof ctor === 'string' && !generic.has(ctor)) return ctor;
      if (typeof err.name === 'string' && err.name !== '') return err.name;
      return ERROR_TYPE_OTHER;
    },
    status(err) {
      const status = isObject(err) ? statusOf(err) : undefined;
      return typeof status === 'number' && Number.isFinite(status) ? status : undefined;
    },
    message(err) {
      const m = isObject(err) ? err.message : err;
      return typeof m === 'string' ? m.slice(0, MAX_MESSAGE) : undefined;
    },
  };
}

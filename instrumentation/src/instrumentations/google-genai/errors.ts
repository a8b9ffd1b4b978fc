/**
 * How the Google Gen AI and Mistral (Speakeasy) SDKs' errors are read: the class, the HTTP status
 * (`status` or `statusCode`) and aborts by the app's AbortSignal.
 */
import { ERROR_TYPE_ABORTED, ERROR_TYPE_OTHER } from '../../semconv';
import type { ErrorReader } from '../shared/call-span';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyRecord = Record<string, any>;

/** Error names SDKs use when the app's AbortSignal fired (fetch, Speakeasy SDKs). */
const ABORT_NAMES = new Set(['AbortError', 'RequestAbortedError']);

export function isAbortError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  return ABORT_NAMES.has((err as AnyRecord).name) || ABORT_NAMES.has((err as AnyRecord).constructor?.name);
}

/** error.type: `aborted`, else the error's class (ApiError, SDKError, TypeError, ...), else `_OTHER`. */
export function errorType(err: unknown): string {
  if (isAbortError(err)) return ERROR_TYPE_ABORTED;
  if (err !== null && typeof err === 'object') {
    const ctor = (err as AnyRecord).constructor?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' && ctor !== 'Error') return ctor;
    const name = (err as AnyRecord).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return ERROR_TYPE_OTHER;
}

/** The HTTP status an SDK error carries: `status` (Google) or `statusCode` (Speakeasy SDKs). */
export function errorStatus(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const status = (err as AnyRecord).status ?? (err as AnyRecord).statusCode;
  return typeof status === 'number' && Number.isFinite(status) ? status : undefined;
}

function errorMessage(err: unknown): string | undefined {
  const m = err !== null && typeof err === 'object' ? (err as AnyRecord).message : err;
  return typeof m === 'string' ? m.slice(0, 500) : undefined;
}

export const GENAI_ERRORS: ErrorReader = { type: errorType, status: errorStatus, message: errorMessage };

/**
 * Tracing suppression, the OpenTelemetry SDK's convention: a context value under the key every SDK
 * copy and line shares (`createContextKey` uses `Symbol.for`), so an exporter's own HTTP request is
 * not traced by the app's HTTP instrumentation, whichever SDK set it.
 */
import { createContextKey, type Context } from '@opentelemetry/api';

const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export function suppressTracing(ctx: Context): Context {
  return ctx.setValue(SUPPRESS_TRACING_KEY, true);
}

export function isTracingSuppressed(ctx: Context): boolean {
  return ctx.getValue(SUPPRESS_TRACING_KEY) === true;
}

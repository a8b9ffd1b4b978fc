/**
 * What `tokenledger/register` runs: set up OpenTelemetry (unless the app brings its own) and enable
 * tokenledger's instrumentations. Every step is guarded: nothing here may throw into the app.
 *
 * Provider precedence:
 * 1. `OTEL_SDK_DISABLED=true`: nothing at all.
 * 2. A global tracer provider is already registered (the app, or an earlier `--require` such as
 *    `@opentelemetry/auto-instrumentations-node/register`): only add instrumentations; spans go
 *    through that provider.
 * 3. `TOKENLEDGER_TRACER_PROVIDER=app`: the app registers its own provider later; only add
 *    instrumentations (their tracer is the API's proxy, which delegates once the app registers).
 * 4. Otherwise: a TracerProvider + BatchSpanProcessor + OTLP/HTTP exporter, AsyncLocalStorage
 *    context manager (engaged lazily, see ./context-manager.ts), W3C trace-context + baggage propagators, registered globally.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- SDK parts are required lazily, only when used */
import {
  context,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  propagation,
  trace,
  type TextMapPropagator,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { envList, envPositiveNumber, envString } from './env';
import { installExitFlush } from './exit-flush';
import { LazyExporter } from './export/otlp-exporter';
import { createInstrumentations } from './instrumentations';
import { enableDeferredSpans, materializePendingSpans } from './instrumentations/shared/deferred-span';
import { installGuard } from './guard/install';
import { VERSION } from './version';
import { SETTING_UNSUPPORTED, warnOnce } from './warn-once';

const STARTED = Symbol.for('tokenledger.started');
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
/** tokenledger's default for OTEL_BSP_EXPORT_TIMEOUT (see startOwnProvider). */
const BSP_EXPORT_TIMEOUT_MS = 1_000;

export type StartMode = 'disabled' | 'own-provider' | 'existing-provider' | 'app-provider';

/** Whether some copy of @opentelemetry/api already has a global registration for `what`. */
function isGloballyRegistered(what: 'trace' | 'context' | 'propagation'): boolean {
  const g = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[API_GLOBAL];
  return !!g && g[what] !== undefined;
}

function setupDiag(): void {
  const level = envString('OTEL_LOG_LEVEL')?.toUpperCase();
  if (!level) return;
  const map: Record<string, DiagLogLevel> = {
    NONE: DiagLogLevel.NONE,
    ERROR: DiagLogLevel.ERROR,
    WARN: DiagLogLevel.WARN,
    INFO: DiagLogLevel.INFO,
    DEBUG: DiagLogLevel.DEBUG,
    VERBOSE: DiagLogLevel.VERBOSE,
    ALL: DiagLogLevel.ALL,
  };
  const l = map[level];
  if (l !== undefined)
    diag.setLogger(new DiagConsoleLogger(), { logLevel: l, suppressOverrideMessage: true });
}

function startOwnProvider(): void {
  const { TracerProvider, BatchSpanProcessor, AlwaysOnSampler } =
    require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { LazyAsyncLocalStorageContextManager } =
    require('./context-manager') as typeof import('./context-manager');
  const { CompositePropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');

  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
        'telemetry.distro.name': 'tokenledger',
        'telemetry.distro.version': VERSION,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));

  const provider = new TracerProvider({
    resource,
    // A cost record must never be sampled away (OTEL_TRACES_SAMPLER is for the app's own tracing).
    sampler: new AlwaysOnSampler(),
    spanProcessors: [
      // First, so that a flush or shutdown of the provider builds the deferred call spans before the
      // batch processor exports (the provider calls its processors in order).
      DEFERRED_SPANS_FLUSHER,
      ...(exportsTraces() ? [batchProcessor(BatchSpanProcessor)] : []),
    ],
  });
  if (!isGloballyRegistered('context')) {
    context.setGlobalContextManager(new LazyAsyncLocalStorageContextManager().enable());
  }
  if (!isGloballyRegistered('propagation')) {
    const propagator: TextMapPropagator = new CompositePropagator({ propagators: propagatorsFromEnv() });
    propagation.setGlobalPropagator(propagator);
  }
  trace.setGlobalTracerProvider(provider);
  enableDeferredSpans();
}

/** OTEL_TRACES_EXPORTER: `otlp` (the default) or `none`; tokenledger ships no other exporter. */
function exportsTraces(): boolean {
  const names = envList('OTEL_TRACES_EXPORTER', 'otlp');
  for (const n of names) {
    if (n !== 'otlp' && n !== 'none') {
      warnOnce(
        SETTING_UNSUPPORTED,
        `tokenledger: OTEL_TRACES_EXPORTER '${n}' is not supported (otlp, none): ignored, spans go to OTLP`,
        `exporter ${n}`,
      );
    }
  }
  if (names.length > 0 && names.every((n) => n === 'none')) {
    diag.warn('tokenledger: OTEL_TRACES_EXPORTER=none: call spans are not exported, so no spend is recorded');
    return false;
  }
  return true;
}

/** OTEL_PROPAGATORS: `tracecontext`, `baggage` (both by default) or `none`; others need packages tokenledger does not ship. */
function propagatorsFromEnv(): TextMapPropagator[] {
  const { W3CBaggagePropagator, W3CTraceContextPropagator } =
    require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const names = new Set(envList('OTEL_PROPAGATORS', 'tracecontext,baggage'));
  if (names.has('none')) return [];
  const propagators: TextMapPropagator[] = [];
  for (const n of names) {
    if (n === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (n === 'baggage') propagators.push(new W3CBaggagePropagator());
    else
      diag.warn(
        `tokenledger: OTEL_PROPAGATORS '${n}' is not supported (tracecontext, baggage, none); ignored`,
      );
  }
  return propagators;
}

function batchProcessor(
  BatchSpanProcessor: typeof import('@opentelemetry/sdk-trace').BatchSpanProcessor,
): SpanProcessor {
  return new BatchSpanProcessor({
    exporter: new LazyExporter(),
    // The SDK's default queue (2048) drops spans beyond ~400 calls/s; a dropped span is lost
    // money. One GenAI span is ~1 KiB, so this bounds the queue at ~32 MiB. This SDK version
    // no longer reads the standard OTEL_BSP_* variables itself, so they are honoured here.
    maxQueueSize: envPositiveNumber('OTEL_BSP_MAX_QUEUE_SIZE') ?? 32_768,
    maxExportBatchSize: envPositiveNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 1_024,
    scheduledDelayMillis: envPositiveNumber('OTEL_BSP_SCHEDULE_DELAY') ?? 1_000,
    // How long the processor waits for an export before it goes on; the export itself goes on
    // retrying in the background (./export/). The processor's wait is the one timer of the
    // export path that keeps the process alive, so this bounds how long an export can hold a
    // finished script (the SDK's default, 30 s, would let a collector that is down hold it ~10 s).
    exportTimeoutMillis: envPositiveNumber('OTEL_BSP_EXPORT_TIMEOUT') ?? BSP_EXPORT_TIMEOUT_MS,
  });
}

/** Builds pending deferred call spans when the provider flushes or shuts down. */
const DEFERRED_SPANS_FLUSHER: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush() {
    materializePendingSpans();
    return Promise.resolve();
  },
  shutdown() {
    materializePendingSpans();
    return Promise.resolve();
  },
};

let mode: StartMode | undefined;

/** Idempotent (also across module copies); returns what it did. Never throws. */
export function start(): StartMode {
  const g = globalThis as Record<symbol, StartMode | undefined>;
  if (g[STARTED]) return g[STARTED]!;
  try {
    if ((envString('OTEL_SDK_DISABLED') ?? '').toLowerCase() === 'true') {
      mode = 'disabled';
    } else {
      setupDiag();
      if (isGloballyRegistered('trace')) mode = 'existing-provider';
      else if ((envString('TOKENLEDGER_TRACER_PROVIDER') ?? '').toLowerCase() === 'app')
        mode = 'app-provider';
      else mode = 'own-provider';
      if (mode === 'own-provider') {
        try {
          startOwnProvider();
        } catch (err) {
          diag.error('tokenledger: could not start the tracer provider', err);
        }
      }
      createInstrumentations();
      installGuard();
      installExitFlush();
    }
  } catch (err) {
    diag.error('tokenledger: start failed', err);
    mode ??= 'disabled';
  }
  g[STARTED] = mode;
  return mode!;
}

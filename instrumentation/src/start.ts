/**
 * What `tokenledger/register` runs: start tokenledger's span pipeline and enable its
 * instrumentations. Every step is guarded: nothing here may throw into the app.
 *
 * 1. `OTEL_SDK_DISABLED=true`: nothing at all.
 * 2. `TOKENLEDGER_TRACER_PROVIDER=app`: tokenledger's spans go through the app's global tracer
 *    provider (registered before or after); only the instrumentations are added.
 * 3. Otherwise: a private pipeline (./pipeline/: AlwaysOn, a large batch queue, OTLP/HTTP protobuf,
 *    or JSON with `http/json`) that tokenledger's instrumentations alone use, whatever the app
 *    registers, whenever. Where the app has no tracer provider, context manager (AsyncLocalStorage,
 *    engaged lazily, see ./context-manager.ts) or propagator (W3C trace-context + baggage) yet,
 *    tokenledger registers its own as stand-ins that give way to the app's later registration
 *    (./stand-ins.ts).
 */
import { diag, DiagConsoleLogger, DiagLogLevel, type TextMapPropagator } from '@opentelemetry/api';
import { setAppProviderAttribution } from './attribution';
import { ownOtlpEndpoint } from './endpoint';
import { envList, envPositiveNumber, envString } from './env';
import { installExitFlush, setOwnProvider } from './exit-flush';
import { exporterConfigFromEnv, LazyExporter, OtlpExporter } from './export/otlp-exporter';
import { createInstrumentations } from './instrumentations';
import { enableDeferredSpans, materializePendingSpans } from './instrumentations/shared/deferred-span';
import { installGuard } from './guard/install';
import { BatchSpanProcessor } from './pipeline/batch';
import { resourceFromEnv } from './pipeline/resource';
import { PipelineTracerProvider, type SpanProcessor } from './pipeline/tracer';
import { standInContextManager, standInPropagator, standInTracerProvider } from './stand-ins';
import { SETTING_UNSUPPORTED, warnOnce } from './warn-once';

const STARTED = Symbol.for('tokenledger.started');
/** tokenledger's default for OTEL_BSP_EXPORT_TIMEOUT (see ownProcessor). */
const BSP_EXPORT_TIMEOUT_MS = 1_000;

/**
 * What start() did. `own-provider`: tokenledger's private pipeline (whatever the app registers);
 * `app-provider`: the app's global provider (`TOKENLEDGER_TRACER_PROVIDER=app`).
 */
export type StartMode = 'disabled' | 'own-provider' | 'app-provider';

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

/**
 * OTEL_TRACES_EXPORTER: `otlp` (the default) or `none`; tokenledger ships no other exporter. With
 * TOKENLEDGER_OTLP_ENDPOINT it names the app's exporter, not tokenledger's.
 */
function exportsTraces(): boolean {
  if (ownOtlpEndpoint()) return true;
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

/** OTEL_PROPAGATORS: `tracecontext`, `baggage` (both by default) or `none`. */
function propagatorsFromEnv(): TextMapPropagator[] {
  const { W3CBaggagePropagator, W3CTraceContextPropagator } =
    require('./propagators') as typeof import('./propagators'); // eslint-disable-line @typescript-eslint/no-require-imports
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

/** The processor of the private pipeline: a batch processor exporting OTLP, or none at all. */
function ownProcessor(): SpanProcessor {
  if (!exportsTraces()) {
    return {
      onEnd() {},
      forceFlush: () => Promise.resolve(materializePendingSpans()),
      shutdown: () => Promise.resolve(materializePendingSpans()),
    };
  }
  const resource = resourceFromEnv();
  return new BatchSpanProcessor(new LazyExporter(() => new OtlpExporter(exporterConfigFromEnv(), resource)), {
    // OpenTelemetry's default queue (2048) drops spans beyond ~400 calls/s; a dropped span is lost
    // money. One GenAI span is ~1 KiB, so this bounds the queue at ~32 MiB.
    maxQueueSize: envPositiveNumber('OTEL_BSP_MAX_QUEUE_SIZE') ?? 32_768,
    maxExportBatchSize: envPositiveNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 1_024,
    scheduledDelayMillis: envPositiveNumber('OTEL_BSP_SCHEDULE_DELAY') ?? 1_000,
    // How long the processor waits for an export before it goes on; the export itself goes on
    // retrying in the background (./export/). The processor's wait is the one timer of the
    // export path that keeps the process alive, so this bounds how long an export can hold a
    // finished script (OpenTelemetry's default, 30 s, would let a collector that is down hold it ~10 s).
    exportTimeoutMillis: envPositiveNumber('OTEL_BSP_EXPORT_TIMEOUT') ?? BSP_EXPORT_TIMEOUT_MS,
    // The deferred call spans are built before each export and flush.
    beforeFlush: materializePendingSpans,
  });
}

function startOwnPipeline(): PipelineTracerProvider {
  const provider = new PipelineTracerProvider(ownProcessor());
  const { LazyAsyncLocalStorageContextManager } =
    require('./context-manager') as typeof import('./context-manager'); // eslint-disable-line @typescript-eslint/no-require-imports
  const { CompositePropagator } = require('./propagators') as typeof import('./propagators'); // eslint-disable-line @typescript-eslint/no-require-imports
  standInContextManager(new LazyAsyncLocalStorageContextManager().enable());
  standInPropagator(new CompositePropagator(propagatorsFromEnv()));
  standInTracerProvider(provider);
  setOwnProvider(provider);
  enableDeferredSpans();
  return provider;
}

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
      mode =
        (envString('TOKENLEDGER_TRACER_PROVIDER') ?? '').toLowerCase() === 'app'
          ? 'app-provider'
          : 'own-provider';
      let provider: PipelineTracerProvider | undefined;
      if (mode === 'own-provider') {
        try {
          provider = startOwnPipeline();
        } catch (err) {
          diag.error('tokenledger: could not start its span pipeline', err);
        }
      } else {
        // The app's provider may have a resource without tokenledger's attributes.
        setAppProviderAttribution();
      }
      for (const instrumentation of createInstrumentations()) {
        if (provider) instrumentation.setTracerProvider(provider);
      }
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

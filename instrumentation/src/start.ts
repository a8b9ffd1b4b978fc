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
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { ExportResult } from '@opentelemetry/core';
import { DEFAULT_OTLP_ENDPOINT } from './endpoint';
import { installExitFlush, isExiting } from './exit-flush';
import { createInstrumentations } from './instrumentations';
import { enableDeferredSpans, materializePendingSpans } from './instrumentations/shared/deferred-span';
import { installGuard } from './guard/install';
import { VERSION } from './version';

const STARTED = Symbol.for('tokenledger.started');
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
export { DEFAULT_OTLP_ENDPOINT };
/**
 * Export timeout once the app is exiting. The OTLP exporter retries network errors with a backoff of
 * at least ~800 ms while the timeout allows, and its retry timers keep the process alive; with this
 * timeout the exit flush makes one attempt, so a collector that is down does not delay the exit.
 */
export const EXIT_EXPORT_TIMEOUT_MS = 800;

export type StartMode = 'disabled' | 'own-provider' | 'existing-provider' | 'app-provider';

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function envNumber(name: string): number | undefined {
  const n = Number(env(name));
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Whether some copy of @opentelemetry/api already has a global registration for `what`. */
function isGloballyRegistered(what: 'trace' | 'context' | 'propagation'): boolean {
  const g = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[API_GLOBAL];
  return !!g && g[what] !== undefined;
}

function setupDiag(): void {
  const level = env('OTEL_LOG_LEVEL')?.toUpperCase();
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

function hasAuthorizationHeader(): boolean {
  const re = /(^|,)\s*authorization\s*=/i;
  return (
    re.test(env('OTEL_EXPORTER_OTLP_HEADERS') ?? '') ||
    re.test(env('OTEL_EXPORTER_OTLP_TRACES_HEADERS') ?? '')
  );
}

/** OTLP/HTTP exporter: protobuf by default, JSON for `http/json`; the exporter reads the other OTEL_* vars. */
export function createExporter(timeoutMillis?: number): SpanExporter {
  const protocol = (
    env('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    env('OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf'
  ).toLowerCase();
  const config: { url?: string; headers?: Record<string, string>; timeoutMillis?: number } = {};
  if (timeoutMillis !== undefined) config.timeoutMillis = timeoutMillis;
  if (!env('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') && !env('OTEL_EXPORTER_OTLP_ENDPOINT')) {
    config.url = `${DEFAULT_OTLP_ENDPOINT}/v1/traces`;
  }
  const apiKey = env('TOKENLEDGER_API_KEY');
  if (apiKey && !hasAuthorizationHeader()) config.headers = { Authorization: `Bearer ${apiKey}` };
  if (protocol === 'http/json') {
    // Loaded lazily: only the selected exporter is required at startup.
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(config);
  }
  if (protocol !== 'http/protobuf') {
    diag.warn(`tokenledger: OTLP protocol '${protocol}' is not supported, using http/protobuf`);
  }
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(config);
}

/**
 * Delegates to the OTLP exporter, created on the first export (so startup does not load the OTLP
 * encoding stack); once the app is exiting, to a second one with a short timeout (see
 * EXIT_EXPORT_TIMEOUT_MS), so the exit flush never waits on retries.
 */
export class ExitAwareExporter implements SpanExporter {
  private normal: SpanExporter | undefined;
  private exitExporter: SpanExporter | undefined;

  constructor(private readonly make: (timeoutMillis?: number) => SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    let exporter: SpanExporter;
    try {
      exporter = isExiting()
        ? (this.exitExporter ??= this.make(EXIT_EXPORT_TIMEOUT_MS))
        : (this.normal ??= this.make());
    } catch (error) {
      diag.error('tokenledger: could not create the OTLP exporter', error);
      resultCallback({ code: 1 /* ExportResultCode.FAILED */, error: error as Error });
      return;
    }
    exporter.export(spans, resultCallback);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([this.normal?.forceFlush?.(), this.exitExporter?.forceFlush?.()]);
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.normal?.shutdown(), this.exitExporter?.shutdown()]);
  }
}

function startOwnProvider(): void {
  const { TracerProvider, BatchSpanProcessor, AlwaysOnSampler } =
    require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { LazyAsyncLocalStorageContextManager } =
    require('./context-manager') as typeof import('./context-manager');
  const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } =
    require('@opentelemetry/core') as typeof import('@opentelemetry/core');

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
      new BatchSpanProcessor({
        exporter: new ExitAwareExporter(createExporter),
        // The SDK's default queue (2048) drops spans beyond ~400 calls/s; a dropped span is lost
        // money. One GenAI span is ~1 KiB, so this bounds the queue at ~32 MiB. This SDK version
        // no longer reads the standard OTEL_BSP_* variables itself, so they are honoured here.
        maxQueueSize: envNumber('OTEL_BSP_MAX_QUEUE_SIZE') ?? 32_768,
        maxExportBatchSize: envNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 1_024,
        scheduledDelayMillis: envNumber('OTEL_BSP_SCHEDULE_DELAY') ?? 1_000,
      }),
    ],
  });
  if (!isGloballyRegistered('context')) {
    context.setGlobalContextManager(new LazyAsyncLocalStorageContextManager().enable());
  }
  if (!isGloballyRegistered('propagation')) {
    const propagator: TextMapPropagator = new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    });
    propagation.setGlobalPropagator(propagator);
  }
  trace.setGlobalTracerProvider(provider);
  enableDeferredSpans();
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
    if ((env('OTEL_SDK_DISABLED') ?? '').toLowerCase() === 'true') {
      mode = 'disabled';
    } else {
      setupDiag();
      if (isGloballyRegistered('trace')) mode = 'existing-provider';
      else if ((env('TOKENLEDGER_TRACER_PROVIDER') ?? '').toLowerCase() === 'app') mode = 'app-provider';
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

export function startMode(): StartMode | undefined {
  return mode;
}

/**
 * The batch span processor of tokenledger's pipeline: ended spans wait in a bounded queue and are
 * exported in batches, on a timer that does not keep the app alive, off the call's path. The queue is
 * large (a dropped span is lost money); what is dropped anyway is told once.
 */
import { context, diag } from '@opentelemetry/api';
import { suppressTracing } from '../suppress-tracing';
import type { PipelineSpan } from './span';
import type { SpanProcessor } from './tracer';

export enum ExportResultCode {
  SUCCESS = 0,
  FAILED = 1,
}

export interface ExportResult {
  code: ExportResultCode;
  error?: Error;
}

export interface SpanExporter {
  export(spans: PipelineSpan[], resultCallback: (result: ExportResult) => void): void;
  /** Sends what the exporter still holds (batches kept for a retry). Never rejects. */
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface BatchConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  /** How long one export is waited for before the next may start (the export itself goes on). */
  exportTimeoutMillis: number;
  /** Runs before every flush and export (the deferred call spans are built then). */
  beforeFlush?: () => void;
}

export class BatchSpanProcessor implements SpanProcessor {
  private queue: PipelineSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private dropped = 0;
  private isShutdown = false;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly config: BatchConfig,
  ) {}

  onEnd(span: PipelineSpan): void {
    if (this.isShutdown) return;
    if (this.queue.length >= this.config.maxQueueSize) {
      if (this.dropped++ === 0)
        diag.warn('tokenledger: span queue full; dropping spans (raise OTEL_BSP_MAX_QUEUE_SIZE)');
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.config.maxExportBatchSize) this.exportSoon(0);
    else this.exportSoon(this.config.scheduledDelayMillis);
  }

  async forceFlush(): Promise<void> {
    this.config.beforeFlush?.();
    await this.exporting;
    while (this.queue.length > 0) await this.exportBatch();
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    await this.forceFlush();
    this.isShutdown = true;
    if (this.timer) clearTimeout(this.timer);
    await this.exporter.shutdown();
  }

  private exportSoon(delay: number): void {
    if (this.timer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    if (this.exporting) return;
    while (this.queue.length > 0) await this.exportBatch();
  }

  /** Exports the next batch and waits for it, at most exportTimeoutMillis. Never rejects. */
  private exportBatch(): Promise<void> {
    const run = async (): Promise<void> => {
      this.config.beforeFlush?.();
      const batch = this.queue.splice(0, this.config.maxExportBatchSize);
      if (batch.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        // Unref'd like every timer of the export path: what keeps a finished script alive is the
        // exit flush's one deadline (../exit-flush.ts). A ref'd wait here added up behind it: an
        // export in flight, then the flush's own, held a script ~2 s with the collector down.
        timer = setTimeout(resolve, this.config.exportTimeoutMillis);
        timer.unref();
        try {
          // An HTTP instrumentation must not trace the export's own request.
          context.with(suppressTracing(context.active()), () =>
            this.exporter.export(batch, (result) => {
              if (result.code !== ExportResultCode.SUCCESS)
                diag.debug('tokenledger: span export failed', result.error);
              resolve();
            }),
          );
        } catch (err) {
          diag.error('tokenledger: span export threw', err);
          resolve();
        }
      });
      clearTimeout(timer);
    };
    const p = (this.exporting ?? Promise.resolve()).then(run).finally(() => {
      if (this.exporting === p) this.exporting = undefined;
      if (this.queue.length > 0 && !this.isShutdown) this.exportSoon(this.config.scheduledDelayMillis);
    });
    this.exporting = p;
    return p;
  }
}

/**
 * The OTLP/HTTP span exporter of tokenledger's pipeline: protobuf by default, JSON for `http/json`,
 * configured from the standard OTEL_EXPORTER_OTLP_* variables as OpenTelemetry's exporter reads them
 * (or from TOKENLEDGER_OTLP_ENDPOINT and TOKENLEDGER_API_KEY alone, see ../endpoint.ts), and made so
 * that it never keeps the app's process alive: sockets unref'd (./unref-agent.ts) and retries that
 * wait in the background (./background-retry.ts). A batch the collector still did not take after
 * those retries is kept, bounded, and sent again until it is taken (./kept-batches.ts).
 */
import type { Attributes } from '@opentelemetry/api';
import { otlpHeadersAuthorization } from '../collector-api';
import { noteBatchesTaken } from '../exit-flush';
import { ownOtlpEndpoint, tracesEndpoint } from '../endpoint';
import { envPositiveNumber, envString } from '../env';
import { ExportResultCode, type ExportResult, type SpanExporter } from '../pipeline/batch';
import {
  encodeJson,
  encodeProtobuf,
  mergeJsonRequests,
  mergeProtobufRequests,
} from '../pipeline/otlp-encode';
import type { PipelineSpan } from '../pipeline/span';
import { SETTING_UNSUPPORTED, SPANS_DROPPED, warnOnce } from '../warn-once';
import { BackgroundRetryTransport } from './background-retry';
import { HttpTransport, type ExportResponse, type ExporterTransport } from './http-transport';
import { ExitSpool, spoolBytesFromEnv, spoolDirectory, type SpooledBatch } from './exit-spool';
import { DEFAULT_KEEP_BYTES, KeptBatches } from './kept-batches';
import { endpointForMessages, warnIfRefused } from './refused-export';

const DEFAULT_TIMEOUT_MS = 10_000;

/** `a=b,c=d`, percent-decoded, as OTEL_EXPORTER_OTLP_HEADERS is read. */
function parseHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    try {
      out[decodeURIComponent(key)] = decodeURIComponent(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/** A traces-specific variable, else the general one. */
const otlpSetting = (name: string): string | undefined =>
  envString(`OTEL_EXPORTER_OTLP_TRACES_${name}`) ?? envString(`OTEL_EXPORTER_OTLP_${name}`);

export interface OtlpExporterConfig {
  url: string;
  headers: Record<string, string>;
  json: boolean;
  compression: 'gzip' | 'none';
  timeoutMillis: number;
  /** The most bytes of batches kept for a later retry (TOKENLEDGER_EXPORT_KEEP_BYTES). */
  keepBytes?: number;
  /** Where batches not taken at exit wait for the next process (TOKENLEDGER_EXPORT_SPOOL); none: off. */
  spoolDir?: string;
  /** The most bytes of the spool (TOKENLEDGER_EXPORT_SPOOL_BYTES). */
  spoolBytes?: number;
}

/** The exit spool's directory and bound for this endpoint and its authorization header. */
function spoolFromEnv(
  url: string,
  headers: Record<string, string>,
): Pick<OtlpExporterConfig, 'spoolDir' | 'spoolBytes'> {
  const authorization = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
  const spoolDir = spoolDirectory(url, authorization);
  return spoolDir ? { spoolDir, spoolBytes: spoolBytesFromEnv() } : {};
}

const keepBytesFromEnv = (): number =>
  envPositiveNumber('TOKENLEDGER_EXPORT_KEEP_BYTES') ?? DEFAULT_KEEP_BYTES;

export function exporterConfigFromEnv(): OtlpExporterConfig {
  const apiKey = envString('TOKENLEDGER_API_KEY');
  const bearer: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
  if (ownOtlpEndpoint()) {
    return {
      url: tracesEndpoint(),
      headers: bearer,
      json: false,
      compression: 'none',
      timeoutMillis: DEFAULT_TIMEOUT_MS,
      keepBytes: keepBytesFromEnv(),
      ...spoolFromEnv(tracesEndpoint(), bearer),
    };
  }
  const protocol = (otlpSetting('PROTOCOL') ?? 'http/protobuf').toLowerCase();
  if (protocol !== 'http/json' && protocol !== 'http/protobuf') {
    warnOnce(
      SETTING_UNSUPPORTED,
      `tokenledger: OTLP protocol '${protocol}' is not supported: spans are sent as http/protobuf to ` +
        `${endpointForMessages(tracesEndpoint())}, which must be an OTLP/HTTP endpoint (port 4318, not gRPC's 4317)`,
      'protocol',
    );
  }
  const headers = {
    ...parseHeaders(envString('OTEL_EXPORTER_OTLP_HEADERS')),
    ...parseHeaders(envString('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
  };
  const sent = otlpHeadersAuthorization() === undefined ? { ...headers, ...bearer } : headers;
  return {
    url: tracesEndpoint(),
    headers: sent,
    ...spoolFromEnv(tracesEndpoint(), sent),
    json: protocol === 'http/json',
    compression: otlpSetting('COMPRESSION')?.toLowerCase() === 'gzip' ? 'gzip' : 'none',
    timeoutMillis:
      envPositiveNumber('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ??
      envPositiveNumber('OTEL_EXPORTER_OTLP_TIMEOUT') ??
      DEFAULT_TIMEOUT_MS,
    keepBytes: keepBytesFromEnv(),
  };
}

/** The export result of a transport's answer. */
function resultOf(response: ExportResponse): ExportResult {
  return response.status === 'success'
    ? { code: ExportResultCode.SUCCESS }
    : {
        code: ExportResultCode.FAILED,
        error: response.error ?? new Error('OTLP export failed after its retries'),
      };
}

/** What a batch kept for later, or dropped beyond the bound, reports to the batch processor (it only logs it). */
const KEPT: ExportResult = {
  code: ExportResultCode.FAILED,
  error: new Error('the collector did not take the spans yet: kept, and sent again until it does'),
};
const DROPPED: ExportResult = {
  code: ExportResultCode.FAILED,
  error: new Error('the collector did not take the spans and the kept ones fill their bound: dropped'),
};

export class OtlpExporter implements SpanExporter {
  private readonly transport: ExporterTransport;
  private readonly kept: KeptBatches;
  /** Batches being sent now, not kept yet: spooled too if the process ends meanwhile. */
  private readonly inFlight = new Set<SpooledBatch>();
  private readonly spool: ExitSpool | undefined;
  private spooled = false;
  private spoolTaken = false;
  private readonly onExit = (): void => this.spoolWhatIsLeft();

  constructor(
    private readonly config: OtlpExporterConfig,
    private readonly resource: Attributes,
  ) {
    const http = new HttpTransport({
      url: config.url,
      headers: config.headers,
      contentType: config.json ? 'application/json' : 'application/x-protobuf',
      compression: config.compression,
    });
    this.transport = new BackgroundRetryTransport(http);
    this.kept = new KeptBatches(http, {
      maxBytes: config.keepBytes ?? DEFAULT_KEEP_BYTES,
      timeoutMillis: config.timeoutMillis,
      merge: config.json ? mergeJsonRequests : mergeProtobufRequests,
      onResult: (response) => warnIfRefused(resultOf(response)),
      onOverflow: (spans) =>
        warnOnce(
          SPANS_DROPPED,
          `tokenledger: ${endpointForMessages(config.url)} has not taken spans for a while and the ones kept for it ` +
            `fill TOKENLEDGER_EXPORT_KEEP_BYTES (${config.keepBytes ?? DEFAULT_KEEP_BYTES} bytes): ` +
            `${spans} span(s) dropped, their calls are not recorded; the app itself is not affected`,
        ),
    });
    if (config.spoolDir) {
      this.spool = new ExitSpool(config.spoolDir, config.json ? 'json' : 'pb', config.spoolBytes ?? Infinity);
      process.once('exit', this.onExit);
    }
  }

  /**
   * What earlier processes left in the spool, once the collector took a batch of this process's: a
   * collector that is down, hanging or failing gets no more than the process's own spans.
   */
  private takeSpooled(): void {
    if (!this.spool || this.spoolTaken) return;
    this.spoolTaken = true;
    void this.spool.take(this.kept.maxBytes - this.kept.keptBytes).then((batches) => {
      for (const b of batches) this.kept.keep(b.body, b.spans, 0);
      if (batches.length > 0) noteBatchesTaken();
    });
  }

  /** At exit or shutdown: every batch not taken yet goes to the spool for the next process. */
  private spoolWhatIsLeft(): void {
    if (!this.spool || this.spooled) return;
    this.spooled = true;
    process.removeListener('exit', this.onExit);
    const left = [...this.inFlight, ...this.kept.batches()];
    const { dropped } = this.spool.writeSync(left);
    if (dropped > 0)
      warnOnce(
        SPANS_DROPPED,
        `tokenledger: ${endpointForMessages(this.config.url)} had not taken ${dropped} span(s) when the process ended and ` +
          `the spool for the next process is full (TOKENLEDGER_EXPORT_SPOOL_BYTES): their calls are not recorded`,
      );
  }

  export(spans: PipelineSpan[], resultCallback: (result: ExportResult) => void): void {
    let body: Uint8Array;
    try {
      body = this.config.json ? encodeJson(this.resource, spans) : encodeProtobuf(this.resource, spans);
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    // Batches are kept: the collector is not taking spans now. This one waits with them, so the
    // process has one attempt in flight, not one per batch.
    if (this.kept.size > 0) {
      resultCallback(this.kept.keep(body, spans.length) ? KEPT : DROPPED);
      return;
    }
    const sending = { body, spans: spans.length };
    this.inFlight.add(sending);
    this.transport.send(body, this.config.timeoutMillis).then(
      (response) => {
        this.inFlight.delete(sending);
        if (response.status === 'success') this.takeSpooled();
        if (response.status !== 'retryable') resultCallback(resultOf(response));
        else resultCallback(this.kept.keep(body, spans.length, response.retryInMillis) ? KEPT : DROPPED);
      },
      (error: unknown) => {
        this.inFlight.delete(sending);
        resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      },
    );
  }

  /** Sends the kept batches now (the exit flush, forceFlush). Never rejects. */
  forceFlush(): Promise<void> {
    return this.kept.sendNow();
  }

  /** After the processor's last flush: what is still kept goes to the spool, no retry is left running. */
  shutdown(): Promise<void> {
    this.spoolWhatIsLeft();
    this.kept.stop();
    this.transport.shutdown();
    return Promise.resolve();
  }
}

/** Creates the exporter on the first export, so startup reads no exporter setting and loads no encoder. */
export class LazyExporter implements SpanExporter {
  private exporter: SpanExporter | undefined;

  constructor(private readonly make: () => SpanExporter) {}

  export(spans: PipelineSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      this.exporter ??= this.make();
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      return;
    }
    this.exporter.export(spans, (result) => {
      warnIfRefused(result);
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.exporter?.forceFlush?.() ?? Promise.resolve();
  }

  async shutdown(): Promise<void> {
    await this.exporter?.shutdown();
  }
}

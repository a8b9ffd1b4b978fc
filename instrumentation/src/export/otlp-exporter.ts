/**
 * The OTLP/HTTP span exporter of tokenledger's own provider: the OpenTelemetry exporter (protobuf by
 * default, JSON for `http/json`; it reads the other OTEL_EXPORTER_OTLP_* variables itself), made so
 * that it never keeps the app's process alive: sockets unref'd (./unref-agent.ts) and retries that
 * wait in the background (./background-retry.ts).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the exporters are required on first use */
import { diag } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { otlpHeadersAuthorization } from '../collector-api';
import { tracesEndpoint } from '../endpoint';
import { envString } from '../env';
import { retryInBackground } from './background-retry';
import { endpointForMessages, warnIfRefused } from './refused-export';
import { unrefAgentFactory } from './unref-agent';
import { SETTING_UNSUPPORTED, warnOnce } from '../warn-once';

function createExporter(): SpanExporter {
  const protocol = (
    envString('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    envString('OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf'
  ).toLowerCase();
  const config: {
    url?: string;
    headers?: Record<string, string>;
    httpAgentOptions: typeof unrefAgentFactory;
  } = { httpAgentOptions: unrefAgentFactory };
  if (!envString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') && !envString('OTEL_EXPORTER_OTLP_ENDPOINT')) {
    config.url = tracesEndpoint();
  }
  const apiKey = envString('TOKENLEDGER_API_KEY');
  if (apiKey && otlpHeadersAuthorization() === undefined)
    config.headers = { Authorization: `Bearer ${apiKey}` };
  let exporter: SpanExporter;
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter(config);
  } else {
    if (protocol !== 'http/protobuf') {
      warnOnce(
        SETTING_UNSUPPORTED,
        `tokenledger: OTLP protocol '${protocol}' is not supported: spans are sent as http/protobuf to ` +
          `${endpointForMessages(tracesEndpoint())}, which must be an OTLP/HTTP endpoint (port 4318, not gRPC's 4317)`,
        'protocol',
      );
    }
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
    exporter = new OTLPTraceExporter(config);
  }
  if (!retryInBackground(exporter)) {
    diag.warn(
      'tokenledger: unexpected OTLP exporter layout; its retries may hold a finished process open for up to the export timeout',
    );
  }
  return exporter;
}

/** Creates the exporter on the first export, so startup does not load the OTLP encoding stack. */
export class LazyExporter implements SpanExporter {
  private exporter: SpanExporter | undefined;

  constructor(private readonly make: () => SpanExporter = createExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      this.exporter ??= this.make();
    } catch (error) {
      diag.error('tokenledger: could not create the OTLP exporter', error);
      resultCallback({ code: 1 /* ExportResultCode.FAILED */, error: error as Error });
      return;
    }
    this.exporter.export(spans, (result) => {
      warnIfRefused(result);
      resultCallback(result);
    });
  }

  async forceFlush(): Promise<void> {
    await this.exporter?.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.exporter?.shutdown();
  }
}

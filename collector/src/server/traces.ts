/**
 * POST /v1/traces — the OTLP/HTTP receiver. Acks (200) only after the calls are stored; a body
 * that is not OTLP gets 400 (not retryable), storage trouble 503 + Retry-After (the exporter retries,
 * and the writer's dedupe makes the retry safe). The response is encoded like the request.
 */
import type { Request, Response } from 'express';
import { processTraceRequest } from '../ingest/pipeline';
import { decodeTraceRequest, mediaType, OtlpDecodeError, CONTENT_TYPE_PROTOBUF } from '../otlp';
import { getRequestType } from '../otlp/protobuf';
import type { Pricer } from '../pricing';
import type { CallWriter } from '../storage/writer';
import type { CollectorMetrics } from './metrics';

const RESPONSE_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse';

export interface TracesDeps {
  pricer: Pricer;
  writer: CallWriter;
  metrics: CollectorMetrics;
  log: (line: string) => void;
}

function reply(res: Response, protobuf: boolean, status: number, rejected: number, message: string): void {
  res.status(status);
  const partial = rejected > 0 || message ? { rejectedSpans: rejected, errorMessage: message } : undefined;
  if (protobuf && status === 200) {
    const type = getRequestType().root.lookupType(RESPONSE_TYPE);
    const body = type.encode(type.fromObject(partial ? { partialSuccess: partial } : {})).finish();
    res.type(CONTENT_TYPE_PROTOBUF).send(Buffer.from(body));
    return;
  }
  if (status === 200) {
    res.json(partial ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } } : {});
    return;
  }
  res.json({ code: status, message });
}

export function tracesHandler(deps: TracesDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const contentType = req.headers['content-type'] ?? '';
    const protobuf = mediaType(contentType) !== 'application/json';
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let result;
    try {
      result = processTraceRequest(decodeTraceRequest(body, contentType), deps.pricer);
    } catch (err) {
      if (err instanceof OtlpDecodeError) {
        deps.metrics.add('tokenledger_otlp_decode_errors_total');
        reply(res, false, err.statusCode, 0, err.message);
        return;
      }
      throw err;
    }
    deps.metrics.add('tokenledger_spans_received_total', result.spans + result.rejectedSpans);
    deps.metrics.add('tokenledger_spans_rejected_total', result.rejectedSpans);
    try {
      const written = await deps.writer.write(result.calls);
      deps.metrics.add('tokenledger_calls_stored_total', written.inserted);
      deps.metrics.add('tokenledger_calls_duplicate_total', written.duplicates);
      deps.metrics.add('tokenledger_calls_unpriced_total', result.unpricedCalls);
    } catch (err) {
      deps.metrics.add('tokenledger_storage_errors_total');
      deps.log(`ingest: ${(err as Error).message}`);
      res.set('Retry-After', '5');
      reply(res, false, 503, 0, 'storage unavailable; retry later');
      return;
    }
    reply(res, protobuf, 200, result.rejectedSpans, result.errorMessage);
  };
}

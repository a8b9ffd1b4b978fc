/**
 * OTLP/HTTP responses, encoded like the request (the spec: same Content-Type as received).
 * Success is an ExportTraceServiceResponse (with partial_success when spans were rejected);
 * every 4xx/5xx carries a google.rpc.Status, whose `code` is advisory (the HTTP status decides
 * whether the exporter retries).
 */
import type { Request, Response } from 'express';
import * as protobuf from 'protobufjs';
import { CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, mediaType } from '../ingest/otlp/decode';
import { getRequestType } from '../ingest/otlp/protobuf';

const RESPONSE_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse';

/** gRPC canonical codes for the HTTP statuses the receiver answers with. */
const GRPC_CODE: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  413: 3,
  415: 3,
  429: 8, // RESOURCE_EXHAUSTED
  500: 13, // INTERNAL
  503: 14, // UNAVAILABLE
};

/** Whether the OTLP request (and so its response) is binary protobuf. */
function wantsProtobuf(req: Request): boolean {
  const type = mediaType(req.headers['content-type'] ?? '');
  return type === CONTENT_TYPE_PROTOBUF || type === 'application/protobuf';
}

/** google.rpc.Status { int32 code = 1; string message = 2; } — details are not used. */
function encodeStatus(code: number, message: string): Uint8Array {
  return protobuf.Writer.create().uint32(0x08).int32(code).uint32(0x12).string(message).finish();
}

export function sendOtlpError(req: Request, res: Response, status: number, message: string): void {
  const code = GRPC_CODE[status] ?? 2; // UNKNOWN
  res.status(status);
  if (wantsProtobuf(req)) res.type(CONTENT_TYPE_PROTOBUF).send(Buffer.from(encodeStatus(code, message)));
  else res.type(CONTENT_TYPE_JSON).send(JSON.stringify({ code, message }));
}

export function sendOtlpSuccess(
  req: Request,
  res: Response,
  rejectedSpans: number,
  errorMessage: string,
): void {
  const partial = rejectedSpans > 0 || errorMessage !== '';
  res.status(200);
  if (wantsProtobuf(req)) {
    const type = getRequestType().root.lookupType(RESPONSE_TYPE);
    const message = partial ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
    res.type(CONTENT_TYPE_PROTOBUF).send(Buffer.from(type.encode(type.fromObject(message)).finish()));
    return;
  }
  // OTLP JSON: int64 as a decimal string.
  res.json(partial ? { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } } : {});
}

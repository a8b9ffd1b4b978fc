/**
 * application/x-protobuf: the vendored official opentelemetry-proto schema (protobufjs), and the
 * decoding entry point.
 *
 * Requests are decoded by ./protobuf-reader.ts, field by field straight into the normalised shape.
 * The schema is loaded at runtime (once, on first use) for what still needs message types: the
 * export response and tests that craft bodies.
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import Long from 'long';
import { OtlpDecodeError } from './errors';
import { readTraceRequest } from './protobuf-reader';
import type { OtlpTraceRequest } from './types';
import { PACKAGE_DIR } from '../../core/package-dir';

/** The OTLP definitions the package ships in `proto/`. */
const PROTO_DIR = path.join(PACKAGE_DIR, 'proto');
const REQUEST_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const REQUEST_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';

let requestType: protobuf.Type | undefined;

/** The ExportTraceServiceRequest type, loaded on first use (exported for tests that craft bodies). */
export function getRequestType(): protobuf.Type {
  if (requestType) return requestType;
  useLongForInt64();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(REQUEST_PROTO);
  requestType = root.lookupType(REQUEST_TYPE);
  return requestType;
}

/** int64 fields need 64-bit precision: protobufjs reads them as Long once `long` is configured. */
function useLongForInt64(): void {
  if (!protobuf.util.Long) {
    protobuf.util.Long = Long;
    protobuf.configure();
  }
}

export function decodeProtobuf(body: Uint8Array): OtlpTraceRequest {
  useLongForInt64();
  try {
    return readTraceRequest(body);
  } catch (err) {
    throw new OtlpDecodeError(`invalid OTLP protobuf body: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A tiny OTLP/HTTP JSON receiver for instrumentation tests: the app under test exports with
 * `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` to `sink.url`, and the test reads `sink.spans`, each
 * with its attributes and resource attributes decoded to plain objects (ints as numbers).
 * Protobuf bodies are answered 200 and counted in `requests` but not decoded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

export interface SinkSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind number: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, PlainValue>;
  /** 0 unset, 1 ok, 2 error */
  status: { code: number; message?: string };
  resource: Record<string, PlainValue>;
  scope: { name: string; version?: string };
}

export interface SinkRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  contentType: string;
  spanCount: number;
  /** The decoded (gunzipped) body, so tests can run it through the collector's own pipeline. */
  body: Buffer;
}

export interface OtlpSink {
  /** Base URL to use as OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  url: string;
  spans: SinkSpan[];
  requests: SinkRequest[];
  /** Resolves with the spans once at least `count` arrived (rejects after timeoutMs). */
  waitForSpans(count: number, timeoutMs?: number): Promise<SinkSpan[]>;
  reset(): void;
  close(): Promise<void>;
}

interface AnyValueJSON {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueJSON[] };
  kvlistValue?: { values?: KeyValueJSON[] };
  bytesValue?: string;
}
interface KeyValueJSON {
  key: string;
  value?: AnyValueJSON;
}

export function decodeAnyValue(v: AnyValueJSON | undefined): PlainValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decodeAnyValue);
  if (v.kvlistValue !== undefined) return decodeAttributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

export function decodeAttributes(kvs: KeyValueJSON[] | undefined): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = decodeAnyValue(kv.value);
  return out;
}

interface TraceRequestJSON {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValueJSON[] };
    scopeSpans?: Array<{
      scope?: { name?: string; version?: string };
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: KeyValueJSON[];
        status?: { code?: number; message?: string };
      }>;
    }>;
  }>;
}

export function decodeTraceRequestJSON(json: TraceRequestJSON): SinkSpan[] {
  const out: SinkSpan[] = [];
  for (const rs of json.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version };
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          kind: s.kind ?? 0,
          startTimeUnixNano: String(s.startTimeUnixNano),
          endTimeUnixNano: String(s.endTimeUnixNano),
          attributes: decodeAttributes(s.attributes),
          status: { code: s.status?.code ?? 0, ...(s.status?.message ? { message: s.status.message } : {}) },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const spans: SinkSpan[] = [];
  const requests: SinkRequest[] = [];
  const waiters = new Set<() => void>();

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      let body = Buffer.concat(parts);
      const contentType = String(req.headers['content-type'] ?? '');
      const path = (req.url ?? '').split('?')[0]!;
      let received: SinkSpan[] = [];
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (contentType.startsWith('application/json')) {
          received = decodeTraceRequestJSON(JSON.parse(body.toString('utf8')) as TraceRequestJSON);
        }
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"code":3,"message":"bad request"}');
        return;
      }
      requests.push({ path, headers: req.headers, contentType, spanCount: received.length, body });
      spans.push(...received);
      for (const w of waiters) w();
      const json = contentType.startsWith('application/json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitForSpans(count, timeoutMs = 10_000) {
      if (spans.length >= count) return Promise.resolve(spans.slice());
      return new Promise((ok, fail) => {
        const check = (): void => {
          if (spans.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            ok(spans.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`expected ${count} spans, got ${spans.length} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    reset() {
      spans.length = 0;
      requests.length = 0;
    },
    close() {
      return new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      });
    },
  };
}

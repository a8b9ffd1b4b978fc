/**
 * What one OTLP request may cost the collector: stored values capped (and flagged), the memory of
 * requests in flight bounded (429 + Retry-After beyond it, 413 for a request that could never fit),
 * JSON nested past what the decoder reads never built, inserts in bounded blocks. Against the real
 * engine (embedded) through the collector's own HTTP app.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import { decodeCost } from '../../collector/src/ingest/otlp/decode-cost';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { MAX_JSON_DEPTH, pruneDeepJson } from '../../collector/src/ingest/otlp/json-depth';
import { capText } from '../../collector/src/ingest/value-cap';
import { Pricer } from '../../collector/src/pricing/pricer';
import type { Storage } from '../../collector/src/storage/client';
import { loadMigrations, migrate } from '../../collector/src/storage/migrations';
import { CallWriter } from '../../collector/src/storage/writer';
import { attr, jsonRequest, protobufRequest, type WireSpan } from '../../faults/support/otlp-wire';
import { extractedCall, nanos } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';

const INGEST_KEY = 'ingest-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789';
const PB = 'application/x-protobuf';
const MiB = 1024 * 1024;

let seq = 0;
function callSpan(attributes: ReturnType<typeof attr>[] = [], start = Date.now() - 60_000): WireSpan {
  seq++;
  const id = seq.toString(16).padStart(16, '0');
  const at = BigInt(start) * 1_000_000n;
  return {
    traceId: `c0ffee00${'0'.repeat(8)}${id}`,
    spanId: id,
    name: 'chat gpt-4o-mini',
    startNanos: at,
    endNanos: at + 500_000_000n,
    attributes: [
      attr('gen_ai.operation.name', 'chat'),
      attr('gen_ai.provider.name', 'openai'),
      attr('gen_ai.request.model', 'gpt-4o-mini'),
      attr('gen_ai.usage.input_tokens', 100),
      attr('gen_ai.usage.output_tokens', 10),
      ...attributes,
    ],
  };
}

interface Served {
  url: string;
  server: Server;
  metrics: CollectorMetrics;
  writer: CallWriter;
}

async function serve(
  storage: Storage,
  opts: { maxIngestBytes?: number; maxBodyBytes?: number } = {},
): Promise<Served> {
  const metrics = new CollectorMetrics();
  const writer = new CallWriter(storage);
  const app = createApp({
    storage,
    writer,
    pricer: new Pricer(),
    keys: new KeyRing([
      { role: 'ingest', key: INGEST_KEY },
      { role: 'admin', key: ADMIN_KEY },
    ]),
    metrics,
    maxBodyBytes: opts.maxBodyBytes ?? 16 * MiB,
    ...(opts.maxIngestBytes !== undefined ? { maxIngestBytes: opts.maxIngestBytes } : {}),
    log: () => undefined,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, metrics, writer };
}

function post(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': PB, ...headers },
    body,
  });
}

function metric(served: Served, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(served.metrics.render());
  return Number(m?.[1] ?? NaN);
}

describe('stored values are capped at 256 characters and flagged', () => {
  let storage: Storage;
  let served: Served;
  before(async () => {
    storage = await freshStorage();
    served = await serve(storage);
  });
  after(() => served.server.close());

  const query = async <T>(sql: string): Promise<T[]> =>
    (await storage.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();

  it('cuts by code points, never inside a surrogate pair, into a string of its own', () => {
    assert.equal(capText('short', 8), 'short');
    assert.equal(capText('x'.repeat(300), 256), 'x'.repeat(256));
    const emoji = 'a' + '💸'.repeat(300); // 1 + 600 UTF-16 units
    const cut = capText(emoji, 256);
    assert.equal([...cut].length, 256);
    assert.ok(cut.isWellFormed());
    assert.equal(cut, 'a' + '💸'.repeat(255));
  });

  it('stores an 8 MiB team name as its first 256 characters, flags the row, and counts it', async () => {
    const huge = 'platform-'.repeat(Math.ceil((8 * MiB) / 9));
    const longModel = 'gpt-4o-mini-' + 'm'.repeat(1000);
    const spans = [
      callSpan([attr('tokenledger.team', huge), attr('tokenledger.feature', 'capped')]),
      callSpan([attr('tokenledger.customer', '💸'.repeat(300)), attr('tokenledger.feature', 'capped')]),
      callSpan([attr('tokenledger.team', 'search'), attr('tokenledger.feature', 'capped')]),
    ];
    spans[1]!.attributes[2] = attr('gen_ai.request.model', longModel);
    const res = await post(
      served.url,
      protobufRequest({ resource: [attr('service.name', 'svc')], scope: 'tokenledger', spans }),
    );
    assert.equal(res.status, 200);
    const rows = await query<{ team: string; customer: string; request_model: string; truncated: number }>(
      `SELECT team, customer, request_model, truncated FROM ${storage.database}.llm_calls WHERE feature = 'capped' ORDER BY span_id`,
    );
    assert.deepEqual(
      rows.map((r) => [[...r.team].length, [...r.customer].length, [...r.request_model].length, r.truncated]),
      [
        [256, 0, 11, 1],
        [0, 256, 256, 1],
        [6, 0, 11, 0],
      ],
    );
    assert.equal(rows[0]!.team, huge.slice(0, 256));
    assert.equal(metric(served, 'tokenledger_calls_truncated_total'), 2);
    // Reports carry the cut value: a team report is small again, and a filter on the cut value finds it.
    const report = await fetch(
      `${served.url}/v1/reports/spend?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date().toISOString()}&groupBy=team&feature=capped&team=${huge.slice(0, 256)}`,
      { headers: { authorization: `Bearer ${ADMIN_KEY}` } },
    );
    const text = await report.text();
    assert.equal(report.status, 200, text);
    assert.ok(text.length < 2_000, `${text.length} bytes`);
    assert.deepEqual(
      (JSON.parse(text) as { breakdown: Array<{ team: string; calls: number }> }).breakdown.map(
        (b) => b.calls,
      ),
      [1],
    );
  });

  it('caps and flags uninstrumented AI requests too', async () => {
    const at = BigInt(Date.now() - 60_000) * 1_000_000n;
    const http: WireSpan = {
      traceId: 'dd'.repeat(16),
      spanId: 'ee'.repeat(8),
      name: 'POST',
      startNanos: at,
      endNanos: at + 1_000_000n,
      attributes: [
        attr('http.request.method', 'POST'),
        attr('url.full', 'https://api.openai.com/v1/chat/completions'),
        attr('server.address', 'api.openai.com'),
      ],
    };
    const res = await post(
      served.url,
      protobufRequest({
        resource: [attr('service.name', 's'.repeat(5000))],
        scope: '@opentelemetry/instrumentation-undici',
        spans: [http],
      }),
    );
    assert.equal(res.status, 200);
    const [row] = await query<{ service: string; truncated: number }>(
      `SELECT service, truncated FROM ${storage.database}.ai_http_calls WHERE span_id = '${'ee'.repeat(8)}'`,
    );
    assert.deepEqual(row, { service: 's'.repeat(256), truncated: 1 });
  });

  it('a store from before the flag gains it, its rows reading 0', async () => {
    const old = await freshStorage({ migrate: false });
    const all = loadMigrations();
    const flag = all.find((m) => m.name.endsWith('_truncated_values'))!;
    await migrate(
      old,
      all.filter((m) => m.version < flag.version),
    );
    await old.client.command({
      query: `INSERT INTO ${old.database}.llm_calls (trace_id, span_id, start_time) VALUES ('old', 'old', '2026-11-15 00:00:00')`,
    });
    assert.ok((await migrate(old, all)).includes(flag.version));
    const rows = await (
      await old.client.query({
        query: `SELECT span_id, truncated FROM ${old.database}.llm_calls`,
        format: 'JSONEachRow',
      })
    ).json();
    assert.deepEqual(rows, [{ span_id: 'old', truncated: 0 }]);
  });
});

describe('OTLP receiver memory budget', () => {
  let storage: Storage;
  before(async () => {
    storage = await freshStorage();
  });

  it('estimates decoding from what becomes objects, not from bytes alone', () => {
    const spans = Array.from({ length: 1000 }, () => callSpan());
    const pb = protobufRequest({ resource: [], scope: 'tokenledger', spans });
    const cost = decodeCost(pb, PB);
    assert.equal(cost.spans, 1000);
    assert.ok(cost.bytes > 5 * pb.length, `${cost.bytes} for ${pb.length} bytes`);
    // 3 bytes per JSON object: an object flood costs far more than its size.
    const flood = Buffer.from(`{"resourceSpans":[${'{},'.repeat(100_000)}{}]}`);
    assert.ok(decodeCost(flood, 'application/json').bytes > 30 * flood.length);
    assert.equal(decodeCost(flood, 'text/plain').bytes, 0);
  });

  it('answers 413 to a request that would take more memory to decode than the whole budget', async () => {
    const served = await serve(storage, { maxIngestBytes: 2 * MiB, maxBodyBytes: 2 * MiB });
    try {
      const spans = Array.from({ length: 3_000 }, () => callSpan());
      const body = protobufRequest({ resource: [], scope: 'tokenledger', spans });
      assert.ok(body.length < MiB);
      const res = await post(served.url, body);
      assert.equal(res.status, 413);
      const status = (await res.arrayBuffer()).byteLength;
      assert.ok(status > 0);
      assert.equal(metric(served, 'tokenledger_otlp_too_large_total'), 1);
      // Smaller batches of the same spans are taken.
      for (let i = 0; i < spans.length; i += 500) {
        const part = protobufRequest({ resource: [], scope: 'tokenledger', spans: spans.slice(i, i + 500) });
        assert.equal((await post(served.url, part)).status, 200);
      }
      assert.equal(metric(served, 'tokenledger_calls_stored_total'), 3_000);
      assert.equal(metric(served, 'tokenledger_ingest_bytes_in_flight'), 0);
    } finally {
      served.server.close();
    }
  });

  it('sheds a request with 429 + Retry-After while others hold the budget, and takes it once they are done', async () => {
    const served = await serve(storage, { maxIngestBytes: 3 * MiB, maxBodyBytes: 3 * MiB });
    // One call and an unknown field (99) making up the size: read past by both the estimate and
    // the decoder, so decoding costs about three times the body.
    const padded = (size: number): Buffer => {
      const call = protobufRequest({ resource: [], scope: 'tokenledger', spans: [callSpan()] });
      const varint = (n: number): number[] => {
        const out: number[] = [];
        for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
        return [...out, n];
      };
      const pad = Math.floor(size) - call.length - 6; // tag (2 bytes) and a 4-byte length
      return Buffer.concat([call, Buffer.from([0x9a, 0x06, ...varint(pad)]), Buffer.alloc(pad)]);
    };
    try {
      // A slow sender holds what it sent of 0.9 MiB: it declared its length, and sends all but the end.
      const slow = padded(0.9 * MiB);
      const held = http.request(new URL(`${served.url}/v1/traces`), {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': PB, 'content-length': slow.length },
      });
      const heldAnswer = new Promise<number>((resolve) =>
        held.on('response', (r) => (r.resume(), resolve(r.statusCode!))),
      );
      const sent = slow.length - 10;
      held.write(slow.subarray(0, sent));
      for (let i = 0; i < 200 && metric(served, 'tokenledger_ingest_bytes_in_flight') < sent; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(metric(served, 'tokenledger_ingest_bytes_in_flight'), sent);

      // Its body would not fit beside it: shed while it arrives.
      const large = await post(served.url, padded(2.5 * MiB));
      assert.equal(large.status, 429);
      assert.equal(large.headers.get('retry-after'), '1');
      // Its body fits, but decoding it would not (~3 times its size).
      const medium = padded(0.8 * MiB);
      const busy = await post(served.url, medium);
      assert.equal(busy.status, 429);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.match(await busy.text(), /collector busy: too much OTLP data in flight/); // a google.rpc.Status
      assert.equal(metric(served, 'tokenledger_otlp_memory_shed_total'), 2);

      held.end(slow.subarray(slow.length - 10));
      assert.equal(await heldAnswer, 200);
      assert.equal((await post(served.url, medium)).status, 200); // its retry is taken
      assert.equal(metric(served, 'tokenledger_calls_stored_total'), 2);
      assert.equal(metric(served, 'tokenledger_ingest_bytes_in_flight'), 0);
    } finally {
      served.server.close();
    }
  });

  it('holds only what a stalled sender sent, not the length it declared', async () => {
    const served = await serve(storage, { maxIngestBytes: 3 * MiB, maxBodyBytes: 3 * MiB });
    const inFlight = async (bytes: number): Promise<void> => {
      for (let i = 0; i < 200 && metric(served, 'tokenledger_ingest_bytes_in_flight') !== bytes; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(metric(served, 'tokenledger_ingest_bytes_in_flight'), bytes);
    };
    try {
      const stalled = http.request(new URL(`${served.url}/v1/traces`), {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': PB, 'content-length': 2.5 * MiB },
      });
      stalled.on('error', () => undefined);
      stalled.write(Buffer.alloc(1024));
      await inFlight(1024);
      // ~0.9 MB to read and decode: it would not fit beside 2.5 MiB held for the declared length.
      const spans = Array.from({ length: 300 }, () => callSpan());
      const res = await post(served.url, protobufRequest({ resource: [], scope: 'tokenledger', spans }));
      assert.equal(res.status, 200);
      stalled.destroy();
      await inFlight(0);
    } finally {
      served.server.close();
    }
  });

  it('stops inflating a gzip bomb at the body limit, and holds nothing afterwards', async () => {
    const served = await serve(storage, { maxIngestBytes: 4 * MiB, maxBodyBytes: MiB });
    try {
      const bomb = gzipSync(Buffer.alloc(64 * MiB));
      const res = await post(served.url, bomb, { 'content-encoding': 'gzip' });
      assert.equal(res.status, 413);
      assert.equal(metric(served, 'tokenledger_ingest_bytes_in_flight'), 0);
      const br = await post(served.url, Buffer.from('not brotli'), { 'content-encoding': 'br' });
      assert.equal(br.status, 400);
      const zstd = await post(served.url, Buffer.from('x'), { 'content-encoding': 'compress' });
      assert.equal(zstd.status, 415);
    } finally {
      served.server.close();
    }
  });
});

describe('OTLP JSON nested past what the decoder reads', () => {
  it('is cut before parsing, and decodes to exactly what it decoded before', () => {
    const shallow = jsonRequest({ resource: [], scope: 's', spans: [callSpan()] });
    assert.equal(pruneDeepJson(shallow), shallow); // nothing to cut: the same buffer
    const raw = Buffer.from(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    const cut = pruneDeepJson(raw);
    assert.equal(cut.toString(), `${'['.repeat(MAX_JSON_DEPTH)}null${']'.repeat(MAX_JSON_DEPTH)}`);
    assert.throws(() => decodeTraceRequest(raw, 'application/json'), /expected an object, got array/);
    // Strings holding brackets are not nesting.
    const tricky = Buffer.from(`{"a":"${'['.repeat(500)}\\"","b":[1]}`);
    assert.equal(pruneDeepJson(tricky, 1).toString(), `{"a":"${'['.repeat(500)}\\"","b":null}`);
  });
});

describe('inserts in bounded blocks', () => {
  it('writes one export of 12,000 calls in blocks of at most 5,000 rows, once', async () => {
    const storage = await freshStorage();
    const inserts: number[] = [];
    // The writer inserts its rows' text (JSONCompactEachRow, a line a row) through exec (decision 0100).
    const exec = storage.client.exec.bind(storage.client);
    storage.client.exec = (async (params: Parameters<typeof exec>[0]) => {
      // The calls' inserts (an hour that has ended is also marked for the rollup: another table).
      if (!('values' in params) || !/^INSERT INTO \S+\.llm_calls \(/.test(params.query)) return exec(params);
      let text = '';
      for await (const chunk of params.values) text += String(chunk);
      inserts.push(text.split('\n').filter(Boolean).length);
      return exec({ ...params, values: Readable.from([text]) });
    }) as typeof exec;
    const pricer = new Pricer();
    const start = Date.now() - 3_600_000;
    const calls = Array.from({ length: 12_000 }, (_, i) =>
      pricer.price(
        extractedCall({
          traceId: (i + 1).toString(16).padStart(32, 'a'),
          spanId: (i + 1).toString(16).padStart(16, '0'),
          startTimeUnixNano: nanos(new Date(start), BigInt(i)),
        }),
      ),
    );
    const writer = new CallWriter(storage);
    assert.deepEqual(await writer.write(calls), { inserted: 12_000, duplicates: 0 });
    assert.deepEqual(inserts, [5_000, 5_000, 2_000]);
    assert.deepEqual(await writer.write(calls), { inserted: 0, duplicates: 12_000 });
    const [row] = await (
      await storage.client.query({
        query: `SELECT count() AS n FROM ${storage.database}.llm_calls`,
        format: 'JSONEachRow',
      })
    ).json<{ n: string }>();
    assert.equal(Number(row!.n), 12_000);
  });
});

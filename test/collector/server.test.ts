import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import * as protobuf from 'protobufjs';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { getRequestType } from '../../collector/src/ingest/otlp/protobuf';
import { Pricer } from '../../collector/src/pricing/pricer';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import { openStorage, type Storage } from '../../collector/src/storage/client';
import { CallWriter } from '../../collector/src/storage/writer';
import { freshStorage } from '../support/embedded-storage';
import { jsonBody, protobufBody, recordSpans } from './otlp-helpers';

const KEYS = {
  admin: 'admin-key-0123456789',
  ingest: 'ingest-key-0123456789',
  viewer: 'viewer-key-0123456789',
  approver: 'approver-key-0123456789',
};

async function serve(
  storage: Storage,
  more: Partial<Parameters<typeof createApp>[0]> = {},
): Promise<{ url: string; server: Server; logs: string[] }> {
  const logs: string[] = [];
  const app = createApp({
    ...more,
    storage,
    writer: new CallWriter(storage),
    pricer: new Pricer(),
    keys: new KeyRing([
      { role: 'admin', key: KEYS.admin },
      { role: 'ingest', key: KEYS.ingest },
      { role: 'viewer', key: KEYS.viewer },
      { role: 'approver', key: KEYS.approver },
    ]),
    metrics: new CollectorMetrics(),
    maxBodyBytes: 1024 * 1024,
    log: (l) => logs.push(l),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, logs };
}

const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/** google.rpc.Status { int32 code = 1; string message = 2; } from an OTLP error response. */
async function rpcStatus(res: Response): Promise<{ code: number; message: string }> {
  assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
  const reader = protobuf.Reader.create(new Uint8Array(await res.arrayBuffer()));
  const status = { code: 0, message: '' };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 0x08) status.code = reader.int32();
    else if (tag === 0x12) status.message = reader.string();
    else reader.skipType(tag & 7);
  }
  return status;
}

function genaiSpans(start = new Date()) {
  return recordSpans({ 'service.name': 'svc', 'tokenledger.team': 'platform' }, [
    {
      name: 'chat gpt-4o',
      startTime: start,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 200,
      },
    },
    {
      name: 'chat mystery',
      startTime: start,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'mystery-model-9000',
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.output_tokens': 1,
      },
    },
  ]);
}

describe('collector HTTP API', () => {
  let storage: Storage;
  let url: string;
  let server: Server;

  beforeEach(async () => {
    storage = await freshStorage();
    ({ url, server } = await serve(storage));
  });
  afterEach(() => server.close());

  const report = async (query = 'groupBy=team,model'): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}/v1/reports/spend?${query}`, { headers: auth(KEYS.viewer) });
    assert.equal(res.status, 200);
    return (await res.json()) as Record<string, unknown>;
  };

  it('serves /healthz without a key and everything else only with one', async () => {
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', storage: 'ok' });
    assert.equal((await fetch(`${url}/v1/reports/spend`)).status, 401);
    assert.equal((await fetch(`${url}/v1/reports/spend`, { headers: auth('not-a-key') })).status, 401);
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    assert.equal((await fetch(`${url}/v1/traces`, { method: 'POST' })).status, 401);
  });

  it('enforces scopes: ingest keys only ingest, viewer keys only read', async () => {
    const body = jsonBody(genaiSpans());
    const post = (key: string) =>
      fetch(`${url}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body,
      });
    assert.equal((await post(KEYS.viewer)).status, 403);
    assert.equal((await post(KEYS.ingest)).status, 200);
    assert.equal((await post(KEYS.admin)).status, 200);
    const denied = await fetch(`${url}/v1/reports/spend`, { headers: auth(KEYS.ingest) });
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { error: string }).error, /ingest key cannot read/);
  });

  it('ingests protobuf (answering in protobuf) and gzip JSON; stores the unknown model flagged unpriced', async () => {
    const pb = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf' },
      body: protobufBody(genaiSpans()),
    });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers.get('content-type'), 'application/x-protobuf');
    const responseType = getRequestType().root.lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
    );
    assert.deepEqual(responseType.toObject(responseType.decode(new Uint8Array(await pb.arrayBuffer()))), {});

    const gz = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(jsonBody(genaiSpans())),
    });
    assert.equal(gz.status, 200);
    assert.deepEqual(await gz.json(), {});

    const r = await report();
    assert.equal(r.total_usd, '0.009');
    const rows = r.breakdown as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.map((x) => [x.team, x.model, x.spend_usd, x.calls, x.unpriced_calls]),
      [
        ['platform', 'gpt-4o', '0.009', 2, 0],
        ['platform', 'mystery-model-9000', '0', 2, 2],
      ],
    );
    const csv = await fetch(`${url}/v1/reports/spend?groupBy=model&format=csv`, {
      headers: auth(KEYS.viewer),
    });
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(
      await csv.text(),
      /^model,spend_usd,calls,input_tokens,output_tokens,unpriced_calls\ngpt-4o,0.009,2,2000,400,0\n/,
    );
  });

  it('counts a retried batch once', async () => {
    const body = protobufBody(genaiSpans());
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf' },
        body,
      });
      assert.equal(res.status, 200);
    }
    assert.equal((await report()).total_usd, '0.0045');
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth(KEYS.admin) })).text();
    assert.match(metrics, /tokenledger_calls_stored_total 2\n/);
    assert.match(metrics, /tokenledger_calls_duplicate_total 4\n/);
  });

  it('answers a malformed body with 400 and a clear message, and keeps serving', async () => {
    const bad = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf' },
      body: Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]),
    });
    assert.equal(bad.status, 400);
    // OTLP/HTTP: a failed protobuf request gets a protobuf google.rpc.Status (INVALID_ARGUMENT).
    const status = await rpcStatus(bad);
    assert.equal(status.code, 3);
    assert.match(status.message, /^invalid OTLP protobuf body/);
    const badJson = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
      body: '{"resourceSpans": 5}',
    });
    assert.equal(badJson.status, 400);
    assert.match(badJson.headers.get('content-type') ?? '', /^application\/json/);
    const jsonStatus = (await badJson.json()) as { code: number; message: string };
    assert.equal(jsonStatus.code, 3);
    assert.match(jsonStatus.message, /invalid OTLP JSON/);
    const badGzip = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: 'not gzip',
    });
    assert.equal(badGzip.status, 400);
    const unsupported = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(unsupported.status, 415);
    const tooBig = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024, 32),
    });
    assert.equal(tooBig.status, 413);
    const tooBigPb = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.alloc(2 * 1024 * 1024)), // small on the wire, too big inflated
    });
    assert.equal(tooBigPb.status, 413);
    assert.match((await rpcStatus(tooBigPb)).message, /body larger than 1048576 bytes/);
    // Still serving, nothing stored from the bad requests.
    assert.equal((await report()).total_usd, '0');
  });

  it('stores the rest of a batch holding values storage cannot take, and tells the sender why', async () => {
    // Each of these once failed the whole insert (503, retried forever by the exporter, and taking
    // down the other batches written with it): a lone UTF-16 surrogate, a start time past what the
    // hourly rollup's DateTime holds, a token count beyond UInt64. A negative count became 0.
    const nowNs = (BigInt(Date.now()) * 1_000_000n).toString();
    let n = 0;
    const span = (attrs: Record<string, unknown>, start = nowNs) => {
      n++;
      const value = (v: unknown) => (typeof v === 'string' ? { stringValue: v } : { intValue: String(v) });
      return {
        traceId: 'c'.repeat(30) + String(n).padStart(2, '0'),
        spanId: 'd'.repeat(14) + String(n).padStart(2, '0'),
        name: `call ${n}`,
        kind: 3,
        startTimeUnixNano: start,
        endTimeUnixNano: start,
        attributes: Object.entries({
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 200,
          ...attrs,
        }).map(([key, v]) => ({ key, value: value(v) })),
      };
    };
    const team = (name: string) => ({ key: 'tokenledger.team', value: { stringValue: name } });
    // Lone surrogates can only be written as JSON escapes.
    const body = JSON.stringify({
      resourceSpans: [
        { resource: { attributes: [team('platform')] }, scopeSpans: [{ spans: [span({})] }] },
        {
          resource: { attributes: [team('CUT_EMOJI')] },
          scopeSpans: [{ spans: [span({ 'gen_ai.request.model': 'gpt-4oCUT_EMOJI' })] }],
        },
        {
          resource: { attributes: [team('bad-usage')] },
          scopeSpans: [
            {
              spans: [
                span({ 'gen_ai.usage.input_tokens': '99999999999999999999999' }),
                span({ 'gen_ai.usage.output_tokens': -5 }),
                span({}, '13574563200000000000'), // year 2400
              ],
            },
          ],
        },
      ],
    }).replaceAll('CUT_EMOJI', '\\ud83d');
    const res = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 200);
    const { partialSuccess } = (await res.json()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    assert.equal(partialSuccess.rejectedSpans, '1');
    assert.match(
      partialSuccess.errorMessage,
      /span 'call 5'.*startTimeUnixNano 13574563200000000000 is after 2106/,
    );
    assert.match(
      partialSuccess.errorMessage,
      /span 'call 3' .*gen_ai\.usage\.input_tokens="99999999999999999999999": not a token count.*stored unpriced \(and 1 more/,
    );
    const rows = (await report()).breakdown as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.map((x) => [x.team, x.model, x.spend_usd, x.calls, x.unpriced_calls]),
      [
        ['platform', 'gpt-4o', '0.0045', 1, 0],
        ['bad-usage', 'gpt-4o', '0', 2, 2],
        ['\ufffd', 'gpt-4o\ufffd', '0', 1, 1],
      ],
    );
  });

  it('answers bad report parameters with 400 naming the parameter', async () => {
    const res = await fetch(`${url}/v1/reports/spend?groupBy=team,password`, { headers: auth(KEYS.viewer) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /unknown groupBy "password"/);
    const p = await fetch(`${url}/v1/reports/spend?period=fortnight`, { headers: auth(KEYS.viewer) });
    assert.equal(p.status, 400);
    assert.match(((await p.json()) as { error: string }).error, /unknown period "fortnight"/);
    const unknown = await fetch(`${url}/v1/reports/spend?colour=red`, { headers: auth(KEYS.viewer) });
    assert.equal(unknown.status, 400);
    assert.match(
      ((await unknown.json()) as { error: string }).error,
      /unknown parameter "colour": use period, from, to, groupBy, format, or a filter on team, cost_center/,
    );
    const format = await fetch(`${url}/v1/reports/spend?format=xml`, { headers: auth(KEYS.viewer) });
    assert.equal(format.status, 400);
    assert.match(((await format.json()) as { error: string }).error, /format must be json or csv/);
    const both = await fetch(`${url}/v1/reports/spend?period=last_month&from=2026-01-01&to=2026-02-01`, {
      headers: auth(KEYS.viewer),
    });
    assert.equal(both.status, 400);
  });

  it('filters the report by dimension values given as query parameters', async () => {
    const search = recordSpans({ 'service.name': 'svc', 'tokenledger.team': 'search' }, [
      {
        name: 'chat gpt-4o',
        startTime: new Date(),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 2000,
          'gen_ai.usage.output_tokens': 400,
        },
      },
    ]);
    for (const spans of [genaiSpans(), search]) {
      const res = await fetch(`${url}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
        body: jsonBody(spans),
      });
      assert.equal(res.status, 200);
    }
    assert.equal((await report('groupBy=team')).total_usd, '0.0135');
    const one = await report('groupBy=model&team=search');
    assert.equal(one.total_usd, '0.009');
    assert.deepEqual(one.filters, { team: ['search'] });
    const both = await report('team=search&team=platform&model=gpt-4o');
    assert.equal(both.total_usd, '0.0135');
    assert.deepEqual(both.filters, { team: ['search', 'platform'], model: ['gpt-4o'] });
  });

  it('answers OTLP auth failures with a google.rpc.Status, and lets approver keys read but not ingest', async () => {
    assert.equal((await fetch(`${url}/v1/reports/spend`, { headers: auth(KEYS.approver) })).status, 200);
    const approver = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.approver), 'content-type': 'application/json' },
      body: jsonBody(genaiSpans()),
    });
    assert.equal(approver.status, 403);
    assert.match(((await approver.json()) as { message: string }).message, /^an approver key cannot ingest/);
    const noKey = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: protobufBody(genaiSpans()),
    });
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(await rpcStatus(noKey), {
      code: 16,
      message: 'missing bearer key (Authorization: Bearer <key>)',
    });
    const viewer = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.viewer), 'content-type': 'application/json' },
      body: jsonBody(genaiSpans()),
    });
    assert.equal(viewer.status, 403);
    assert.deepEqual(await viewer.json(), {
      code: 7,
      message: 'a viewer key cannot ingest: use an ingest or admin key',
    });
  });

  it('answers 503 with Retry-After when ClickHouse is down, so the exporter retries', async () => {
    const down = openStorage({ clickhouseUrl: 'http://127.0.0.1:9/tokenledger', dataDir: '/nonexistent' });
    const { url: downUrl, server: downServer, logs } = await serve(down);
    try {
      const res = await fetch(`${downUrl}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf' },
        body: protobufBody(genaiSpans()),
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.deepEqual(await rpcStatus(res), { code: 14, message: 'storage unavailable; retry later' });
      assert.match(logs.join('\n'), /storage: looking up already stored spans/);
      const spend = await fetch(`${downUrl}/v1/reports/spend`, { headers: auth(KEYS.viewer) });
      assert.equal(spend.status, 503);
      assert.equal(spend.headers.get('retry-after'), '5');
      assert.deepEqual(await spend.json(), { error: 'storage unavailable; retry later' });
      const health = await fetch(`${downUrl}/healthz`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), { status: 'degraded', storage: 'unreachable' });
    } finally {
      downServer.close();
      await down.close();
    }
  });

  it('refuses spans and file imports with 503 + Retry-After while the disk is low, and takes them once room returns', async () => {
    let low: string | undefined = 'collector disk low: 40 MiB free, 64 MiB kept free';
    const guarded = await serve(storage, { refuseIngest: () => low, refuseImports: () => low });
    try {
      const spans = () =>
        fetch(`${guarded.url}/v1/traces`, {
          method: 'POST',
          headers: { ...auth(KEYS.ingest), 'content-type': 'application/x-protobuf' },
          body: protobufBody(genaiSpans()),
        });
      const bill = (key: string) =>
        fetch(`${guarded.url}/v1/reconciliation/imports?file_name=openai-costs-2026-10.json`, {
          method: 'POST',
          headers: auth(key),
          body: readFileSync(path.join(__dirname, '../fixtures/bills/openai-costs-2026-10.json')),
        });
      const refused = await spans();
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '10');
      assert.match(
        (await rpcStatus(refused)).message,
        /^collector disk low: 40 MiB free, 64 MiB kept free; retry later$/,
      );
      assert.equal((await bill(KEYS.viewer)).status, 403, 'the key is checked first');
      const refusedBill = await bill(KEYS.admin);
      assert.equal(refusedBill.status, 503);
      assert.equal(refusedBill.headers.get('retry-after'), '10');
      assert.deepEqual(await refusedBill.json(), {
        error: 'collector disk low: 40 MiB free, 64 MiB kept free; retry later',
      });
      const [stored] = await (
        await storage.client.query({
          query: `SELECT (SELECT count() FROM ${storage.database}.llm_calls) AS calls,
                         (SELECT count() FROM ${storage.database}.bill_imports) AS bills`,
          format: 'JSONEachRow',
        })
      ).json<{ calls: string; bills: string }>();
      assert.deepEqual([Number(stored!.calls), Number(stored!.bills)], [0, 0]);
      low = undefined;
      assert.equal((await spans()).status, 200);
      assert.equal((await bill(KEYS.admin)).status, 201);
    } finally {
      guarded.server.close();
    }
  });
});

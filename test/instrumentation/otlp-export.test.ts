/**
 * tokenledger's OTLP export path: its exporter, whose retries wait in the background, and their
 * policy (the child-process tests check that a finished app then exits); batches the collector did
 * not take, kept (bounded) and sent again until it does (decision 0104).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackgroundRetryTransport, MAX_RETRIES } from '../../instrumentation/src/export/background-retry';
import type { ExportResponse, ExporterTransport } from '../../instrumentation/src/export/http-transport';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { KeptBatches } from '../../instrumentation/src/export/kept-batches';
import { OtlpExporter } from '../../instrumentation/src/export/otlp-exporter';
import { endpointForMessages, refusalWarning } from '../../instrumentation/src/export/refused-export';
import { PipelineTracerProvider } from '../../instrumentation/src/pipeline/tracer';
import type { PipelineSpan } from '../../instrumentation/src/pipeline/span';

/** A single-attempt transport that answers from a script and records when it was called, with what size. */
function scripted(
  answers: ExportResponse[],
): ExporterTransport & { calls: number[]; timeouts: number[]; sizes: number[] } {
  const started = Date.now();
  const t = {
    calls: [] as number[],
    timeouts: [] as number[],
    sizes: [] as number[],
    send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
      t.calls.push(Date.now() - started);
      t.timeouts.push(timeoutMillis);
      t.sizes.push(data.byteLength);
      return Promise.resolve(answers.shift() ?? { status: 'success' });
    },
    shutdown() {},
  };
  return t;
}

/** One span as tokenledger's pipeline ends it. */
function oneSpan(): Promise<PipelineSpan> {
  return new Promise((resolve) => {
    const provider = new PipelineTracerProvider({
      onEnd: resolve,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
    provider.getTracer('test').startSpan('chat gpt-4o').end();
  });
}

/** tokenledger's exporter to `url`, as the environment would configure it. */
const exporterTo = (url: string, json = false, timeoutMillis = 10_000): OtlpExporter =>
  new OtlpExporter(
    { url, headers: {}, json, compression: 'none', timeoutMillis },
    { 'service.name': 'test' },
  );

const retryable = (retryInMillis?: number): ExportResponse =>
  retryInMillis === undefined ? { status: 'retryable' } : { status: 'retryable', retryInMillis };
const data = new Uint8Array([1, 2, 3]);

describe('OTLP export that never holds the process', () => {
  describe('BackgroundRetryTransport', () => {
    it('retries a retryable answer after the server’s Retry-After, then reports the success', async () => {
      const attempt = scripted([retryable(30), retryable(30)]);
      const result = await new BackgroundRetryTransport(attempt).send(data, 10_000);
      assert.equal(result.status, 'success');
      assert.equal(attempt.calls.length, 3);
      assert.ok(
        attempt.calls[1]! - attempt.calls[0]! >= 25,
        `waited ${attempt.calls[1]! - attempt.calls[0]!} ms`,
      );
      // Later attempts get what is left of the export's timeout.
      assert.ok(
        attempt.timeouts[2]! <= 10_000 - 50 && attempt.timeouts[2]! > 9_000,
        String(attempt.timeouts),
      );
    });

    it('gives up after five retries, or as soon as the next wait would pass the timeout', async () => {
      const always = scripted(Array.from({ length: 10 }, () => retryable(1)));
      assert.equal((await new BackgroundRetryTransport(always).send(data, 10_000)).status, 'retryable');
      assert.equal(always.calls.length, 1 + MAX_RETRIES);

      const late = scripted([retryable(5_000)]);
      assert.equal((await new BackgroundRetryTransport(late).send(data, 1_000)).status, 'retryable');
      assert.equal(late.calls.length, 1, 'no retry whose wait passes the deadline');

      // Without Retry-After: the backoff starts at 1 s ±20 %, so a 700 ms export is not retried.
      const noHint = scripted([retryable()]);
      assert.equal((await new BackgroundRetryTransport(noHint, () => 0).send(data, 700)).status, 'retryable');
      assert.equal(noHint.calls.length, 1);
    });

    it('does not retry failures that are not retryable', async () => {
      const attempt = scripted([{ status: 'failure', error: new Error('400 bad request') }]);
      const result = await new BackgroundRetryTransport(attempt).send(data, 10_000);
      assert.equal(result.status, 'failure');
      assert.equal(attempt.calls.length, 1);
    });
  });

  describe('KeptBatches: what the collector did not take is sent again until it does', () => {
    const fast = { timeoutMillis: 1_000, initialBackoffMs: 20, maxBackoffMs: 80, random: () => 0.5 };
    const until = async (cond: () => boolean, ms = 5_000): Promise<void> => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error('not in time');
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    it('retries the oldest batch with a growing backoff, one at a time, then sends the rest at once', async () => {
      const attempt = scripted([retryable(), retryable(), retryable()]);
      const kept = new KeptBatches(attempt, { ...fast, maxBytes: 1_000 });
      kept.keep(new Uint8Array(10), 1);
      kept.keep(new Uint8Array(20), 2);
      kept.keep(new Uint8Array(30), 3);
      assert.equal(kept.keptBytes, 60);
      await until(() => kept.size === 0);
      // Three refusals of the first batch, then the three batches in a row.
      assert.equal(attempt.calls.length, 6, String(attempt.calls));
      const gaps = attempt.calls.slice(1, 4).map((t, i) => t - attempt.calls[i]!);
      assert.ok(gaps[0]! >= 15 && gaps[1]! >= 35 && gaps[2]! >= 70, `backoff ${gaps.join(', ')} ms`);
      assert.ok(attempt.calls[5]! - attempt.calls[3]! < 50, 'after a success the next batch goes at once');
      assert.equal(kept.keptBytes, 0);
    });

    it('with a merge, sends the oldest batches as one request within the send bound', async () => {
      const attempt = scripted([retryable()]);
      const kept = new KeptBatches(attempt, {
        ...fast,
        maxBytes: 1_000,
        maxSendBytes: 100,
        merge: (bodies) => Buffer.concat(bodies),
      });
      for (const n of [40, 40, 40, 150, 10]) kept.keep(new Uint8Array(n), 1);
      await until(() => kept.size === 0);
      // Refused once as a merge of the first two; then 40+40, 40 (150 would pass the bound), 150 alone, 10.
      assert.deepEqual(attempt.sizes, [80, 80, 40, 150, 10]);
      assert.equal(kept.keptBytes, 0);
    });

    it('sends the batches of a merged request refused for good one by one: only a batch refused alone is dropped', async () => {
      const results: string[] = [];
      // The merged request is refused (413: the collector's body limit), then the third batch alone.
      const attempt = scripted([
        { status: 'failure', error: new Error('413') },
        { status: 'success' },
        { status: 'success' },
        { status: 'failure', error: new Error('400') },
      ]);
      const kept = new KeptBatches(attempt, {
        ...fast,
        initialBackoffMs: 60_000,
        maxBytes: 1_000,
        merge: (bodies) => Buffer.concat(bodies),
        onResult: (r) => results.push(r.status),
      });
      for (const n of [10, 20, 30]) kept.keep(new Uint8Array(n), 1);
      await kept.sendNow();
      assert.deepEqual(attempt.sizes, [60, 10, 20, 30]);
      assert.deepEqual(results, ['success', 'success', 'failure']);
      assert.equal(kept.size, 0);
      // Merging resumes after them.
      for (const n of [10, 20]) kept.keep(new Uint8Array(n), 1);
      await kept.sendNow();
      assert.deepEqual(attempt.sizes.slice(4), [30]);
    });

    it('keeps at most its bound in bytes: a batch that does not fit is dropped and told', () => {
      const overflow: number[] = [];
      const kept = new KeptBatches(scripted([]), {
        ...fast,
        maxBytes: 100,
        onOverflow: (n) => overflow.push(n),
      });
      assert.equal(kept.keep(new Uint8Array(60), 6), true);
      assert.equal(kept.keep(new Uint8Array(50), 5), false);
      assert.equal(kept.keep(new Uint8Array(40), 4), true);
      assert.deepEqual([kept.size, kept.keptBytes, kept.dropped, overflow], [2, 100, 5, [5]]);
      kept.stop();
      assert.deepEqual([kept.size, kept.keptBytes], [0, 0]);
    });

    it('drops a batch the collector refuses for good (told), and sends now on a flush', async () => {
      const results: string[] = [];
      const attempt = scripted([{ status: 'failure', error: new Error('400') }]);
      const kept = new KeptBatches(attempt, {
        ...fast,
        initialBackoffMs: 60_000,
        maxBytes: 1_000,
        onResult: (r) => results.push(r.status),
      });
      kept.keep(new Uint8Array(1), 1);
      kept.keep(new Uint8Array(1), 1);
      await kept.sendNow(); // not a minute later: now
      assert.deepEqual(results, ['failure', 'success']);
      assert.equal(kept.size, 0);
    });
  });

  describe("tokenledger's OTLP exporter", () => {
    for (const [name, json] of [
      ['protobuf', false],
      ['JSON', true],
    ] as const) {
      it(`${name}: the export reaches the collector, retried after a 503`, async () => {
        const bodies: number[] = [];
        let first = true;
        const server = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            if (first) {
              first = false;
              res.writeHead(503, { 'retry-after': '0' }).end();
              return;
            }
            bodies.push(Buffer.concat(chunks).length);
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          });
        });
        await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
        try {
          const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
          const exporter = exporterTo(url, json);
          const spans = [await oneSpan()];
          const result = await new Promise<{ code: number }>((ok) => exporter.export(spans, ok));
          assert.equal(result.code, 0, 'exported after one retry');
          assert.equal(bodies.length, 1);
          await exporter.shutdown();
        } finally {
          server.closeAllConnections();
          await new Promise((ok) => server.close(ok));
        }
      });
    }
  });

  describe('a collector that does not take spans for a while', () => {
    for (const [name, json] of [
      ['protobuf', false],
      ['JSON', true],
    ] as const) {
      it(`${name}: the exporter keeps the batches it gave up on and sends them once the collector answers, in one request; new ones wait with them`, async () => {
        let down = true;
        const taken: Buffer[] = [];
        const tried: number[] = [];
        const server = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            tried.push(Date.now());
            if (down) {
              res.writeHead(503).end();
              return;
            }
            taken.push(Buffer.concat(chunks));
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          });
        });
        await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
        // A 300 ms export timeout: the in-export retry (backoff from 1 s) does not fit, so it is kept at once.
        const exporter = exporterTo(url, json, 300);
        try {
          const results: number[] = [];
          const sent: string[] = [];
          for (let i = 0; i < 3; i++) {
            const spans = [await oneSpan()];
            sent.push(spans[0]!.spanContext().spanId);
            results.push((await new Promise<{ code: number }>((ok) => exporter.export(spans, ok))).code);
          }
          assert.deepEqual(results, [1, 1, 1], 'reported as not exported yet');
          const triedWhileDown = tried.length;
          assert.equal(
            triedWhileDown,
            1,
            'the second and third batches wait with the first: one attempt, not one per batch',
          );
          down = false;
          await exporter.forceFlush();
          assert.equal(taken.length, 1, 'the three kept batches go as one request');
          // The collector's own decoder reads the merged request: each span once, in order.
          const request = decodeTraceRequest(taken[0]!, json ? 'application/json' : 'application/x-protobuf');
          const received = request.resourceSpans.flatMap((r) =>
            r.scopeSpans.flatMap((s) => s.spans.map((span) => span.spanId)),
          );
          assert.deepEqual(received, sent);
        } finally {
          await exporter.shutdown();
          server.closeAllConnections();
          await new Promise((ok) => server.close(ok));
        }
      });
    }
  });

  describe('a refused export is told to the operator', () => {
    /** What the real protobuf exporter reports for a collector answering `status` (after its retries). */
    async function exportAnsweredWith(status: number): Promise<{ code: number; error?: Error }> {
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(status, { 'retry-after': '0' }).end());
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
        const exporter = exporterTo(url, false, 500);
        const spans = [await oneSpan()];
        const result = await new Promise<{ code: number; error?: Error }>((ok) => exporter.export(spans, ok));
        await exporter.shutdown();
        return result;
      } finally {
        server.closeAllConnections();
        await new Promise((ok) => server.close(ok));
      }
    }
    const at = 'http://collector:4318/v1/traces';

    it('401 and 403 name the key and what to set, 400 the lost batch', async () => {
      const noKey = refusalWarning(await exportAnsweredWith(401), at, false);
      assert.equal(noKey?.code, 'TOKENLEDGER_SPANS_KEY_REFUSED');
      assert.match(
        noKey!.message,
        /^tokenledger: http:\/\/collector:4318\/v1\/traces answered 401 to the spans: this app sends no key; set TOKENLEDGER_API_KEY to an ingest key/,
      );
      assert.match(noKey!.message, /no call is recorded/);
      const unknown = refusalWarning(await exportAnsweredWith(401), at, true);
      assert.match(
        unknown!.message,
        /answered 401 to the spans: it does not know the key this app sends; set TOKENLEDGER_API_KEY/,
      );
      const forbidden = refusalWarning(await exportAnsweredWith(403), at, true);
      assert.equal(forbidden?.code, 'TOKENLEDGER_SPANS_KEY_REFUSED');
      assert.match(forbidden!.message, /answered 403 to the spans: the key's role cannot send spans/);
      const bad = refusalWarning(await exportAnsweredWith(400), at, true);
      assert.equal(bad?.code, 'TOKENLEDGER_SPANS_REFUSED');
      assert.match(bad!.message, /refused a batch of spans with HTTP 400; the calls in it are not recorded/);
    });

    it('success, a retryable status and an unreachable endpoint are not refusals', async () => {
      assert.equal(refusalWarning(await exportAnsweredWith(200), at), undefined);
      assert.equal(refusalWarning(await exportAnsweredWith(429), at), undefined);
      assert.equal(refusalWarning(await exportAnsweredWith(503), at), undefined);
      assert.equal(refusalWarning({ code: 1, error: new Error('connect ECONNREFUSED') }, at), undefined);
    });

    it('the endpoint is named without credentials or query', () => {
      assert.equal(
        endpointForMessages('https://user:s3cret@otel.example.com:4318/v1/traces?token=abc'),
        'https://otel.example.com:4318/v1/traces',
      );
      assert.equal(endpointForMessages('not a url'), 'the OTLP endpoint');
    });
  });
});

/**
 * Backpressure: when more calls wait to be written than the limit, POST /v1/traces answers 429 with
 * Retry-After (OTLP exporters keep the batch and retry) and queues nothing more; below it, it stores.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Pricer } from '../../collector/src/pricing/pricer';
import type { PricedCall } from '../../collector/src/core/call';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import { tracesHandler } from '../../collector/src/http/traces';
import { jsonBody, recordSpans } from './otlp-helpers';

function body(): Buffer {
  return jsonBody(
    recordSpans({ 'service.name': 'svc' }, [
      {
        name: 'chat gpt-4o',
        startTime: new Date(),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 200,
        },
      },
    ]),
  );
}

describe('OTLP receiver backpressure', () => {
  it('answers 429 + Retry-After above the queue limit and stores below it', async () => {
    const written: PricedCall[][] = [];
    const writer = {
      queuedCalls: 0,
      write: async (calls: PricedCall[]) => {
        written.push(calls);
        return { inserted: calls.length, duplicates: 0 };
      },
    };
    const metrics = new CollectorMetrics();
    const app = express();
    app.post(
      '/v1/traces',
      express.raw({ type: () => true }),
      tracesHandler({ pricer: new Pricer(), writer, maxQueuedCalls: 5, metrics, log: () => undefined }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const post = () =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() });
    try {
      const ok = await post();
      assert.equal(ok.status, 200);
      assert.equal(written.length, 1);

      writer.queuedCalls = 6;
      const busy = await post();
      assert.equal(busy.status, 429);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.match(((await busy.json()) as { message: string }).message, /collector busy/);
      assert.equal(written.length, 1, 'nothing queued while over the limit');
      assert.match(metrics.render(), /tokenledger_otlp_throttled_total 1/);
    } finally {
      server.close();
    }
  });
});

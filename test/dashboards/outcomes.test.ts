/**
 * POST /v1/outcomes over HTTP (the collector's express app on a real port): ingest-scoped,
 * validated, idempotent on the client's id; the CFO board's cost-per-outcome panel reads them.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Decimal from 'decimal.js';
import { DASHBOARDS, toParameterizedQuery } from '../../dashboards/src/index';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { Pricer } from '../../collector/src/pricing/pricer';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import type { Storage } from '../../collector/src/storage/client';
import { CallWriter } from '../../collector/src/storage/writer';
import { freshStorage } from '../support/embedded-storage';

const INGEST = 'ingest-key-outcomes-0123';
const VIEWER = 'viewer-key-outcomes-0123';

describe('POST /v1/outcomes', function () {
  this.timeout(60_000);
  let storage: Storage;
  let server: Server;
  let url: string;

  before(async () => {
    storage = await freshStorage();
    const app = createApp({
      storage,
      writer: new CallWriter(storage),
      pricer: new Pricer(),
      keys: new KeyRing([
        { role: 'ingest', key: INGEST },
        { role: 'viewer', key: VIEWER },
      ]),
      metrics: new CollectorMetrics(),
      maxBodyBytes: 1024 * 1024,
      log: () => undefined,
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.close();
    await storage?.close();
  });

  const post = (body: unknown, key = INGEST) =>
    fetch(`${url}/v1/outcomes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  const stored = async () => {
    const rs = await storage.client.query({
      query: `SELECT id, feature, outcome, count, value_usd, team FROM ${storage.database}.outcomes FINAL ORDER BY id`,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_decimals: 1 },
    });
    return (await rs.json<Record<string, unknown>>()).map((r) => ({ ...r, count: Number(r.count) }));
  };

  it('stores outcomes once per id, however often a report is retried', async () => {
    const batch = {
      outcomes: [
        {
          id: 'order-1',
          feature: 'checkout-assistant',
          outcome: 'order_placed',
          value_usd: '49.990000000000000001',
          team: 'shop',
          time: '2026-11-10T10:00:00Z',
        },
        {
          id: 'order-2',
          feature: 'checkout-assistant',
          outcome: 'order_placed',
          count: 2,
          value_usd: 20,
          time: '2026-11-10T11:00:00Z',
        },
      ],
    };
    for (let i = 0; i < 3; i++) {
      const res = await post(batch);
      assert.equal(res.status, 202);
      assert.deepEqual(await res.json(), { accepted: 2 });
    }
    const single = await post({
      id: 'ticket-9',
      feature: 'support-bot',
      outcome: 'ticket_resolved',
      time: '2026-11-11T09:00:00Z',
    });
    assert.equal(single.status, 202);
    assert.deepEqual(await stored(), [
      {
        id: 'order-1',
        feature: 'checkout-assistant',
        outcome: 'order_placed',
        count: 1,
        value_usd: '49.990000000000000001',
        team: 'shop',
      },
      {
        id: 'order-2',
        feature: 'checkout-assistant',
        outcome: 'order_placed',
        count: 2,
        value_usd: '20',
        team: '',
      },
      {
        id: 'ticket-9',
        feature: 'support-bot',
        outcome: 'ticket_resolved',
        count: 1,
        value_usd: '0',
        team: '',
      },
    ]);
  });

  it('needs an ingest key and a valid body', async () => {
    assert.equal((await post({ id: 'x', feature: 'f', outcome: 'o' }, VIEWER)).status, 403);
    assert.equal((await post({ id: 'x', feature: 'f', outcome: 'o' }, 'nope')).status, 401);
    for (const bad of [
      { feature: 'f', outcome: 'o' },
      { id: 'x', outcome: 'o' },
      { id: 'x', feature: 'f', outcome: 'o', count: -1 },
      { id: 'x', feature: 'f', outcome: 'o', count: 1.5 },
      { id: 'x', feature: 'f', outcome: 'o', value_usd: '1e3' },
      { id: 'x', feature: 'f', outcome: 'o', time: 'yesterday' },
      { id: 'x', feature: 'f', outcome: 'o', time: '+275760-09-13T00:00:00Z' }, // failed the write, 503 forever
      { id: 'x', feature: 'f', outcome: 'o', time: '2400-01-01T00:00:00Z' },
      { id: 'x', feature: 'f', outcome: 'o', time: '1800-01-01T00:00:00Z' },
      { outcomes: [] },
    ]) {
      const res = await post(bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.match(
        ((await res.json()) as { error: string }).error,
        /outcome|id|feature|count|value_usd|time/,
      );
    }
  });

  it('feeds the cost-per-outcome panel (AI spend of the feature ÷ outcomes)', async () => {
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      format: 'JSONEachRow',
      values: [1, 2].map((i) => ({
        trace_id: `t${i}`,
        span_id: `s${i}`,
        start_time: `2026-11-10 0${i}:00:00.000000000`,
        feature: 'checkout-assistant',
        provider: 'openai',
        request_model: 'gpt-4o',
        cost_usd: '0.300000000000000001',
        priced: 1,
      })),
    });
    const panel = DASHBOARDS.flatMap((d) => d.panels).find((p) => p.id === 'cfo-cost-per-outcome')!;
    const q = toParameterizedQuery(panel.sql, {
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-11-30T00:00:00Z'),
      intervalSeconds: 3600,
      variables: { database: [storage.database] },
    });
    const rs = await storage.client.query({
      ...q,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_decimals: 1 },
    });
    const rows = await rs.json<Record<string, string | number | null>>();
    const checkout = rows.find((r) => r.feature === 'checkout-assistant')!;
    assert.equal(Number(checkout.outcomes), 3);
    assert.ok(new Decimal(checkout.spend_usd as string).eq('0.600000000000000002'));
    // 0.600000000000000002 / 3, truncated to 18 places as Decimal(38, 18) division does.
    assert.ok(new Decimal(checkout.cost_per_outcome_usd as string).eq('0.200000000000000000'));
    assert.ok(new Decimal(checkout.outcome_value_usd as string).eq('69.990000000000000001'));
  });

  it('stores a text holding a lone UTF-16 surrogate with U+FFFD in its place, not a write refused forever', async () => {
    // Only JSON escapes can carry one (an emoji cut in half); ClickHouse refuses it in JSON input.
    const res = await fetch(`${url}/v1/outcomes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST}` },
      body: '{"id":"cut-\\ud83d","feature":"emoji \\ud83d","outcome":"sent","time":"2026-11-12T09:00:00Z"}',
    });
    assert.equal(res.status, 202);
    const rows: Record<string, unknown>[] = await stored();
    const row = rows.find((r) => r.id === 'cut-\ufffd');
    assert.deepEqual(row && [row.feature, row.outcome], ['emoji \ufffd', 'sent']);
  });
});

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
import { loadMigrations, migrate } from '../../collector/src/storage/migrations';
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
      query: `SELECT id, feature, outcome, count, value_usd, team FROM ${storage.database}.outcomes_by_time FINAL ORDER BY id`,
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

  /** The id's rows in both tables, read as the boards and earlier dashboards read them. */
  const rowsOf = async (id: string) => {
    const read = async (table: string) => {
      const rs = await storage.client.query({
        query: `SELECT id, toString(time) AS time, feature, count FROM ${storage.database}.${table} FINAL
                WHERE id = {id:String}`,
        query_params: { id },
        format: 'JSONEachRow',
      });
      return (await rs.json<Record<string, unknown>>()).map((r) => ({ ...r, count: Number(r.count) }));
    };
    return { byTime: await read('outcomes_by_time'), byId: await read('outcomes') };
  };

  it('a report that moves an id to another hour or feature replaces it: one row, where it now is', async () => {
    const report = (time: string, feature: string, count: number) =>
      post({ id: 'moved-1', feature, outcome: 'order_placed', count, time });
    assert.equal((await report('2026-11-03T10:15:00Z', 'returns-desk', 1)).status, 202);
    assert.equal((await report('2026-11-03T10:45:00Z', 'returns-desk', 2)).status, 202); // same hour
    assert.equal((await report('2026-11-20T08:00:00Z', 'returns-desk', 3)).status, 202); // another day
    assert.equal((await report('2026-11-20T08:00:00Z', 'gift-finder', 4)).status, 202); // another feature
    const now = { id: 'moved-1', time: '2026-11-20 08:00:00.000', feature: 'gift-finder', count: 4 };
    assert.deepEqual(await rowsOf('moved-1'), { byTime: [now], byId: [now] });
    // Back to where it was first: the tombstone there is replaced, the row it moved from is not kept.
    assert.equal((await report('2026-11-03T10:15:00Z', 'returns-desk', 5)).status, 202);
    const back = { id: 'moved-1', time: '2026-11-03 10:15:00.000', feature: 'returns-desk', count: 5 };
    assert.deepEqual(await rowsOf('moved-1'), { byTime: [back], byId: [back] });
  });

  it('reports of one id sent at once keep one row, the same in both tables', async () => {
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post({
          outcomes: [
            {
              id: 'raced-1',
              feature: i % 2 ? 'returns-desk' : 'gift-finder',
              outcome: 'order_placed',
              count: i + 1,
              time: `2026-11-${String(1 + i).padStart(2, '0')}T12:00:00Z`,
            },
          ],
        }),
      ),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 202),
    );
    const { byTime, byId } = await rowsOf('raced-1');
    assert.equal(byTime.length, 1, JSON.stringify(byTime));
    assert.deepEqual(byTime, byId);
  });

  it('a store from before the time-ordered table has its outcomes copied into it once, retries included', async () => {
    const old = await freshStorage({ migrate: false });
    try {
      const all = loadMigrations();
      const added = all.find((m) => m.name.endsWith('_outcomes_by_time'))!;
      await migrate(
        old,
        all.filter((m) => m.version < added.version),
      );
      const legacy = (id: string, time: string, count: number) => ({
        id,
        time,
        feature: 'f',
        outcome: 'o',
        count,
      });
      await old.client.insert({
        table: `${old.database}.outcomes`,
        values: [legacy('a', '2026-10-01 09:00:00.000', 1), legacy('b', '2026-10-02 09:00:00.000', 2)],
        format: 'JSONEachRow',
      });
      // A retry that moved 'a' a day later, stored before the upgrade: the table kept the later one.
      await old.client.insert({
        table: `${old.database}.outcomes`,
        values: [legacy('a', '2026-10-03 09:00:00.000', 3)],
        format: 'JSONEachRow',
      });
      assert.ok((await migrate(old, all)).includes(added.version));
      await migrate(old, all); // nothing again
      const rs = await old.client.query({
        query: `SELECT id, toString(time) AS time, count FROM ${old.database}.outcomes_by_time FINAL ORDER BY id`,
        format: 'JSONEachRow',
      });
      assert.deepEqual(
        (await rs.json<Record<string, unknown>>()).map((r) => ({ ...r, count: Number(r.count) })),
        [
          { id: 'a', time: '2026-10-03 09:00:00.000', count: 3 },
          { id: 'b', time: '2026-10-02 09:00:00.000', count: 2 },
        ],
      );
    } finally {
      await old.close();
    }
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

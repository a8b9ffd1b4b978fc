/**
 * A collector in cluster mode (TOKENLEDGER_CLICKHOUSE_CLUSTER) end to end, on the ClickHouse HTTP
 * stand-in with a one-shard cluster: its migrations create Distributed tables over local ones, and
 * ingest (a retried export included), the exact spend report and the inventory's deletes run through
 * them with the same queries as on one server. What one node cannot run — ON CLUSTER DDL and
 * replication, which need ClickHouse Keeper — the stand-in takes out (see its header): untested here.
 */
import assert from 'node:assert/strict';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { jsonBody, recordSpans } from '../collector/otlp-helpers';
import { startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { startClickHouseStandIn, type ClickHouseStandIn } from '../support/clickhouse-http/process';

const KEY = 'tl_admin_cluster_mode_test_0001';

describe('cluster mode on a one-shard cluster (HTTP stand-in)', function () {
  this.timeout(120_000);
  let store: ClickHouseStandIn;
  let collector: CollectorProcess;

  before(async () => {
    store = await startClickHouseStandIn({ singleNodeCluster: 'tl' });
    collector = await startCollectorProcess({
      env: {
        CLICKHOUSE_URL: `${store.url}/tokenledger`,
        TOKENLEDGER_CLICKHOUSE_CLUSTER: 'tl',
        TOKENLEDGER_API_KEYS: `admin:${KEY}`,
      },
    });
  });

  after(async () => {
    await collector?.stop();
    await store?.stop();
  });

  it('creates Distributed tables over local ones, and counts a retried export once', async () => {
    const spans = recordSpans(
      { 'service.name': 'cluster-app', 'tokenledger.team': 'search' },
      [1_000, 2_000, 3_000].map((tokens) => ({
        name: 'chat gpt-4o-mini',
        startTime: new Date(Date.now() - 60_000),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.usage.input_tokens': tokens,
          'gen_ai.usage.output_tokens': 100,
        },
      })),
    );
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${collector.url}/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: jsonBody(spans),
      });
      assert.equal(res.status, 200, await res.text());
    }
    const report = await fetch(`${collector.url}/v1/reports/spend?period=last_7d&groupBy=team`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const text = await report.text();
    assert.equal(report.status, 200, `${text}\n${collector.output()}`);
    const body = JSON.parse(text) as { total_usd: string; breakdown: Array<{ team: string; calls: number }> };
    // gpt-4o-mini: $0.15 / M input, $0.60 / M output.
    assert.deepEqual(
      body.breakdown.map((b) => [b.team, b.calls]),
      [['search', 3]],
    );
    assert.equal(body.total_usd, '0.00108');

    const client = createClient({
      url: store.url.replace(/\/\/[^@]+@/, '//'),
      log: { level: ClickHouseLogLevel.OFF },
    });
    const rs = await client.query({
      query: `SELECT name, engine FROM system.tables WHERE database = 'tokenledger' AND name IN ('llm_calls', 'llm_calls_local') ORDER BY name`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await rs.json(), [
      { name: 'llm_calls', engine: 'Distributed' },
      { name: 'llm_calls_local', engine: 'ReplacingMergeTree' },
    ]);
    await client.close();
  });
});

/**
 * Cluster mode's schema (TOKENLEDGER_CLICKHOUSE_CLUSTER): every migration rendered for a cluster
 * parses with the real engine's parser, and the rendering keeps what the collector relies on —
 * the same table names (Distributed over `<name>_local`), replicated engines with their version
 * columns, rows that must collapse sharded together.
 */
import assert from 'node:assert/strict';
import {
  ClusterDdlError,
  renderForCluster,
  type ClusterSchema,
} from '../../collector/src/storage/cluster-ddl';
import type { Storage } from '../../collector/src/storage/client';
import { loadMigrations } from '../../collector/src/storage/migrations';
import { freshStorage } from '../support/embedded-storage';

const DB = 'tokenledger';

function renderAll(): Map<string, string[]> {
  const tables: ClusterSchema = new Set();
  const out = new Map<string, string[]>();
  for (const m of loadMigrations()) {
    out.set(
      m.name,
      m.statements.flatMap((s) => renderForCluster(s.replaceAll('${DB}', DB), 'tl', tables)),
    );
  }
  return out;
}

const flat = (s: string): string => s.replace(/\s+/g, ' ');

describe('cluster mode: the migrations rendered for a ClickHouse cluster', () => {
  let storage: Storage;

  before(async () => {
    storage = await freshStorage({ migrate: false });
  });

  it('every rendered statement parses (the engine formats it back)', async () => {
    let n = 0;
    for (const [name, statements] of renderAll()) {
      for (const sql of statements) {
        const rs = await storage.client.query({
          query: 'SELECT formatQuerySingleLine({sql:String}) AS formatted',
          query_params: { sql },
          format: 'JSONEachRow',
        });
        const [row] = await rs.json<{ formatted: string }>();
        assert.ok(
          row!.formatted.includes('ON CLUSTER') || /^INSERT/i.test(sql),
          `${name}: ${row!.formatted}`,
        );
        n++;
      }
    }
    assert.ok(n >= 39, `${n} statements`);
  });

  it('a table becomes a replicated local table and a Distributed one sharded by its sorting key', () => {
    const [local, distributed] = renderAll().get('0001_llm_calls')!;
    assert.match(flat(local!), /^CREATE TABLE IF NOT EXISTS tokenledger\.llm_calls_local ON CLUSTER 'tl' \(/);
    assert.match(
      flat(local!),
      /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/tokenledger\/llm_calls_local', '\{replica\}'\) PARTITION BY toYYYYMM\(start_time\) ORDER BY \(toStartOfHour\(start_time\), trace_id, span_id\) SETTINGS replicated_deduplication_window = 1000$/,
    );
    assert.equal(
      flat(distributed!),
      "CREATE TABLE IF NOT EXISTS tokenledger.llm_calls ON CLUSTER 'tl' AS tokenledger.llm_calls_local " +
        "ENGINE = Distributed('tl', tokenledger, llm_calls_local, cityHash64(toStartOfHour(start_time), trace_id, span_id))",
    );
    const [approvals] = renderAll().get('0007_approvals')!;
    assert.match(
      flat(approvals!),
      /ReplicatedReplacingMergeTree\('[^']+approvals_local', '\{replica\}', version\)/,
    );
  });

  it('ALTER and DROP follow the table; a materialized view reads and writes local tables', () => {
    const all = renderAll();
    const [setting] = all.get('0003_spend_hourly_dedup_window')!;
    assert.equal(
      flat(setting!),
      "ALTER TABLE tokenledger.spend_hourly_local ON CLUSTER 'tl' MODIFY SETTING replicated_deduplication_window = 1000",
    );
    const addColumn = all.get('0010_llm_calls_cache_write_1h')!;
    assert.deepEqual(
      addColumn.map((s) => flat(s).split(' ADD COLUMN')[0]),
      [
        "ALTER TABLE tokenledger.llm_calls_local ON CLUSTER 'tl'",
        "ALTER TABLE tokenledger.llm_calls ON CLUSTER 'tl'",
      ],
    );
    const mv = flat(all.get('0002_spend_hourly')!.at(-1)!);
    assert.match(
      mv,
      /^CREATE MATERIALIZED VIEW IF NOT EXISTS tokenledger\.spend_hourly_mv ON CLUSTER 'tl' TO tokenledger\.spend_hourly_local AS/,
    );
    assert.match(mv, /FROM tokenledger\.llm_calls_local\b/);
  });

  it('a statement it cannot render is an error, not passed through', () => {
    const tables: ClusterSchema = new Set();
    assert.throws(
      () => renderForCluster('OPTIMIZE TABLE tokenledger.llm_calls FINAL', 'tl', tables),
      ClusterDdlError,
    );
    assert.throws(
      () => renderForCluster('ALTER TABLE tokenledger.nope ADD COLUMN x UInt8', 'tl', tables),
      ClusterDdlError,
    );
    assert.throws(() => renderForCluster('CREATE DATABASE x', "tl'; DROP", tables), ClusterDdlError);
  });
});

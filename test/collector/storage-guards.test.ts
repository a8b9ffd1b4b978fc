/**
 * The write path's guards and the report's exactness, on the real embedded engine, with PricedCall
 * objects built by hand (so the money is exactly what the test says).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { PricedCall } from '../../collector/src/core/call';
import { spendReport } from '../../collector/src/read/spend';
import type { Storage } from '../../collector/src/storage/client';
import { migrate } from '../../collector/src/storage/migrations';
import { toRow } from '../../collector/src/storage/rows';
import { CallWriter } from '../../collector/src/storage/writer';
import { nanos, pricedCall } from '../support/calls';
import { REPO_ROOT } from '../support/collector-process';
import { freshStorage, seeingQueries } from '../support/embedded-storage';

const NOW = new Date('2026-11-15T12:34:56Z');
let seq = 0;

function priced(
  over: Partial<Omit<PricedCall, 'attribution'>> & { at?: Date; team?: string; costCenter?: string } = {},
): PricedCall {
  const { at = NOW, team = 'search', costCenter = '', ...rest } = over;
  return pricedCall(
    {
      traceId: 'cd'.repeat(16),
      spanId: (++seq).toString(16).padStart(16, '0'),
      startTimeUnixNano: nanos(at, 42n),
      durationMs: 5,
      responseModel: 'gpt-4o-2024-08-06',
      inputTokens: 10,
      outputTokens: 1,
      source: 'test',
      costUsd: '0.001',
      inputCostUsd: '0.001',
      priced: true,
      pricedProvider: 'openai',
      pricedModel: 'gpt-4o',
      ...rest,
    },
    { team, costCenter, environment: 'production', service: 'svc' },
  );
}

async function scalar(storage: Storage, sql: string): Promise<string> {
  const rs = await storage.client.query({ query: sql, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, unknown>>();
  return String(Object.values(row!)[0]);
}

describe('storage guards (embedded ClickHouse)', () => {
  let storage: Storage;
  let writer: CallWriter;

  beforeEach(async () => {
    storage = await freshStorage();
    writer = new CallWriter(storage);
  });

  it('sums Decimal money exactly: 0.0045 + 0.016 + 0.0000001 = 0.0205001', async () => {
    await writer.write([
      priced({ costUsd: '0.0045' }),
      priced({ costUsd: '0.016' }),
      priced({ costUsd: '0.0000001' }),
      priced({ costUsd: '0.000000000000000001', team: 'tiny' }),
      priced({ costUsd: '0.000000000000000002', team: 'tiny' }),
    ]);
    const r = await spendReport(storage, { period: 'current_month', groupBy: ['team'] }, NOW);
    assert.deepEqual(
      r.breakdown.map((b) => [b.team, b.spend_usd, b.calls]),
      [
        ['search', '0.0205001', 3],
        ['tiny', '0.000000000000000003', 2],
      ],
    );
    assert.equal(r.total_usd, '0.020500100000000003');
  });

  it('counts a span once in the rollup even when two writers race (the insert token guard)', async () => {
    const batch = [priced({ costUsd: '0.5' }), priced({ costUsd: '0.25' })];
    // Two writers are two queues: both may look up before either inserts, as two collectors could.
    const results = await Promise.all([new CallWriter(storage).write(batch), writer.write(batch)]);
    assert.ok(results.every((r) => r.inserted + r.duplicates === 2));
    const db = storage.database;
    assert.equal(await scalar(storage, `SELECT count() FROM ${db}.llm_calls`), '2');
    assert.equal(await scalar(storage, `SELECT sum(calls) FROM ${db}.spend_hourly`), '2');
    assert.equal((await spendReport(storage, { period: 'current_month' }, NOW)).total_usd, '0.75');
  });

  it('keeps dedupe settings to their own insert (chdb would carry clickhouse_settings over)', async () => {
    await writer.write([priced()]);
    // A plain insert right after the writer's: a token left in the session would drop it silently.
    const other = toRow(priced({ costUsd: '2' }));
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [other],
      format: 'JSONEachRow',
    });
    assert.equal(await scalar(storage, `SELECT count() FROM ${storage.database}.llm_calls`), '2');
    assert.equal(
      await scalar(storage, "SELECT getSetting('insert_deduplication_token')"),
      '',
      'no session-wide token',
    );
  });

  it('stores a batch spanning months, one partition at a time, and dedupes its retry', async () => {
    const batch = [
      priced({ at: new Date('2026-10-31T23:59:59.999Z'), costUsd: '1' }),
      priced({ at: new Date('2026-11-01T00:00:00Z'), costUsd: '2' }),
      priced({ at: new Date('1999-01-01T00:00:00Z'), costUsd: '4' }),
    ];
    assert.deepEqual(await writer.write(batch), { inserted: 3, duplicates: 0 });
    assert.deepEqual(await writer.write(batch), { inserted: 0, duplicates: 3 });
    assert.equal((await spendReport(storage, { period: '2026-10' }, NOW)).total_usd, '1');
    assert.equal((await spendReport(storage, { period: '2026-11' }, NOW)).total_usd, '2');
    assert.equal((await spendReport(storage, { period: '1999-01' }, NOW)).total_usd, '4');
  });

  it('filters by dimension values (parameters, exact match) on the rollup and the raw table', async () => {
    await writer.write([
      priced({ team: 'search', costCenter: 'cc:1', costUsd: '1' }),
      priced({ team: 'ads', costCenter: 'cc:1', costUsd: '2' }),
      priced({ team: "o'brien", costCenter: 'cc:2', costUsd: '4' }),
    ]);
    const rollup = await spendReport(
      storage,
      { period: 'current_month', groupBy: ['team'], filters: { cost_center: ['cc:1'] } },
      NOW,
    );
    assert.equal(rollup.total_usd, '3');
    assert.deepEqual(rollup.filters, { cost_center: ['cc:1'] });
    assert.deepEqual(
      rollup.breakdown.map((b) => b.team),
      ['ads', 'search'],
    );
    const quoted = await spendReport(
      storage,
      { period: 'current_month', filters: { team: ["o'brien", 'nobody'] } },
      NOW,
    );
    assert.equal(quoted.total_usd, '4');
    const raw = await spendReport(
      storage,
      {
        from: '2026-11-15T12:00:00.500Z',
        to: '2026-11-15T12:35:00Z',
        groupBy: ['model'],
        filters: { model: ['gpt-4o'] },
      },
      NOW,
    );
    assert.equal(raw.total_usd, '7');
    assert.deepEqual(raw.breakdown[0], {
      model: 'gpt-4o',
      spend_usd: '7',
      calls: 3,
      input_tokens: 30,
      output_tokens: 3,
      unpriced_calls: 0,
    });
  });

  it('reads the raw table to the millisecond when the range is not on the hour', async () => {
    await writer.write([priced({ at: new Date('2026-11-15T12:00:00.250Z'), costUsd: '1' })]);
    const before = { from: '2026-11-15T12:00:00.000Z', to: '2026-11-15T12:00:00.250Z' };
    const after = { from: '2026-11-15T12:00:00.250Z', to: '2026-11-15T12:00:00.251Z' };
    assert.equal((await spendReport(storage, before, NOW)).total_usd, '0');
    assert.equal((await spendReport(storage, after, NOW)).total_usd, '1');
  });

  it('survives two migration runs racing on a fresh database; a third applies nothing', async () => {
    const fresh = await freshStorage({ migrate: false });
    const all = readdirSync(path.join(REPO_ROOT, 'collector', 'migrations'))
      .filter((f) => /^\d{4}_.*\.sql$/.test(f))
      .map((f) => Number(f.slice(0, 4)))
      .sort((x, y) => x - y);
    const [a, b] = await Promise.all([migrate(fresh), migrate(fresh)]);
    assert.deepEqual(a, all);
    assert.ok(b.length <= all.length);
    assert.deepEqual(await migrate(fresh), []);
    const db = fresh.database;
    assert.equal(
      await scalar(
        fresh,
        `SELECT arrayStringConcat(arrayMap(v -> toString(v), arraySort(groupUniqArray(version))), ',') FROM ${db}.schema_migrations`,
      ),
      all.join(','),
    );
    await writer.write([priced()]); // the suite's own database still works alongside
    const ddl = await scalar(
      fresh,
      `SELECT create_table_query FROM system.tables WHERE database = '${db}' AND name = 'spend_hourly'`,
    );
    assert.match(ddl, /^CREATE VIEW .*spend_hourly_sealed FINAL.*UNION ALL.*spend_hourly_raw/);
  });
});

describe('exclusive writer (embedded engine): lookups skipped only where provably safe', () => {
  it('still counts retries once, across a restart and for spans older than what was stored', async () => {
    const storage = await freshStorage();
    const at = (iso: string, spanId: string): PricedCall => priced({ spanId, at: new Date(iso) });
    const first = new CallWriter(storage, { exclusive: true });
    await first.init();
    const batch = [
      at('2026-11-20T10:00:00Z', 'e000000000000001'),
      at('2026-11-20T10:00:01Z', 'e000000000000002'),
    ];
    assert.deepEqual(await first.write(batch), { inserted: 2, duplicates: 0 });
    // A retry while the process runs: found in memory.
    assert.deepEqual(await first.write(batch), { inserted: 0, duplicates: 2 });
    // "Restart": a new writer on the same tables knows only what is stored.
    const second = new CallWriter(storage, { exclusive: true });
    await second.init();
    assert.deepEqual(await second.write(batch), { inserted: 0, duplicates: 2 });
    // Older than the newest stored span, and new: looked up, then stored.
    const late = at('2026-11-20T09:00:00Z', 'e000000000000003');
    assert.deepEqual(await second.write([late, batch[0]!]), { inserted: 1, duplicates: 1 });
    const raw = await storage.client.query({
      query: `SELECT count() AS n FROM ${storage.database}.llm_calls`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await raw.json<{ n: string }>())[0]!.n), 3);
    const rollup = await storage.client.query({
      query: `SELECT sum(calls) AS calls FROM ${storage.database}.spend_hourly`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rollup.json<{ calls: string }>())[0]!.calls), 3);
  });

  it('keys it no longer remembers exactly go to a filter: a new span starting earlier is not looked up, a retry is (decision 0107)', async () => {
    const storage = await freshStorage();
    const lookups: number[] = [];
    const counted = seeingQueries(storage, (params) => {
      if (params.query.startsWith(`SELECT trace_id, span_id FROM ${storage.database}.llm_calls WHERE`))
        lookups.push((params.query_params?.keys as unknown[]).length);
    });
    const writer = new CallWriter(counted, { exclusive: true, rememberedKeys: 4, filteredKeys: 20 });
    await writer.init();
    const at = (second: number, id: number): PricedCall =>
      priced({
        spanId: id.toString(16).padStart(16, 'a'),
        at: new Date(Date.UTC(2026, 10, 22, 10, 0, second)),
      });
    // Ten calls: the latest four remembered, six in the filter.
    const early = Array.from({ length: 10 }, (_, i) => at(20 + i, 0x100 + i));
    assert.deepEqual(await writer.write(early), { inserted: 10, duplicates: 0 });
    // New calls starting before every one of them: known new without a lookup.
    const before = Array.from({ length: 5 }, (_, i) => at(i, 0x200 + i));
    assert.deepEqual(await writer.write(before), { inserted: 5, duplicates: 0 });
    assert.deepEqual(lookups, []);
    // Two of the first ones sent again: the filter may know them, so they are looked up, and found.
    assert.deepEqual(await writer.write(early.slice(0, 2)), { inserted: 0, duplicates: 2 });
    assert.deepEqual(lookups, [2]);
    // A full filter is folded into the start-time bound: a span starting before its latest key is looked up.
    const later = Array.from({ length: 20 }, (_, i) => at(40 + i, 0x300 + i));
    assert.deepEqual(await writer.write(later), { inserted: 20, duplicates: 0 });
    assert.deepEqual(lookups, [2]);
    assert.deepEqual(await writer.write([at(10, 0x400)]), { inserted: 1, duplicates: 0 });
    assert.deepEqual(lookups, [2, 1]);
    assert.equal(
      await scalar(storage, `SELECT uniqExact(span_id) FROM ${storage.database}.llm_calls`),
      String(10 + 5 + 20 + 1),
    );
    assert.equal(await scalar(storage, `SELECT count() FROM ${storage.database}.llm_calls`), String(36));
  });

  it('an insert that committed but reported an error (a lost answer) is not counted again when retried with other spans', async () => {
    const storage = await freshStorage();
    const at = (iso: string, spanId: string): PricedCall => priced({ spanId, at: new Date(iso) });
    let loseNextAnswer = false;
    // The writer inserts its rows' text through exec (decision 0100).
    const realExec = storage.client.exec.bind(storage.client);
    const flaky: Storage = {
      ...storage,
      client: new Proxy(storage.client, {
        get(target, prop, receiver) {
          if (prop !== 'exec') return Reflect.get(target, prop, receiver) as unknown;
          return async (...args: Parameters<typeof realExec>) => {
            const result = await realExec(...args);
            if (loseNextAnswer && args[0].query.startsWith(`INSERT INTO ${storage.database}.llm_calls (`)) {
              loseNextAnswer = false;
              throw new Error('socket hang up');
            }
            return result;
          };
        },
      }),
    };
    const writer = new CallWriter(flaky, { exclusive: true });
    await writer.init();
    const batch = [at('2026-11-21T10:00:00Z', 'f000000000000001')];
    loseNextAnswer = true;
    await assert.rejects(writer.write(batch), /inserting calls/);
    // The exporter retries; this time the batch is written together with another one.
    const other = at('2026-11-21T10:00:05Z', 'f000000000000002');
    assert.deepEqual(await writer.write([...batch, other]), { inserted: 1, duplicates: 1 });
    const rollup = await storage.client.query({
      query: `SELECT sum(calls) AS calls FROM ${storage.database}.spend_hourly`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rollup.json<{ calls: string }>())[0]!.calls), 2);
  });
});

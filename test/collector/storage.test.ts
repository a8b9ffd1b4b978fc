import assert from 'node:assert/strict';
import { ClickHouseError } from '@clickhouse/client';
import type { PricedCall } from '../../collector/src/core/call';
import { Pricer } from '../../collector/src/pricing/pricer';
import { spendReport, spendReportCsv, parseGroupBy, ReportQueryError } from '../../collector/src/read/spend';
import type { Storage } from '../../collector/src/storage/client';
import { loadMigrations, migrate, splitStatements } from '../../collector/src/storage/migrations';
import { StorageError, isRefusedByEngine } from '../../collector/src/storage/errors';
import { CallWriter } from '../../collector/src/storage/writer';
import { extractedCall, nanos } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';

const NOW = new Date('2026-11-15T12:34:56Z');
const pricer = new Pricer();

let seq = 0;
function call(over: {
  model: string;
  input: number;
  output: number;
  cached?: number;
  team?: string;
  feature?: string;
  at?: Date;
  spanId?: string;
}): PricedCall {
  return pricer.price(
    extractedCall(
      {
        traceId: 'ab'.repeat(16),
        spanId: over.spanId ?? (++seq).toString(16).padStart(16, '0'),
        startTimeUnixNano: nanos(over.at ?? NOW, 123n),
        durationMs: 12,
        requestModel: over.model,
        responseModel: over.model,
        inputTokens: over.input,
        outputTokens: over.output,
        cacheReadTokens: over.cached ?? 0,
        serverAddress: 'api.openai.com',
      },
      {
        team: over.team ?? 'platform',
        feature: over.feature ?? '',
        environment: 'production',
        service: 'svc',
      },
    ),
  );
}

describe('storage (embedded ClickHouse)', () => {
  let storage: Storage;
  let writer: CallWriter;

  beforeEach(async () => {
    storage = await freshStorage();
    writer = new CallWriter(storage);
  });

  it('applies migrations once: a second run applies nothing and keeps the data', async () => {
    await writer.write([call({ model: 'gpt-4o', input: 1000, output: 200 })]);
    assert.deepEqual(await migrate(storage), []);
    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM ${storage.database}.llm_calls`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rs.json<{ n: string }>())[0]!.n), 1);
    const versions = loadMigrations().map((m) => m.version);
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => a - b),
    );
  });

  it('stores the 1-hour cache writes; a database from before 0010 gains the column, its rows reading 0', async () => {
    const old = await freshStorage({ migrate: false });
    const all = loadMigrations();
    await migrate(
      old,
      all.filter((m) => m.version < 10),
    );
    await old.client.command({
      query: `INSERT INTO ${old.database}.llm_calls (trace_id, span_id, start_time, cache_write_tokens)
              VALUES ('old', 'old', '2026-11-15 00:00:00', 800)`,
    });
    assert.deepEqual(
      await migrate(old, all),
      all.filter((m) => m.version >= 10).map((m) => m.version),
    );
    // The current writer also fills columns of later migrations (0016's asked_model, 0017's ingest key):
    // the rest upgrade the same store, the old row reading their defaults.
    await migrate(old, all);
    const claude = pricer.price(
      extractedCall({
        spanId: 'c'.repeat(16),
        startTimeUnixNano: nanos(NOW),
        provider: 'anthropic',
        requestModel: 'claude-sonnet-4-5',
        inputTokens: 1000,
        cacheWriteTokens: 800,
        cacheWrite1hTokens: 600,
        outputTokens: 100,
      }),
    );
    await new CallWriter(old).write([claude]);
    const rs = await old.client.query({
      query: `SELECT span_id, cache_write_tokens, cache_write_1h_tokens, toString(cost_usd) AS cost,
                     asked_model, ingest_key, claimed_attribution
              FROM ${old.database}.llm_calls ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    const later = { asked_model: '', ingest_key: '', claimed_attribution: '' };
    assert.deepEqual(await rs.json(), [
      // 200 × 3 + 200 × 3.75 + 600 × 6 + 100 × 15 = 6450 µ$
      {
        span_id: 'c'.repeat(16),
        cache_write_tokens: 800,
        cache_write_1h_tokens: 600,
        cost: '0.00645',
        ...later,
      },
      { span_id: 'old', cache_write_tokens: 800, cache_write_1h_tokens: 0, cost: '0', ...later },
    ]);
  });

  it('stores the model asked for (downgrades only) and the service version, on a database from before them', async () => {
    const old = await freshStorage({ migrate: false });
    const all = loadMigrations();
    const asked = all.find((m) => m.name.endsWith('_llm_calls_asked_model'))!;
    await migrate(
      old,
      all.filter((m) => m.version < asked.version),
    );
    await old.client.command({
      query: `INSERT INTO ${old.database}.llm_calls (trace_id, span_id, start_time, request_model)
              VALUES ('old', 'old', '2026-11-15 00:00:00', 'gpt-4o')`,
    });
    await migrate(old, all);
    // Another branch's migration adding the same column (issue 21) runs after ours as a no-op.
    assert.deepEqual(await migrate(old, [{ ...asked, version: 9999, name: 'again' }]), [9999]);
    const downgraded = pricer.price(
      extractedCall({
        spanId: 'd'.repeat(16),
        startTimeUnixNano: nanos(NOW),
        requestModel: 'gpt-4o-mini',
        askedModel: 'gpt-4o',
        serviceVersion: '1.5.0',
        inputTokens: 10,
        outputTokens: 1,
      }),
    );
    const plain = pricer.price(
      extractedCall({ spanId: 'e'.repeat(16), startTimeUnixNano: nanos(NOW), requestModel: 'gpt-4o' }),
    );
    await new CallWriter(old).write([downgraded, plain]);
    const rs = await old.client.query({
      query: `SELECT span_id, request_model, asked_model, service_version FROM ${old.database}.llm_calls ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await rs.json(), [
      {
        span_id: 'd'.repeat(16),
        request_model: 'gpt-4o-mini',
        asked_model: 'gpt-4o',
        service_version: '1.5.0',
      },
      // Not downgraded, and rows stored before the column: '' (reads take the request model).
      { span_id: 'e'.repeat(16), request_model: 'gpt-4o', asked_model: '', service_version: '' },
      { span_id: 'old', request_model: 'gpt-4o', asked_model: '', service_version: '' },
    ]);
  });

  it('stores the service tier a call was served on, on a database from before it (older rows read as unknown)', async () => {
    const old = await freshStorage({ migrate: false });
    const all = loadMigrations();
    const tier = all.find((m) => m.name.endsWith('_llm_calls_service_tier'))!;
    await migrate(
      old,
      all.filter((m) => m.version < tier.version),
    );
    await old.client.command({
      query: `INSERT INTO ${old.database}.llm_calls (trace_id, span_id, start_time, request_model)
              VALUES ('old', 'old', '2026-11-15 00:00:00', 'gpt-4o')`,
    });
    await migrate(old, all);
    assert.deepEqual(await migrate(old, [{ ...tier, version: 9999, name: 'again' }]), [9999]);
    const call = (spanId: string, serviceTier?: string) =>
      pricer.price(
        extractedCall({
          spanId,
          startTimeUnixNano: nanos(NOW),
          requestModel: 'gpt-4o',
          ...(serviceTier ? { serviceTier } : {}),
        }),
      );
    await new CallWriter(old).write([
      call('f'.repeat(16), 'flex'),
      call('p'.repeat(16), 'priority'),
      call('s'.repeat(16)),
    ]);
    const rs = await old.client.query({
      query: `SELECT span_id, service_tier FROM ${old.database}.llm_calls ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await rs.json(), [
      { span_id: 'f'.repeat(16), service_tier: 'flex' },
      { span_id: 'old', service_tier: '' },
      { span_id: 'p'.repeat(16), service_tier: 'priority' },
      { span_id: 's'.repeat(16), service_tier: '' },
    ]);
  });

  it('splits migration files into statements without comment lines', () => {
    assert.deepEqual(splitStatements('-- c\nCREATE A;\n\nCREATE B (x;y);\n'), ['CREATE A', 'CREATE B (x;y)']);
  });

  it('counts a retried batch once, in the raw table and in the rollup', async () => {
    const batch = [
      call({ model: 'gpt-4o', input: 1000, output: 200 }),
      call({ model: 'gpt-4o', input: 10000, cached: 8000, output: 100 }),
    ];
    assert.deepEqual(await writer.write(batch), { inserted: 2, duplicates: 0 });
    assert.deepEqual(await writer.write(batch), { inserted: 0, duplicates: 2 });
    // A batch overlapping the first: only the new span is stored.
    const third = call({ model: 'gpt-4o', input: 1, output: 0 });
    assert.deepEqual(await writer.write([batch[0]!, third]), { inserted: 1, duplicates: 1 });
    const report = await spendReport(storage, { period: 'current_month', groupBy: ['team'] }, NOW);
    assert.equal(report.total_usd, '0.0205025');
    assert.equal(report.breakdown[0]!.calls, 3);
  });

  it('a row the engine refuses fails only the batch holding it, not the batches written with it', async () => {
    const a = call({ model: 'gpt-4o', input: 1000, output: 200 });
    const b = call({ model: 'gpt-4o', input: 2000, output: 400 });
    const good = call({ model: 'gpt-4o', input: 1, output: 1 });
    // The decoders repair lone surrogates; one that got past them anyway fails the insert.
    const refused = call({ model: 'gpt-4o', input: 1, output: 1, team: 'cut \ud83d' });
    const first = writer.write([a]); // written alone; the next two wait and are written together
    const bad = writer.write([good, refused]);
    const other = writer.write([b, a]);
    assert.deepEqual(await first, { inserted: 1, duplicates: 0 });
    await assert.rejects(bad, /inserting calls.*surrogate/);
    assert.deepEqual(await other, { inserted: 1, duplicates: 1 });
    const report = await spendReport(storage, { period: 'current_month', groupBy: ['team'] }, NOW);
    assert.deepEqual(
      report.breakdown.map((r) => [r.team, r.calls]),
      [['platform', 2]],
    );
  });

  it('tells an engine that refused a statement from one that did not answer', () => {
    const refused = new ClickHouseError({ message: 'bad row', code: '27', type: 'CANNOT_PARSE_INPUT' });
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    assert.equal(isRefusedByEngine(new StorageError('inserting calls', { cause: refused })), true);
    assert.equal(isRefusedByEngine(new StorageError('inserting calls', { cause: down })), false);
  });

  it('drops duplicates within one batch', async () => {
    const c = call({ model: 'gpt-4o', input: 1000, output: 200 });
    assert.deepEqual(await writer.write([c, c, c]), { inserted: 1, duplicates: 2 });
  });

  it('sums money exactly as Decimal and groups by whitelisted dimensions', async () => {
    await writer.write([
      call({ model: 'gpt-4o', input: 1000, output: 200, team: 'search', feature: 'summarizer' }), // 0.0045
      call({ model: 'gpt-4o', input: 10000, cached: 8000, output: 100, team: 'search', feature: 'chat' }), // 0.016
      call({ model: 'gpt-4o-mini', input: 1, output: 0, team: 'platform' }), // 0.00000015
      call({ model: 'our-private-model', input: 50, output: 5, team: 'platform' }), // unpriced
    ]);
    const report = await spendReport(storage, { period: 'current_month', groupBy: ['team', 'model'] }, NOW);
    assert.equal(report.total_usd, '0.02050015');
    assert.equal(report.from, '2026-11-01T00:00:00.000Z');
    assert.equal(report.to, '2026-12-01T00:00:00.000Z');
    assert.deepEqual(report.breakdown[0], {
      team: 'search',
      model: 'gpt-4o',
      spend_usd: '0.0205',
      calls: 2,
      input_tokens: 11000,
      output_tokens: 300,
      unpriced_calls: 0,
    });
    const unpriced = report.breakdown.find((r) => r.model === 'our-private-model');
    assert.deepEqual(unpriced, {
      team: 'platform',
      model: 'our-private-model',
      spend_usd: '0',
      calls: 1,
      input_tokens: 50,
      output_tokens: 5,
      unpriced_calls: 1,
    });
    const csv = spendReportCsv(report, ['team', 'model']);
    assert.equal(csv.split('\n')[0], 'team,model,spend_usd,calls,input_tokens,output_tokens,unpriced_calls');
    assert.ok(csv.includes('search,gpt-4o,0.0205,2,11000,300,0'));
  });

  it('keeps other periods out and reads the raw table for ranges off the hour', async () => {
    await writer.write([
      call({ model: 'gpt-4o', input: 1000, output: 200, at: new Date('2026-10-31T23:59:59Z') }),
      call({ model: 'gpt-4o', input: 1000, output: 200, at: new Date('2026-11-01T00:00:00Z') }),
      call({ model: 'gpt-4o', input: 1000, output: 200, at: new Date('2026-11-01T00:30:00Z') }),
    ]);
    const last = await spendReport(storage, { period: 'last_month' }, NOW);
    assert.equal(last.total_usd, '0.0045');
    assert.equal((await spendReport(storage, { period: '2026-11' }, NOW)).total_usd, '0.009');
    const raw = await spendReport(storage, { from: '2026-11-01T00:00:00Z', to: '2026-11-01T00:15:00Z' }, NOW);
    assert.equal(raw.total_usd, '0.0045');
    assert.equal(raw.breakdown[0]!.calls, 1);
  });

  it('rejects group-by dimensions outside the whitelist', () => {
    assert.deepEqual(parseGroupBy('team, model'), ['team', 'model']);
    assert.throws(() => parseGroupBy('team;DROP TABLE x'), ReportQueryError);
    assert.throws(() => parseGroupBy('secret_column'), /unknown groupBy "secret_column"/);
  });
});

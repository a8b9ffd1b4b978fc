/**
 * The ClickHouse HTTP stand-in (test support for several collectors on one store) answers
 * `@clickhouse/client` as a server does: statements and inserts, query parameters, settings per
 * statement, query ids, both auth styles, errors with their codes, and statements that run at the
 * same time. If it did not, the multi-collector tests built on it would prove nothing.
 */
import assert from 'node:assert/strict';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { startClickHouseStandIn, type ClickHouseStandIn } from '../support/clickhouse-http/process';

describe('ClickHouse HTTP stand-in (test support)', function () {
  this.timeout(60_000);
  let server: ClickHouseStandIn;
  let client: ClickHouseClient;

  before(async () => {
    server = await startClickHouseStandIn({ user: 'collector', password: 's3cret' });
    client = createClient({
      url: server.url.replace(/\/\/[^@]+@/, '//'),
      username: 'collector',
      password: 's3cret',
      log: { level: ClickHouseLogLevel.OFF },
    });
  });

  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it('answers ping, commands, inserts and typed queries with parameters', async () => {
    assert.equal((await client.ping()).success, true);
    await client.command({ query: 'CREATE DATABASE IF NOT EXISTS fx' });
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS fx.t (k String, n UInt64, at DateTime64(3, 'UTC'))
              ENGINE = MergeTree ORDER BY k`,
    });
    await client.insert({
      table: 'fx.t',
      values: [
        { k: 'a', n: 1, at: '2026-01-01 00:00:00.000' },
        { k: "b'quote", n: '9007199254740993', at: '2026-01-02 00:00:00.000' },
      ],
      format: 'JSONEachRow',
    });
    const rs = await client.query({
      query:
        'SELECT k, n FROM fx.t WHERE k IN {keys:Array(String)} AND at >= {from:DateTime64(3)} ORDER BY k',
      query_params: { keys: ['a', "b'quote"], from: '2026-01-01 00:00:00.000' },
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    assert.match(rs.query_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(await rs.json(), [
      { k: 'a', n: '1' },
      { k: "b'quote", n: '9007199254740993' },
    ]);
    // Parameters travel in the URL; a server takes long ones (thousands of keys).
    const many = Array.from({ length: 5_000 }, (_, i) => `key-${i}-${'x'.repeat(40)}`);
    const counted = await client.query({
      query: 'SELECT length({many:Array(String)}) AS n',
      query_params: { many },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await counted.json(), [{ n: 5_000 }]);
    // A setting applies to its statement only.
    const plain = await client.query({ query: 'SELECT toUInt64(7) AS n', format: 'JSONEachRow' });
    assert.deepEqual(await plain.json(), [{ n: 7 }]);
  });

  it('refuses a wrong password (basic and header auth) with code 516', async () => {
    const base = server.url.replace(/\/\/[^@]+@/, '//');
    const wrong = createClient({
      url: base,
      username: 'collector',
      password: 'nope',
      log: { level: ClickHouseLogLevel.OFF },
    });
    await assert.rejects(wrong.query({ query: 'SELECT 1' }), (e: { code?: string }) => e.code === '516');
    await wrong.close();
    const res = await fetch(`${base}/?query=SELECT%201`, {
      headers: { 'X-ClickHouse-User': 'collector', 'X-ClickHouse-Key': 'nope' },
    });
    assert.deepEqual([res.status, res.headers.get('x-clickhouse-exception-code')], [401, '516']);
    const ok = await fetch(`${base}/?query=SELECT%201`, {
      headers: { 'X-ClickHouse-User': 'collector', 'X-ClickHouse-Key': 's3cret' },
    });
    assert.deepEqual([ok.status, (await ok.text()).trim()], [200, '1']);
  });

  it('errors carry the engine code, in the body and X-ClickHouse-Exception-Code', async () => {
    await assert.rejects(
      client.query({ query: 'SELECT * FROM fx.nope' }),
      (e: { code?: string; type?: string }) => {
        assert.equal(e.code, '60');
        assert.equal(e.type, 'UNKNOWN_TABLE');
        return true;
      },
    );
    const base = server.url.replace(/\/\/[^@]+@/, '//');
    const res = await fetch(`${base}/`, {
      method: 'POST',
      body: 'SELEC 1',
      headers: { authorization: `Basic ${Buffer.from('collector:s3cret').toString('base64')}` },
    });
    assert.deepEqual([res.status, res.headers.get('x-clickhouse-exception-code')], [400, '62']);
    assert.match(await res.text(), /^Code: 62\. DB::Exception/);
  });

  it('runs statements at the same time, as a server does', async () => {
    const started = Date.now();
    const slow = client.query({ query: 'SELECT sleep(2) AS s', format: 'JSONEachRow' });
    const fast = await client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' });
    assert.deepEqual(await fast.json(), [{ one: 1 }]);
    const fastMs = Date.now() - started;
    await (await slow).json();
    assert.ok(fastMs < 1_500, `a short statement waited ${fastMs} ms behind a 2 s one`);
  });
});

/**
 * Runs in its own process (libchdb binds one data directory per process):
 *   raw <batchesFile> <dataDir> <rowsPerInsert>  the ceiling: @clickhouse/client inserts of the collector's
 *                                   rows (its JSONCompactEachRow format) into the collector's schema (its
 *                                   migrations) on embedded chdb, `rowsPerInsert` rows per insert
 *   raw-table-only <batchesFile> <dataDir> <rowsPerInsert>  the same without the spend_hourly rollup view
 *   writer <batchesFile> <dataDir>  the collector's own CallWriter (dedupe lookup + insert), no HTTP
 *   raw-rows <rowsFile> <dataDir> <rowsPerInsert>  the same ceiling from the collector's rows prepared
 *                                   beforehand (NDJSON of compact rows, read `rowsPerInsert` lines at a time
 *                                   between the timed inserts): bounded memory for millions of rows
 *   count <dataDir>                 rows stored by a (stopped) collector in that data directory
 * Prints one JSON line.
 */
import { createReadStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, memoryOf } from './common.mjs';
import { readBatches } from './genai-spans.mjs';

const require = createRequire(path.join(REPO_ROOT, 'collector', 'package.json'));
const dist = (m) => require(path.join(REPO_ROOT, 'collector', 'dist', m));
const { createClient } = require('@clickhouse/client');
const { createChdbConnection } = require('chdb/connection');
const { openStorage } = dist('storage/client');
const { loadMigrations, migrate } = dist('storage/migrations');
const { CallWriter } = dist('storage/writer');
const { CALL_COLUMNS, toCompactRow } = dist('storage/rows');
const { decodeTraceRequest } = dist('ingest/otlp/decode');
const { processTraceRequest } = dist('ingest/pipeline');
const { Pricer } = dist('pricing/pricer');

const [mode, a, b, c] = process.argv.slice(2);

function pricedBatches(file) {
  const pricer = new Pricer();
  return readBatches(file).map(
    (buf) => processTraceRequest(decodeTraceRequest(buf, 'application/x-protobuf'), pricer).calls,
  );
}

/** The collector's schema (its migrations) on embedded chdb in `dataDir`, optionally without the rollups. */
async function rawClient(dataDir, withRollup) {
  const dir = path.join(dataDir, 'clickhouse');
  mkdirSync(dir, { recursive: true });
  const client = createClient({ connection: createChdbConnection({ path: dir }) });
  const db = 'tokenledger';
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  // The collector's schema: llm_calls and the spend_hourly rollup fed by a materialized view.
  for (const m of loadMigrations())
    for (const s of m.statements) {
      if (!withRollup && /spend_hourly/.test(s)) continue;
      await client.command({ query: s.replaceAll('${DB}', db) });
    }
  return { client, db };
}

async function raw(file, dataDir, rowsPerInsert, withRollup = true) {
  const rows = pricedBatches(file).flatMap((calls) => calls.map(toCompactRow));
  const rowBatches = [];
  for (let i = 0; i < rows.length; i += rowsPerInsert) rowBatches.push(rows.slice(i, i + rowsPerInsert));
  const { client, db } = await rawClient(dataDir, withRollup);
  let spans = 0;
  const t0 = performance.now();
  for (const batch of rowBatches) {
    await client.insert({
      table: `${db}.llm_calls (${CALL_COLUMNS.join(', ')})`,
      values: batch,
      format: 'JSONCompactEachRow',
    });
    spans += batch.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const rs = await client.query({ query: `SELECT count() AS n FROM ${db}.llm_calls`, format: 'JSONEachRow' });
  const [{ n }] = await rs.json();
  await client.close();
  return { spans, seconds, stored: Number(n) };
}

/**
 * Inserts the NDJSON rows of `file`, `rowsPerInsert` at a time; only the inserts are timed (wall and
 * this process's CPU, the engine's threads included).
 */
async function rawRows(file, dataDir, rowsPerInsert) {
  const { client, db } = await rawClient(dataDir, true);
  let spans = 0;
  let seconds = 0;
  let cpuMicros = 0;
  const insert = async (values) => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await client.insert({
      table: `${db}.llm_calls (${CALL_COLUMNS.join(', ')})`,
      values,
      format: 'JSONCompactEachRow',
    });
    seconds += (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    cpuMicros += used.user + used.system;
    spans += values.length;
  };
  let chunk = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    chunk.push(JSON.parse(line));
    if (chunk.length === rowsPerInsert) {
      await insert(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await insert(chunk);
  const rs = await client.query({ query: `SELECT count() AS n FROM ${db}.llm_calls`, format: 'JSONEachRow' });
  const [{ n }] = await rs.json();
  await client.close();
  return {
    spans,
    seconds,
    cpuSeconds: cpuMicros / 1e6,
    stored: Number(n),
    peakMiB: memoryOf(process.pid).peakMiB,
  };
}

async function writer(file, dataDir) {
  const callBatches = pricedBatches(file);
  const storage = openStorage({ dataDir });
  await migrate(storage);
  const w = new CallWriter(storage);
  // Time the writer's two engine round trips (dedupe lookup, insert) by wrapping the client.
  const split = { lookupSeconds: 0, insertSeconds: 0, lastLookupMs: 0, firstLookupMs: 0 };
  const timed = (name, key) => {
    const original = storage.client[name].bind(storage.client);
    storage.client[name] = async (...args) => {
      const t = performance.now();
      try {
        return await original(...args);
      } finally {
        const ms = performance.now() - t;
        split[key] += ms / 1000;
        if (key === 'lookupSeconds') {
          if (split.firstLookupMs === 0) split.firstLookupMs = ms;
          split.lastLookupMs = ms;
        }
      }
    };
  };
  timed('query', 'lookupSeconds');
  timed('insert', 'insertSeconds');
  let spans = 0;
  const t0 = performance.now();
  for (const calls of callBatches) spans += (await w.write(calls)).inserted;
  const seconds = (performance.now() - t0) / 1000;
  await storage.close();
  return { spans, seconds, ...split };
}

async function count(dataDir) {
  const storage = openStorage({ dataDir });
  const rs = await storage.client.query({
    query: `SELECT count() AS n, uniqExact(trace_id, span_id) AS distinct_spans FROM ${storage.database}.llm_calls`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json();
  await storage.close();
  return { rows: Number(row.n), distinctSpans: Number(row.distinct_spans) };
}

const result =
  mode === 'raw'
    ? await raw(a, b, Number(c))
    : mode === 'raw-rows'
      ? await rawRows(a, b, Number(c))
      : mode === 'raw-table-only'
        ? await raw(a, b, Number(c), false)
        : mode === 'writer'
          ? await writer(a, b)
          : await count(a);
process.stdout.write(JSON.stringify(result) + '\n');

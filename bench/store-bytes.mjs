/**
 * Bytes on disk per stored call: the active parts (`system.parts`) of a collector's store, per
 * table, divided by the calls it holds. Fill a store first, e.g. with 1 M realistic spans:
 *
 *   node bench/collector-ingest.mjs --batches 2000 --spans 500 --senders 16 --collector-only --keep-store /tmp/store
 *   node bench/store-bytes.mjs /tmp/store
 *
 * Embedded chdb: the data directory must not be open in a running collector.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT, fmt, table } from './support/common.mjs';

const require = createRequire(path.join(REPO_ROOT, 'collector', 'package.json'));
const { openStorage } = require(path.join(REPO_ROOT, 'collector', 'dist', 'storage', 'client'));

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: node bench/store-bytes.mjs <collector data dir>');
  process.exit(2);
}
const storage = openStorage({ dataDir });
const db = storage.database;
try {
  const json = async (query, query_params = {}) =>
    (await storage.client.query({ query, query_params, format: 'JSONEachRow' })).json();
  const [{ calls }] = await json(`SELECT count() AS calls FROM ${db}.llm_calls`);
  const parts = await json(
    `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS disk,
            sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
     FROM system.parts WHERE active AND database = {db:String}
     GROUP BY table ORDER BY disk DESC`,
    { db },
  );
  const n = Number(calls);
  const total = parts.reduce((s, p) => s + Number(p.disk), 0);
  console.log(`### Store size: ${n.toLocaleString('en-US')} calls in ${db} (${dataDir})`);
  console.log();
  console.log(
    table(
      [
        'table',
        'active parts',
        'rows',
        'on disk MiB',
        'compressed MiB',
        'uncompressed MiB',
        'bytes on disk per call',
      ],
      parts.map((p) => [
        p.table,
        String(p.parts),
        Number(p.rows).toLocaleString('en-US'),
        fmt(Number(p.disk) / 2 ** 20, 1),
        fmt(Number(p.compressed) / 2 ** 20, 1),
        fmt(Number(p.uncompressed) / 2 ** 20, 1),
        fmt(Number(p.disk) / n, 1),
      ]),
    ),
  );
  console.log();
  console.log(
    `All tables: ${fmt(total / 2 ** 20, 1)} MiB on disk, ${fmt(total / n, 1)} bytes per stored call.`,
  );
} finally {
  await storage.close();
}

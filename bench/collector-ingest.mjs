/**
 * Collector ingest throughput: OTLP/protobuf batches of GenAI spans POSTed to the running collector
 * (`node collector/dist/cli/main.js collector`, embedded ClickHouse, fresh data dir) by a few
 * concurrent senders; each batch counts once the collector acks it (it acks after the insert).
 * Beside it: the storage ceiling (raw @clickhouse/client inserts of the same rows into the same schema
 * on the same embedded engine, own process), the collector's CallWriter without HTTP, and the
 * in-process CPU per span of decode and extract+price.
 *
 *   node bench/collector-ingest.mjs [--batches 200] [--spans 500] [--senders 4,16]
 *     [--collector-only] [--keep-store <dir>]
 * --collector-only: only the collector runs (no ceilings, no in-process CPU): a long sustained run.
 * --keep-store: the last run's data directory is moved there (for bench/store-bytes.mjs).
 * --senders: the numbers of concurrent exporters to run the collector with (one fresh run each); the
 * target is judged on the last (a collector serves many app processes at once, and each exporter
 * waits for its durable ack before it sends its next batch).
 */
import { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  collectorDist as dist,
  cpuSecondsOf,
  fmt,
  memoryOf,
  quantile,
  runNode,
  sortedCopy,
  table,
} from './support/common.mjs';
import { profileTables, selfTimes } from './support/cpuprofile.mjs';
import { reportedCalls, startCollector } from './support/collector-process.mjs';
import { buildBatches, writeBatches } from './support/genai-spans.mjs';

const CHDB_WORKER = path.join(BENCH_DIR, 'support', 'chdb-worker.mjs');
const TARGET_SPANS_PER_S = 20_000;

const { values: opts } = parseArgs({
  strict: false,
  options: {
    batches: { type: 'string', default: '200' },
    spans: { type: 'string', default: '500' },
    senders: { type: 'string', default: '4,16' },
    profile: { type: 'boolean', default: false },
    'collector-only': { type: 'boolean', default: false },
    'keep-store': { type: 'string' },
  },
});
const BATCHES = Number(opts.batches);
const SPANS = Number(opts.spans);
const SENDER_COUNTS = opts.senders.split(',').map(Number);
/** Rows per insert of the larger ceiling: about what group commit reaches with 16 exporters. */
const GROUPED_ROWS = 4_000;
const TOTAL = BATCHES * SPANS;

async function send(url, key, bodies, senders) {
  const latencies = [];
  let next = 0;
  let retries = 0;
  let rejected = 0;
  const sender = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      for (;;) {
        const t = performance.now();
        const res = await globalThis.fetch(`${url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` },
          body: bodies[i],
        });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status === 200) {
          latencies.push(performance.now() - t);
          if (body.length > 0) rejected++; // a partialSuccess in the response
          break;
        }
        if (res.status === 429 || res.status === 503) {
          retries++;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new Error(`POST /v1/traces: HTTP ${res.status} ${body.toString().slice(0, 200)}`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: senders }, sender));
  return { seconds: (performance.now() - t0) / 1000, latencies: sortedCopy(latencies), retries, rejected };
}

function microbench(bodies) {
  const { decodeTraceRequest } = dist('ingest/otlp/decode');
  const { processTraceRequest } = dist('ingest/pipeline');
  const { Pricer } = dist('pricing/pricer');
  const { toCompactRow } = dist('storage/rows');
  const pricer = new Pricer();
  const buffers = bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.length));
  const REPS = 3;
  const best = { decode: Infinity, price: Infinity, rows: Infinity };
  for (let rep = 0; rep < REPS + 1; rep++) {
    let decode = 0;
    let price = 0;
    let rows = 0;
    for (const buf of buffers) {
      let t = performance.now();
      const req = decodeTraceRequest(buf, 'application/x-protobuf');
      decode += performance.now() - t;
      t = performance.now();
      const { calls } = processTraceRequest(req, pricer);
      price += performance.now() - t;
      t = performance.now();
      JSON.stringify(calls.map(toCompactRow));
      rows += performance.now() - t;
    }
    if (rep === 0) continue; // warm-up
    best.decode = Math.min(best.decode, decode);
    best.price = Math.min(best.price, price);
    best.rows = Math.min(best.rows, rows);
  }
  const spans = bodies.length * SPANS;
  const usPerSpan = (ms) => (ms * 1000) / spans;
  return { decode: usPerSpan(best.decode), price: usPerSpan(best.price), rows: usPerSpan(best.rows) };
}

/** The collector runs alone (`--collector-only`): its table and the load average it ran under. */
function collectorOnly(log, lines, runs, bytes) {
  log(
    `### Collector ingest, sustained: ${BATCHES} batches × ${SPANS} spans = ${TOTAL.toLocaleString('en-US')} spans`,
  );
  log();
  log(
    `OTLP/protobuf over HTTP, ${fmt(bytes / TOTAL, 0)} B/span, acked after insert; load average before the ` +
      `run ${LOAD_BEFORE.map((l) => fmt(l, 2)).join(' ')}, after ${loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')} ` +
      `(${cpus().length} cores). Verified: every span stored once and counted by the report API.`,
  );
  log();
  log(
    table(
      [
        'exporters at once',
        'spans/s',
        'wall s',
        'collector CPU s (embedded engine included)',
        'spans per CPU second',
        'batch p50 ms',
        'batch p99 ms',
        'peak RSS MiB',
        'retried batches',
      ],
      runs.map(({ e2e }) => [
        String(e2e.senders),
        fmt(TOTAL / e2e.seconds, 0),
        fmt(e2e.seconds, 1),
        fmt(e2e.cpuSeconds, 1),
        fmt(TOTAL / e2e.cpuSeconds, 0),
        fmt(quantile(e2e.latencies, 0.5), 1),
        fmt(quantile(e2e.latencies, 0.99), 1),
        fmt(e2e.mem.peakMiB, 0),
        String(e2e.retries ?? 0),
      ]),
    ),
  );
  const rate = TOTAL / runs[runs.length - 1].e2e.seconds;
  return { markdown: lines.join('\n'), rate, runs };
}

const LOAD_BEFORE = loadavg();

export async function run() {
  const lines = [];
  const log = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const work = mkdtempSync(path.join(tmpdir(), 'tl-bench-ingest-'));
  try {
    let t = performance.now();
    const bodies = buildBatches({ batches: BATCHES, spansPerBatch: SPANS });
    const bytes = bodies.reduce((n, b) => n + b.length, 0);
    console.error(
      `built ${BATCHES} × ${SPANS} spans with the OpenTelemetry SDK in ${fmt((performance.now() - t) / 1000, 1)} s ` +
        `(${fmt(bytes / 2 ** 20, 1)} MiB of OTLP/protobuf, ${fmt(bytes / TOTAL, 0)} B/span)`,
    );
    const batchesFile = path.join(work, 'batches.bin');
    writeBatches(batchesFile, bodies);

    // 1. The collector, end to end, once per number of concurrent exporters (fresh data dir each).
    const keys = { admin: 'bench-admin-key-' + process.pid, ingest: 'bench-ingest-key-' + process.pid };
    const profDir = path.join(work, 'profile');
    const runs = [];
    for (const [i, senders] of SENDER_COUNTS.entries()) {
      const dataDir = path.join(work, `collector-${senders}`);
      // Profiled: the last run, the one the target is judged on.
      const profiled = opts.profile && i === SENDER_COUNTS.length - 1;
      const collector = startCollector(
        dataDir,
        keys,
        profiled ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      );
      let e2e;
      try {
        const url = await collector.url;
        const idle = memoryOf(collector.child.pid);
        const cpuBefore = cpuSecondsOf(collector.child.pid);
        const sent = await send(url, keys.ingest, bodies, senders);
        const cpuSeconds = cpuSecondsOf(collector.child.pid) - cpuBefore;
        const mem = memoryOf(collector.child.pid);
        const reported = await reportedCalls(url, keys.admin);
        e2e = { ...sent, idle, mem, reported, senders, cpuSeconds };
      } finally {
        await collector.stop();
      }
      const { result: stored } = await runNode([], CHDB_WORKER, ['count', dataDir]);
      console.error(
        `collector, ${senders} senders: ${TOTAL} spans acked; stored rows ${stored.rows} (distinct ${stored.distinctSpans})`,
      );
      if (stored.rows !== TOTAL || stored.distinctSpans !== TOTAL || e2e.reported !== TOTAL) {
        throw new Error(
          `stored rows ${stored.rows} / distinct ${stored.distinctSpans} / reported calls ${e2e.reported} ≠ ${TOTAL} sent`,
        );
      }
      runs.push({ e2e, stored });
    }

    const profile = opts.profile ? selfTimes(path.join(profDir, readdirSync(profDir)[0])) : undefined;
    if (opts['keep-store'])
      renameSync(path.join(work, `collector-${SENDER_COUNTS.at(-1)}`), opts['keep-store']);
    if (opts['collector-only']) return collectorOnly(log, lines, runs, bytes);

    // 2. The ceiling and the writer alone, each in its own process and data dir.
    const rawRun = async (mode, rows) => {
      const dir = path.join(work, `${mode}-${rows}`);
      const { result } = await runNode([], CHDB_WORKER, [mode, batchesFile, dir, String(rows)]);
      if (result.stored !== TOTAL) throw new Error(`${mode} insert stored ${result.stored} ≠ ${TOTAL}`);
      return result;
    };
    const raw = await rawRun('raw', SPANS);
    const rawGrouped = await rawRun('raw', GROUPED_ROWS);
    const rawTable = await rawRun('raw-table-only', SPANS);
    const { result: writer } = await runNode([], CHDB_WORKER, [
      'writer',
      batchesFile,
      path.join(work, 'writer'),
    ]);

    // 3. CPU per span in-process.
    t = performance.now();
    const cpu = microbench(bodies);

    const last = runs[runs.length - 1];
    const rate = TOTAL / last.e2e.seconds;
    log(`### Collector ingest: ${BATCHES} batches × ${SPANS} spans = ${TOTAL.toLocaleString('en-US')} spans`);
    log();
    log(
      `OTLP/protobuf over HTTP from ${SENDER_COUNTS.join(' and ')} concurrent exporters (one fresh collector ` +
        `each), each exporter sending its next batch once the previous one is acked; acked after insert ` +
        `(durable); ${fmt(bytes / TOTAL, 0)} B/span. Verified after each run: ` +
        runs
          .map(
            ({ e2e, stored }) =>
              `${stored.rows.toLocaleString('en-US')} rows stored (${stored.distinctSpans.toLocaleString('en-US')} ` +
              `distinct span ids), report API counts ${e2e.reported.toLocaleString('en-US')} calls`,
          )
          .join('; ') +
        '.',
    );
    log();
    log(
      table(
        ['what', 'spans/s', 'wall s', 'batch p50 ms', 'batch p99 ms', 'peak RSS MiB'],
        [
          ...runs.map(({ e2e }) => [
            `collector, ${e2e.senders} exporters at once (HTTP → decode → extract → price → dedupe → insert)`,
            fmt(TOTAL / e2e.seconds, 0),
            fmt(e2e.seconds, 2),
            fmt(quantile(e2e.latencies, 0.5), 1),
            fmt(quantile(e2e.latencies, 0.99), 1),
            `${fmt(e2e.mem.peakMiB, 0)} (idle ${fmt(e2e.idle.rssMiB, 0)})`,
          ]),
          [
            `CallWriter alone, no HTTP/decode (dedupe lookups ${fmt(writer.lookupSeconds, 2)} s, growing ${fmt(writer.firstLookupMs, 0)}→${fmt(writer.lastLookupMs, 0)} ms/batch; inserts ${fmt(writer.insertSeconds, 2)} s)`,
            fmt(writer.spans / writer.seconds, 0),
            fmt(writer.seconds, 2),
            '—',
            '—',
            '—',
          ],
          [
            `raw @clickhouse/client insert, same rows and format, ${SPANS} rows per insert (one per export batch), same schema (+ rollup view), chdb`,
            fmt(raw.spans / raw.seconds, 0),
            fmt(raw.seconds, 2),
            '—',
            '—',
            '—',
          ],
          [
            `same, ${GROUPED_ROWS.toLocaleString('en-US')} rows per insert (what the collector's group commit writes at once under load)`,
            fmt(rawGrouped.spans / rawGrouped.seconds, 0),
            fmt(rawGrouped.seconds, 2),
            '—',
            '—',
            '—',
          ],
          [
            `same, ${SPANS} rows per insert, llm_calls only (no spend_hourly materialized view)`,
            fmt(rawTable.spans / rawTable.seconds, 0),
            fmt(rawTable.seconds, 2),
            '—',
            '—',
            '—',
          ],
        ],
      ),
    );
    log();
    const total = cpu.decode + cpu.price + cpu.rows;
    log(
      `Collector CPU per span, in-process (best of 3 passes over the same ${TOTAL.toLocaleString('en-US')} spans):`,
    );
    log();
    log(
      table(
        ['stage', 'µs/span', 'spans/s on one core'],
        [
          ['decode (decodeTraceRequest, protobuf)', fmt(cpu.decode, 2), fmt(1e6 / cpu.decode, 0)],
          ['extract + price (processTraceRequest)', fmt(cpu.price, 2), fmt(1e6 / cpu.price, 0)],
          ['row + JSON (toCompactRow, JSON.stringify)', fmt(cpu.rows, 2), fmt(1e6 / cpu.rows, 0)],
          ['total before storage', fmt(total, 2), fmt(1e6 / total, 0)],
        ],
      ),
    );
    log();
    log(
      `Target ≥ ${TARGET_SPANS_PER_S.toLocaleString('en-US')} spans/s per process, judged with ` +
        `${last.e2e.senders} exporters at once: ${rate >= TARGET_SPANS_PER_S ? 'MET' : 'MISSED'} (${fmt(rate, 0)} spans/s).` +
        runs
          .filter(({ e2e }) => e2e.retries)
          .map(
            ({ e2e }) => ` ${e2e.retries} batches were retried after 429/503 with ${e2e.senders} exporters.`,
          )
          .join(''),
    );
    if (profile) {
      log();
      log(
        `CPU profile of the collector during the run (node --cpu-prof), self time by package and top functions:`,
      );
      log();
      const [byPackageTable, byFunctionTable] = profileTables(profile, 20);
      log(byPackageTable);
      log();
      log(byFunctionTable);
    }
    return { markdown: lines.join('\n'), rate, cpu, raw, rawGrouped, rawTable, writer, runs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}

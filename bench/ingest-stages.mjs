/**
 * Where the collector's ingest CPU and allocation go, stage by stage, in one process and without
 * the engine (issue 23): the same realistic OTLP/protobuf exports as bench/ingest-sustained.mjs run
 * through each stage of the collector's build in turn, each stage's output kept as the next one's
 * input.
 *  - decode: OTLP/protobuf body → decoded request (ingest/otlp)
 *  - extract: decoded request → extracted calls, against the trace window (ingest/pipeline with a
 *    pricer that returns the call as it is)
 *  - price: extracted call → priced call (pricing/pricer)
 *  - insert body: priced calls → the JSONCompactEachRow text @clickhouse/client sends (one JSON
 *    array per row, joined), as storage/writer inserts it
 *  - journal append / read-back: what storage/journal writes for an acknowledged group and reads
 *    back to check it (the encoded group, decoded again)
 * Printed per stage: CPU µs per span (process.cpuUsage, garbage collection included — it runs on
 * the helper threads too) and bytes allocated per span (V8 heap growth over a slice of exports
 * small enough that no collection runs: a child process with a young generation large enough,
 * checked; Buffers outside V8's heap not counted).
 *
 *   node bench/ingest-stages.mjs [--spans-total 100000] [--spans 500] [--rounds 3] [--build <dir>]
 * --build: another build of the collector (a copy of collector/dist, e.g. from before a change) instead
 *   of collector/dist.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { collectorDist, fmt, median, table } from './support/common.mjs';
import { buildBatches } from './support/genai-spans.mjs';

const { values: opts } = parseArgs({
  strict: false,
  options: {
    'spans-total': { type: 'string', default: '100000' },
    spans: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    bytes: { type: 'boolean', default: false },
    build: { type: 'string' },
  },
});
const dist = opts.build ? (m) => createRequire(import.meta.url)(path.resolve(opts.build, m)) : collectorDist;
const SPANS = Number(opts.spans);
const EXPORTS = Math.ceil(Number(opts['spans-total']) / SPANS);
/** Exports per allocation slice (no collection may run inside one). */
const BYTES_SLICE = Math.max(1, Math.floor(5_000 / SPANS));

const { decodeTraceRequest } = dist('ingest/otlp/decode');
const { processTraceRequest } = dist('ingest/pipeline');
const { TraceWindow } = dist('ingest/trace-window');
const { Pricer } = dist('pricing/pricer');
const { toCompactRow } = dist('storage/rows');
/** The journal's reader of its row segments (decision 0100); absent from a build before it (JSON of the calls). */
const { journaledRows } = dist('storage/journal');

const asIs = { price: (c) => c };

/** The stages in the order data moves; each maps the previous stage's output for one export. */
function stages() {
  const window = new TraceWindow();
  const pricer = new Pricer();
  return [
    ['decode', (body) => decodeTraceRequest(body, 'application/x-protobuf')],
    ['extract (with the trace window)', (req) => processTraceRequest(req, asIs, { window }).calls],
    ['price', (calls) => calls.map((c) => pricer.price(c))],
    [
      'insert body (JSONCompactEachRow)',
      (calls) => {
        // As @clickhouse/client encodes an array of rows, and the chdb connection joins the chunks.
        let body = '';
        for (const c of calls) body += JSON.stringify(toCompactRow(c)) + '\n';
        return { calls, body };
      },
    ],
    [
      'journal append (the bytes written)',
      // The insert's own text since decision 0100; before it, JSON of the calls.
      ({ calls, body }) => Buffer.from(journaledRows ? body : JSON.stringify(calls) + '\n'),
    ],
    [
      'journal read-back (keys of the rows)',
      (bytes) => {
        if (!journaledRows) return JSON.parse(bytes.toString('utf8'));
        // A build from before decision 0124 reads the segment's text, not its bytes.
        try {
          return journaledRows(bytes);
        } catch {
          return journaledRows(bytes.toString('utf8'));
        }
      },
    ],
  ];
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU µs per span of each stage, each stage over every export. */
function cpuRound(bodies) {
  let items = bodies;
  const out = [];
  for (const [name, fn] of stages()) {
    const t = cpuSeconds();
    items = items.map(fn);
    out.push([name, ((cpuSeconds() - t) * 1e6) / (bodies.length * SPANS)]);
  }
  return out;
}

/** Bytes allocated per span of each stage (run in a child with a large young generation). */
function bytesRun(bodies) {
  let collections = 0;
  new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({
    entryTypes: ['gc'],
  });
  const all = stages();
  const totals = all.map(() => 0);
  for (let i = 0; i < bodies.length; i += BYTES_SLICE) {
    let items = bodies.slice(i, i + BYTES_SLICE);
    all.forEach(([, fn], s) => {
      globalThis.gc();
      const before = v8.getHeapStatistics().used_heap_size;
      const seen = collections;
      items = items.map(fn);
      const grown = v8.getHeapStatistics().used_heap_size - before;
      if (collections !== seen)
        throw new Error('a collection ran inside a slice: use a larger young generation');
      totals[s] += grown;
    });
  }
  return all.map(([name], s) => [name, totals[s] / (bodies.length * SPANS)]);
}

const bodiesOf = () =>
  buildBatches({ batches: EXPORTS, spansPerBatch: SPANS, extra: true }).map((b) => Buffer.from(b));

if (opts.bytes) {
  const bodies = bodiesOf();
  process.send(bytesRun(bodies));
} else {
  const load = () =>
    loadavg()
      .map((l) => fmt(l, 1))
      .join(' ');
  const loadBefore = load();
  const bodies = bodiesOf();
  const rounds = [];
  for (let r = 0; r < Number(opts.rounds); r++) rounds.push(cpuRound(bodies));
  const bytes = await new Promise((resolve, reject) => {
    const child = fork(
      new URL(import.meta.url).pathname,
      [
        '--bytes',
        '--spans-total',
        String(EXPORTS * SPANS),
        '--spans',
        String(SPANS),
        ...(opts.build ? ['--build', opts.build] : []),
      ],
      { execArgv: ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128'] },
    );
    child.once('message', resolve);
    child.once('exit', (code) => code !== 0 && reject(new Error(`bytes child exited with ${code}`)));
  });
  const total = (rows) => rows.reduce((n, [, v]) => n + v, 0);
  const cpuRows = rounds[0].map(([name], s) => [name, median(rounds.map((r) => r[s][1]))]);
  console.log(
    `### Ingest stages${opts.build ? ` (${opts.build})` : ''}: ${(EXPORTS * SPANS).toLocaleString('en-US')} spans in exports of ${SPANS}, ` +
      `${rounds.length} rounds (median CPU), load ${loadBefore} → ${load()}`,
  );
  console.log();
  console.log(
    table(
      ['stage', 'CPU µs/span (median)', 'rounds', 'bytes allocated/span'],
      [
        ...cpuRows.map(([name, v], s) => [
          name,
          fmt(v, 1),
          rounds.map((r) => fmt(r[s][1], 1)).join(' / '),
          fmt(bytes[s][1], 0),
        ]),
        ['all stages', fmt(total(cpuRows), 1), '', fmt(total(bytes), 0)],
      ],
    ),
  );
}

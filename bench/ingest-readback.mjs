/**
 * What the collector's own queries cost as llm_calls grows (issue 23, sustained ingest; decisions
 * 0106–0107): one embedded store filled step by step with the bench's realistic calls (each with its
 * own random trace id, start times within the same 10 minutes, as bench/ingest-sustained.mjs sends
 * them), and at each size, interleaved:
 *  - journal read-back, this build: a group of calls inserted and journaled as the writer does it,
 *    its segment checked by the IngestJournal (the parts written since the group's insert began,
 *    every column);
 *  - journal read-back over all parts: the same check of a segment with no block bound (what every
 *    check did before decision 0106, and what a segment left by an earlier process still gets);
 *  - journal read-back behind: `--behind` groups written with no check between them (their segments
 *    wait, merges fold their parts), then one check: in passes of several segments, keys sorted
 *    (this build, decision 0124), beside one segment at a time (before it);
 *  - dedupe lookup of a whole group's keys (what the exclusive writer did for nearly every span once
 *    it had evicted a key that started later, before decision 0107) and of a few keys (what it does
 *    now: a filter's false positive or a retry).
 * Printed per query type and size: wall ms and process CPU ms (the engine's threads included) per
 * query, the median of `--reps` interleaved rounds, and CPU µs per span of the group. One process,
 * the load average beside each size.
 *
 *   node bench/ingest-readback.mjs [--sizes 250000,1000000,2000000] [--group 4000] [--reps 3] [--behind 8]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { collectorDist as dist, fmt, median, table } from './support/common.mjs';
import { buildBatches } from './support/genai-spans.mjs';

const { values: opts } = parseArgs({
  strict: false,
  options: {
    sizes: { type: 'string', default: '250000,1000000,2000000' },
    group: { type: 'string', default: '4000' },
    reps: { type: 'string', default: '3' },
    behind: { type: 'string', default: '8' },
  },
});
const REPS = Number(opts.reps);
const SIZES = opts.sizes.split(',').map(Number);
const GROUP = Number(opts.group);
const BEHIND = Number(opts.behind);
const FEW = 4;

const { openStorage } = dist('storage/client');
const { migrate } = dist('storage/migrations');
const { IngestJournal } = dist('storage/journal');
const { CALL_COLUMNS, toRowLine } = dist('storage/rows');
const { spanKeysWhere } = dist('storage/span-keys');
const { decodeTraceRequest } = dist('ingest/otlp/decode');
const { processTraceRequest } = dist('ingest/pipeline');
const { Pricer } = dist('pricing/pricer');

const load = () =>
  loadavg()
    .map((l) => fmt(l, 1))
    .join(' ');

/** Realistic priced calls (the sustained bench's spans), as templates to give fresh keys. */
function templates() {
  const [body] = buildBatches({ batches: 1, spansPerBatch: 500, extra: true });
  const req = decodeTraceRequest(Buffer.from(body), 'application/x-protobuf');
  return processTraceRequest(req, new Pricer()).calls;
}

const nowNs = BigInt(Date.now()) * 1_000_000n;
/** `n` calls with their own random ids, starting within the last 10 minutes. */
function freshCalls(from, n) {
  const ids = randomBytes(n * 24).toString('hex');
  return Array.from({ length: n }, (_, i) => ({
    ...from[i % from.length],
    traceId: ids.slice(i * 48, i * 48 + 32),
    spanId: ids.slice(i * 48 + 32, i * 48 + 48),
    startTimeUnixNano: (nowNs - BigInt(Math.floor(Math.random() * 600e9))).toString(),
  }));
}

/** Inserts `calls` as the writer does (their JSONCompactEachRow text); returns that text. */
async function insert(storage, calls) {
  const text = calls.map(toRowLine).join('');
  const { stream } = await storage.client.exec({
    query: `INSERT INTO ${storage.database}.llm_calls (${CALL_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`,
    values: Readable.from([text], { objectMode: false }),
  });
  for await (const chunk of stream) void chunk;
  return text;
}

/** Fills llm_calls up to `size` rows with raw inserts of 5,000 rows (the table the collector would have). */
async function fillTo(storage, from, have, size) {
  for (let n = have; n < size; n += 5_000) await insert(storage, freshCalls(from, Math.min(5_000, size - n)));
}

/** A group inserted and journaled as the writer does it (its dedupe lookup left out: not timed here). */
async function writeGroup(storage, journal, from) {
  const since = performance.now();
  await journal.append(await insert(storage, freshCalls(from, GROUP)), since);
}

async function timed(work) {
  const cpu = process.cpuUsage();
  const t = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000 };
}

/** A journal over `dir` that logs nothing (a restore here would be a failure: checked). */
async function journalIn(dir, storage, restored, passBytes) {
  const journal = new IngestJournal({
    dir,
    storage,
    restore: async (calls) => restored.push(...calls),
    log: () => undefined,
    limitBytes: 256 * 1024 * 1024,
    segmentMs: 0, // checked at once, not after 5 s
    passBytes,
  });
  await journal.init();
  return journal;
}

/** One group written and its segment checked by a journal that knows the block bound (this build). */
async function readBackBounded(storage, work, from) {
  const dir = mkdtempSync(path.join(work, 'journal-'));
  const restored = [];
  const journal = await journalIn(dir, storage, restored);
  await journal.check(); // measures the highest block before the group's insert begins
  await writeGroup(storage, journal, from);
  const t = await timed(() => journal.check());
  if (restored.length > 0 || journal.stats.segments > 0) throw new Error('bounded read-back did not finish');
  rmSync(dir, { recursive: true, force: true });
  return t;
}

/**
 * BEHIND groups written with no check between them (a check that fell behind: their segments wait,
 * and merges fold their parts into the table's large ones — forced here), then one check: all in passes of `passBytes` (this build,
 * decision 0124) or one segment at a time (`passBytes` 1: before it).
 */
async function readBackBehind(storage, work, from, passBytes) {
  const dir = mkdtempSync(path.join(work, 'journal-'));
  const restored = [];
  const journal = await journalIn(dir, storage, restored, passBytes);
  await journal.check();
  for (let g = 0; g < BEHIND; g++) await writeGroup(storage, journal, from);
  // What a long run meets: merges have folded the groups' parts into the table's large ones.
  await storage.client.command({ query: `OPTIMIZE TABLE ${storage.database}.llm_calls FINAL` });
  const t = await timed(() => journal.check());
  if (restored.length > 0 || journal.stats.segments > 0) throw new Error('read-back behind did not finish');
  rmSync(dir, { recursive: true, force: true });
  return t;
}

/** One group written, then checked by the next journal over that directory: no block bound, all parts. */
async function readBackAllParts(storage, work, from) {
  const dir = mkdtempSync(path.join(work, 'journal-'));
  const restored = [];
  const first = await journalIn(dir, storage, restored);
  await writeGroup(storage, first, from);
  await first.stop();
  const next = await journalIn(dir, storage, restored);
  const t = await timed(() => next.check());
  if (restored.length > 0 || next.stats.segments > 0)
    throw new Error('read-back over all parts did not finish');
  rmSync(dir, { recursive: true, force: true });
  return t;
}

/** The dedupe lookup's query for `calls` (keys only, over their start-time range). */
async function lookup(storage, calls) {
  const { where, params } = spanKeysWhere(calls);
  const rs = await storage.client.query({
    query: `SELECT trace_id, span_id FROM ${storage.database}.llm_calls WHERE ${where}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json()).length;
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), 'tl-bench-readback-'));
  const storage = openStorage({ dataDir: work }, 'bench');
  const rows = [];
  try {
    await migrate(storage);
    const from = templates();
    let have = 0;
    for (const size of SIZES) {
      const t = performance.now();
      await fillTo(storage, from, have, size);
      have = size;
      console.error(
        `filled to ${size.toLocaleString('en-US')} rows in ${fmt((performance.now() - t) / 1000, 1)} s`,
      );
      const loadAt = load();
      // REPS rounds, the four interleaved; each query type's median (a group's rows add to the table).
      const runs = { bounded: [], allParts: [], wholeGroup: [], few: [], onePass: [], oneAtATime: [] };
      for (let rep = 0; rep < REPS; rep++) {
        // Keys stored at this size: a lookup finds them all (what a retry of a group would look up).
        const stored = freshCalls(from, GROUP);
        await insert(storage, stored);
        runs.bounded.push(await readBackBounded(storage, work, from));
        runs.allParts.push(await readBackAllParts(storage, work, from));
        runs.wholeGroup.push(await timed(() => lookup(storage, stored)));
        runs.few.push(await timed(() => lookup(storage, stored.slice(0, FEW))));
        if (BEHIND > 0) {
          runs.onePass.push(await readBackBehind(storage, work, from, undefined));
          runs.oneAtATime.push(await readBackBehind(storage, work, from, 1));
        }
      }
      const mid = (ts) => ({ ms: median(ts.map((t) => t.ms)), cpuMs: median(ts.map((t) => t.cpuMs)) });
      const row = (what, ts, spans = GROUP) => [
        size.toLocaleString('en-US'),
        what,
        fmt(mid(ts).ms, 0),
        fmt(mid(ts).cpuMs, 0),
        fmt((mid(ts).cpuMs * 1000) / spans, 1),
        loadAt,
      ];
      const added = [
        row('journal read-back, parts written since (this build)', runs.bounded),
        row('journal read-back over all parts (before 0106)', runs.allParts),
        row(`dedupe lookup, ${GROUP.toLocaleString('en-US')} keys (before 0107)`, runs.wholeGroup),
        row(`dedupe lookup, ${FEW} keys (this build)`, runs.few),
      ];
      if (BEHIND > 0)
        added.push(
          row(
            `journal read-back, ${BEHIND} groups behind, one pass (this build)`,
            runs.onePass,
            GROUP * BEHIND,
          ),
          row(
            `journal read-back, ${BEHIND} groups behind, one segment at a time (as before 0124, with this build's query)`,
            runs.oneAtATime,
            GROUP * BEHIND,
          ),
        );
      rows.push(...added);
      console.error(
        rows
          .slice(-added.length)
          .map((r) => r.join(' | '))
          .join('\n'),
      );
    }
  } finally {
    await storage.close();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `### The collector's own queries as llm_calls grows (groups of ${GROUP.toLocaleString('en-US')} calls, ` +
      `random trace ids, start times within 10 minutes; median of ${REPS} rounds)`,
  );
  console.log();
  console.log(
    table(
      [
        'rows in llm_calls',
        'query',
        'wall ms',
        'process CPU ms',
        'CPU µs per span read back',
        'load at the size',
      ],
      rows,
    ),
  );
}

await main();

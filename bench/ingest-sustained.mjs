/**
 * Sustained collector ingest against the engine's own insert (issue 23's ingest target), 3 rounds,
 * interleaved (the order flips each round), ratios first:
 *  - collector: one `node collector/dist/cli/main.js collector` process (embedded ClickHouse, fresh
 *    data dir) fed ≥ 2 M spans by 8 sender processes (bench/support/ingest-sender.mjs) × 2 exports in
 *    flight, 500 spans per export, realistic ~25-attribute GenAI spans each with its own trace id,
 *    bodies pre-encoded before timing (the senders' CPU is printed) and their span times moved forward
 *    as each is sent (its latest span ends then, the others up to 10 minutes before: a long run does
 *    not send spans ever later into hours the rollup has sealed); an export counts once acked,
 *    which the collector does after the insert (durable). Each sender then sends one of its exports
 *    again (an exporter's retry): it must be found a duplicate. Afterwards the stored rows are
 *    counted: each span stored once, none lost, and the report API counts them all.
 *  - raw: the same rows (the collector's own, JSONCompactEachRow) inserted with @clickhouse/client
 *    into the same schema on the same embedded engine, 5,000 rows per insert, in its own process.
 * Printed: spans/s, ratio to raw, the collector's whole-process and main-thread CPU µs per span
 * (/proc/<pid>/stat and /proc/<pid>/task/<pid>/stat), its VmHWM, the window of remembered calls at
 * that rate, and the load average; then each collector run by windows of ~250,000 stored spans (its
 * /metrics and /proc sampled every second: spans/s, CPU µs per span, VmRSS, the journal's backlog), so that a rate falling
 * or a cost rising as the table grows shows.
 *
 *   node bench/ingest-sustained.mjs [--spans-total 2000000] [--rounds 3] [--senders 8] [--in-flight 2]
 *     [--spans 500] [--raw-rows 5000] [--profile]
 *   node bench/ingest-sustained.mjs --sweep [--spans-total 400000]   how cost grows (collector only):
 *     senders 2, 8, 16 at 500 spans per export, then 8 senders at 100 and 2,000 spans per export
 * --profile: the last round's collector runs under --cpu-prof; its top self times are printed.
 * --collector-node-args "<flags>|<flags>": node flags for the collector process; several variants separated
 *   by | run each round, interleaved with raw (e.g. "|--max-semi-space-size=16": the defaults beside a larger
 *   young generation). A flag `@<path>` runs that build of the CLI instead (e.g. a copy of collector/dist
 *   from before a change, placed inside the repository so that it finds node_modules); `NAME=value` sets
 *   the collector's environment (e.g. "|TOKENLEDGER_GC_AFTER_BYTES=0"). Targets are judged on the first
 *   variant.
 */
import { fork } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  REPO_ROOT,
  collectorDist as dist,
  cpuSecondsOf,
  fmt,
  median,
  memoryOf,
  quantile,
  runNode,
  sortedCopy,
  table,
} from './support/common.mjs';
import { reportedCalls, startCollector } from './support/collector-process.mjs';
import { profileTables, selfTimes } from './support/cpuprofile.mjs';
import { buildBatches, writeBatches } from './support/genai-spans.mjs';

const CHDB_WORKER = path.join(BENCH_DIR, 'support', 'chdb-worker.mjs');
const SENDER = path.join(BENCH_DIR, 'support', 'ingest-sender.mjs');
const TARGET_RATIO = 0.5;
const TARGET_PEAK_MB = 500;

const { values: opts } = parseArgs({
  strict: false,
  options: {
    'spans-total': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    senders: { type: 'string', default: '8' },
    'in-flight': { type: 'string', default: '2' },
    spans: { type: 'string', default: '500' },
    'raw-rows': { type: 'string', default: '5000' },
    profile: { type: 'boolean', default: false },
    sweep: { type: 'boolean', default: false },
    'collector-node-args': { type: 'string', default: '' },
  },
});
const SPANS_TOTAL = Number(opts['spans-total'] ?? (opts.sweep ? 400_000 : 2_000_000));
const ROUNDS = Number(opts.rounds);
const SENDERS = Number(opts.senders);
const IN_FLIGHT = Number(opts['in-flight']);
const SPANS = Number(opts.spans);
const RAW_ROWS = Number(opts['raw-rows']);
/** Extra node flags for the collector (to compare settings, e.g. V8's young generation). */
const VARIANTS = opts['collector-node-args'].split('|').map((v) => v.split(' ').filter(Boolean));
const variantName = (args) => (args.length > 0 ? args.join(' ') : 'defaults');

/** CPU seconds of one thread (/proc/<pid>/task/<tid>/stat: utime + stime). */
function threadCpuSecondsOf(pid, tid) {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of every thread of `pid`, summed by thread name (/proc/<pid>/task/<tid>/comm). */
function cpuByThreadName(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const key = tid === String(pid) ? 'main thread (JS)' : name.replace(/\d+$/, '');
      out.set(key, (out.get(key) ?? 0) + threadCpuSecondsOf(pid, tid));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Seconds each thread name used between two snapshots (threads gone by `after` keep what `before` saw them use). */
function threadDelta(before, after) {
  const out = [];
  for (const [name, s] of after) out.push([name, s - (before.get(name) ?? 0)]);
  return out.sort((a, b) => b[1] - a[1]);
}

const load = () =>
  loadavg()
    .map((l) => fmt(l, 1))
    .join(' ');

/** Forks the senders; resolves once each has read its share of the bodies (before any timing). */
async function startSenders(batchesFile, count, spansPerExport) {
  const senders = Array.from({ length: count }, (_, i) =>
    fork(SENDER, [batchesFile, String(i), String(count), String(spansPerExport)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const answer = (child) =>
    new Promise((resolve, reject) => {
      child.once('message', (msg) => (msg.error ? reject(new Error(msg.error)) : resolve(msg)));
      child.once('exit', (code) => code !== 0 && reject(new Error(`sender exited with ${code}`)));
    });
  await Promise.all(senders.map(answer));
  return {
    /** Sends every export, then each sender resends one already acked (`resend`); their results. */
    run: (go) =>
      Promise.all(
        senders.map((child) => {
          const done = answer(child);
          child.send({ go });
          return done.then((msg) => msg.result);
        }),
      ),
    kill: () => senders.forEach((c) => c.exitCode === null && c.kill()),
  };
}

/** Counter values from the collector's /metrics (Prometheus text) whose name starts with `prefix`. */
async function metrics(url, adminKey, prefix) {
  const res = await globalThis.fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
  const text = await res.text();
  const out = {};
  for (const line of text.split('\n'))
    if (line.startsWith(prefix)) {
      const [name, value] = line.split(/\s+/);
      out[name] = (out[name] ?? 0) + Number(value);
    }
  return out;
}

/** Spans per window of the sustained-rate table (stored calls, from the collector's /metrics). */
const WINDOW_SPANS = 250_000;

/**
 * Samples the collector every second while `work` runs — its stored-calls counter (/metrics), its
 * CPU time (whole process and main thread) and VmRSS — and resolves with one entry per window of
 * about WINDOW_SPANS stored spans (from one sample to the first that reached the next multiple):
 * spans/s, CPU µs per span, VmRSS at its end. A rate falling or a cost rising as the table grows shows.
 */
async function windowsWhile(work, url, adminKey, pid) {
  const sample = (n, journalBytes = 0) => ({
    t: performance.now(),
    at: new Date().toISOString().slice(11, 16),
    n,
    journalBytes,
    cpu: cpuSecondsOf(pid),
    main: threadCpuSecondsOf(pid, pid),
    rssMiB: memoryOf(pid).rssMiB,
  });
  const samples = [sample(0)];
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const counters = await metrics(url, adminKey, 'tokenledger_');
        samples.push(
          sample(counters.tokenledger_calls_stored_total ?? 0, counters.tokenledger_journal_bytes ?? 0),
        );
      } catch {
        // the collector is busy or stopping: the next poll
      }
    }
  })();
  try {
    return { result: await work, windows: windowsOf(samples) };
  } finally {
    stop = true;
    await poll;
  }
}

/** Consecutive windows of ≥ WINDOW_SPANS stored spans between samples (the last one may be shorter). */
function windowsOf(samples) {
  const out = [];
  let from = samples[0];
  let journalBytes = 0;
  for (const s of samples) {
    const last = s === samples.at(-1);
    journalBytes = Math.max(journalBytes, s.journalBytes);
    if (s.n - from.n < WINDOW_SPANS && !(last && s.n > from.n)) continue;
    const spans = s.n - from.n;
    out.push({
      upTo: s.n,
      at: s.at,
      rate: spans / ((s.t - from.t) / 1000),
      cpuUs: ((s.cpu - from.cpu) * 1e6) / spans,
      mainUs: ((s.main - from.main) * 1e6) / spans,
      rssMiB: s.rssMiB,
      journalMB: journalBytes / 1e6,
    });
    from = s;
    journalBytes = 0;
  }
  return out;
}

/** One collector run: every export once, then one resent per sender; counted and checked after. */
async function collectorRun({
  work,
  batchesFile,
  total,
  spans,
  senders,
  inFlight,
  profileDir,
  tag,
  nodeArgs = VARIANTS[0],
}) {
  const dataDir = path.join(work, `collector-${tag}`);
  const keys = { admin: `bench-admin-key-${process.pid}`, ingest: `bench-ingest-key-${process.pid}` };
  const pool = await startSenders(batchesFile, senders, spans);
  const cli = nodeArgs.find((a) => a.startsWith('@'))?.slice(1);
  const isEnv = (a) => /^[A-Z][A-Z0-9_]*=/.test(a);
  const collector = startCollector(
    dataDir,
    keys,
    [
      ...nodeArgs.filter((a) => !a.startsWith('@') && !isEnv(a)),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ],
    cli ? path.resolve(REPO_ROOT, cli) : undefined,
    Object.fromEntries(
      nodeArgs.filter(isEnv).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
    ),
  );
  const pid = collector.child.pid;
  let run;
  try {
    const url = await collector.url;
    const idle = memoryOf(pid);
    const loadBefore = load();
    const cpu0 = cpuSecondsOf(pid);
    const main0 = threadCpuSecondsOf(pid, pid);
    const threads0 = cpuByThreadName(pid);
    const t0 = performance.now();
    const { result: results, windows } = await windowsWhile(
      pool.run({ url, key: keys.ingest, inFlight, resend: 1 }),
      url,
      keys.admin,
      pid,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpuSecondsOf(pid) - cpu0;
    const mainSeconds = threadCpuSecondsOf(pid, pid) - main0;
    const threads = threadDelta(threads0, cpuByThreadName(pid));
    const mem = memoryOf(pid);
    const reported = await reportedCalls(url, keys.admin);
    const counters = await metrics(url, keys.admin, 'tokenledger_');
    run = {
      results,
      seconds,
      cpuSeconds,
      mainSeconds,
      threads,
      mem,
      idle,
      reported,
      counters,
      windows,
      loadBefore,
      loadAfter: load(),
    };
  } catch (err) {
    console.error(`collector (${tag}) output, last 3,000 characters:\n${collector.output().slice(-3000)}`);
    throw err;
  } finally {
    pool.kill();
    await collector.stop();
  }
  const { result: stored } = await runNode([], CHDB_WORKER, ['count', dataDir]);
  rmSync(dataDir, { recursive: true, force: true });
  const resent = run.results.reduce((n, r) => n + r.resent, 0);
  if (stored.rows !== total || stored.distinctSpans !== total || run.reported !== total)
    throw new Error(
      `collector (${tag}): stored rows ${stored.rows} / distinct ${stored.distinctSpans} / reported calls ` +
        `${run.reported} ≠ ${total} sent (+ ${resent} resent)`,
    );
  const duplicates = run.counters.tokenledger_calls_duplicate_total ?? NaN;
  // Spans sent again after a failed connection may have been stored the first time.
  const errorRetries = run.results.reduce((n, r) => n + r.errorRetries, 0);
  if (!(duplicates >= resent && duplicates <= resent + errorRetries))
    throw new Error(
      `collector (${tag}): ${resent} spans resent (+ ${errorRetries} after failed connections), ${duplicates} found duplicate (/metrics)`,
    );
  const latencies = sortedCopy(run.results.flatMap((r) => r.latencies));
  const senderCpu = run.results.reduce((n, r) => n + r.cpuSeconds, 0);
  const retries = run.results.reduce((n, r) => n + r.retries, 0);
  const partial = run.results.reduce((n, r) => n + r.partial, 0);
  if (partial > 0) throw new Error(`collector (${tag}): ${partial} exports answered with a partial success`);
  return { ...run, stored, latencies, senderCpu, retries, resent, rate: total / run.seconds };
}

/** Decodes, prices and writes the collector's rows for the batches as NDJSON (the raw inserts' input). */
async function writeRows(bodies, file) {
  const { decodeTraceRequest } = dist('ingest/otlp/decode');
  const { processTraceRequest } = dist('ingest/pipeline');
  const { Pricer } = dist('pricing/pricer');
  const { toCompactRow } = dist('storage/rows');
  const pricer = new Pricer();
  const out = createWriteStream(file);
  for (const body of bodies) {
    const req = decodeTraceRequest(
      Buffer.from(body.buffer, body.byteOffset, body.length),
      'application/x-protobuf',
    );
    const text = processTraceRequest(req, pricer)
      .calls.map((c) => JSON.stringify(toCompactRow(c)) + '\n')
      .join('');
    if (!out.write(text)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
}

async function rawRun(work, rowsFile, total, tag) {
  const dir = path.join(work, `raw-${tag}`);
  const loadBefore = load();
  const { result } = await runNode([], CHDB_WORKER, ['raw-rows', rowsFile, dir, String(RAW_ROWS)]);
  rmSync(dir, { recursive: true, force: true });
  if (result.stored !== total) throw new Error(`raw insert stored ${result.stored} ≠ ${total}`);
  return { ...result, rate: total / result.seconds, loadBefore, loadAfter: load() };
}

function prepare(work, spansTotal, spansPerExport) {
  const batches = Math.ceil(spansTotal / spansPerExport);
  const t = performance.now();
  const bodies = buildBatches({ batches, spansPerBatch: spansPerExport, extra: true });
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  const total = batches * spansPerExport;
  console.error(
    `built ${batches} × ${spansPerExport} spans with the OpenTelemetry SDK in ${fmt((performance.now() - t) / 1000, 1)} s ` +
      `(${fmt(bytes / 2 ** 20, 1)} MiB of OTLP/protobuf, ${fmt(bytes / total, 0)} B/span)`,
  );
  const batchesFile = path.join(work, `batches-${spansPerExport}.bin`);
  writeBatches(batchesFile, bodies);
  return { bodies, bytes, total, batchesFile };
}

const us = (seconds, spans) => (seconds * 1e6) / spans;

/**
 * Remembered calls (the writer's exact keys, then its Bloom filter of older ones; decision 0107) and
 * the seconds of ingest they span at `rate`. Builds from before the filter state the exact keys only.
 */
function dedupeWindow(rate) {
  const { REMEMBERED_KEYS, FILTERED_KEYS = 0 } = dist('storage/writer');
  const keys = REMEMBERED_KEYS + FILTERED_KEYS;
  return `${keys.toLocaleString('en-US')} keys = ${fmt(keys / rate, 0)} s`;
}

async function sustained(work, log) {
  const { bodies, bytes, total, batchesFile } = prepare(work, SPANS_TOTAL, SPANS);
  const rowsFile = path.join(work, 'rows.ndjson');
  let t = performance.now();
  await writeRows(bodies, rowsFile);
  console.error(
    `wrote the collector's rows for the raw inserts in ${fmt((performance.now() - t) / 1000, 1)} s`,
  );
  bodies.length = 0;
  const profileDir = path.join(work, 'profile');
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved: raw and each collector variant in an order rotated each round, so that none of them
    // always runs on a fresher (or busier) machine.
    const runs = [{ raw: true }, ...VARIANTS.map((nodeArgs, variant) => ({ variant, nodeArgs }))];
    const order = runs.map((_, i) => runs[(i + round) % runs.length]);
    let raw;
    const collectors = [];
    for (const r of order) {
      if (r.raw) {
        raw = await rawRun(work, rowsFile, total, String(round));
        continue;
      }
      // Profiled: the last round's first variant.
      const profiled = opts.profile && round === ROUNDS - 1 && r.variant === 0;
      collectors[r.variant] = await collectorRun({
        work,
        batchesFile,
        total,
        spans: SPANS,
        senders: SENDERS,
        inFlight: IN_FLIGHT,
        profileDir: profiled ? profileDir : undefined,
        tag: `${round}-${r.variant}`,
        nodeArgs: r.nodeArgs,
      });
    }
    for (const [variant, collector] of collectors.entries())
      console.error(
        `round ${round + 1}, ${variantName(VARIANTS[variant])}: collector ${fmt(collector.rate, 0)} spans/s, raw ` +
          `${fmt(raw.rate, 0)} rows/s, ratio ${fmt(collector.rate / raw.rate, 2)}, VmHWM ${fmt(collector.mem.peakMiB, 0)} MiB ` +
          `(load ${collector.loadBefore})`,
      );
    rounds.push({ collectors, raw });
  }

  log(
    `### Sustained ingest: ${total.toLocaleString('en-US')} spans into one collector, ${SENDERS} sender processes × ` +
      `${IN_FLIGHT} exports in flight, ${SPANS} spans per export; raw at ${RAW_ROWS.toLocaleString('en-US')} rows per insert`,
  );
  log();
  log(
    `OTLP/protobuf over HTTP, ${fmt(bytes / total, 0)} B/span (~25 attributes, own trace id each), acked after the ` +
      `insert; each sender then resent one acked export (found duplicate). Verified each round: ${total.toLocaleString('en-US')} ` +
      `rows stored, as many distinct span ids, the report API counts them all. ${cpus().length} cores; load average ` +
      `(1/5/15 min) beside each round.`,
  );
  log();
  const ratioOf = (c, r) => c.rate / r.rate;
  const ratios = rounds.map(({ collectors, raw }) => ratioOf(collectors[0], raw));
  log(
    table(
      [
        'round',
        ...(VARIANTS.length > 1 ? ['collector settings'] : []),
        'collector ÷ raw',
        'collector spans/s',
        'raw rows/s',
        'collector CPU µs/span (whole process)',
        'main thread µs/span',
        'raw CPU µs/row (process, inserts only)',
        'collector VmHWM MB',
        'raw VmHWM MB',
        'senders CPU µs/span',
        'export p50 / p99 ms',
        'retried (429)',
        'dedupe window',
        'load before',
      ],
      rounds.flatMap(({ collectors, raw: r }, i) =>
        collectors.map((c, variant) => [
          String(i + 1),
          ...(VARIANTS.length > 1 ? [variantName(VARIANTS[variant])] : []),
          fmt(ratioOf(c, r), 2),
          fmt(c.rate, 0),
          fmt(r.rate, 0),
          fmt(us(c.cpuSeconds, total), 1),
          fmt(us(c.mainSeconds, total), 1),
          fmt(us(r.cpuSeconds, total), 1),
          fmt((c.mem.peakMiB * 2 ** 20) / 1e6, 0),
          fmt((r.peakMiB * 2 ** 20) / 1e6, 0),
          fmt(us(c.senderCpu, total), 1),
          `${fmt(quantile(c.latencies, 0.5), 0)} / ${fmt(quantile(c.latencies, 0.99), 0)}`,
          String(c.retries),
          dedupeWindow(c.rate),
          c.loadBefore,
        ]),
      ),
    ),
  );
  log();
  log(
    `Sustained: each collector run by windows of ~${WINDOW_SPANS.toLocaleString('en-US')} stored spans (its /metrics ` +
      `and /proc sampled every second): spans/s, CPU µs per span whole process / main thread, VmRSS MB at the ` +
      `window's end, the journal's largest backlog in it (acknowledged rows not yet read back; at its limit, ` +
      `256 MiB here, new spans are refused), and the time (UTC) it ended:`,
  );
  log();
  log(
    table(
      [
        'round',
        ...(VARIANTS.length > 1 ? ['collector settings'] : []),
        'stored spans at the end',
        'spans/s',
        'CPU µs/span (whole / main)',
        'VmRSS MB',
        'journal MB, most',
        'ended (UTC)',
      ],
      rounds.flatMap(({ collectors }, i) =>
        collectors.flatMap((c, variant) =>
          c.windows.map((w) => [
            String(i + 1),
            ...(VARIANTS.length > 1 ? [variantName(VARIANTS[variant])] : []),
            w.upTo.toLocaleString('en-US'),
            fmt(w.rate, 0),
            `${fmt(w.cpuUs, 1)} / ${fmt(w.mainUs, 1)}`,
            fmt((w.rssMiB * 2 ** 20) / 1e6, 0),
            fmt(w.journalMB, 1),
            w.at,
          ]),
        ),
      ),
    ),
  );
  log();
  const last = rounds.at(-1).collectors[0];
  log(
    `Where the collector's CPU went (last round, CPU µs per span by thread name; threads that ended during the ` +
      `run are not counted):`,
  );
  log();
  log(
    table(
      ['thread', 'µs/span', 'share'],
      last.threads
        .filter(([, s]) => s > 0)
        .slice(0, 10)
        .map(([name, s]) => [name, fmt(us(s, total), 1), `${fmt((100 * s) / last.cpuSeconds, 1)} %`]),
    ),
  );
  log();
  const peak = Math.max(...rounds.map(({ collectors }) => (collectors[0].mem.peakMiB * 2 ** 20) / 1e6));
  const medianRatio = median(ratios);
  log(
    `Target (${variantName(VARIANTS[0])}) collector ≥ ${TARGET_RATIO} × raw: ${medianRatio >= TARGET_RATIO ? 'MET' : 'MISSED'} (median ratio ` +
      `${fmt(medianRatio, 2)}, rounds ${ratios.map((r) => fmt(r, 2)).join(', ')}). Target VmHWM ≤ ${TARGET_PEAK_MB} MB: ` +
      `${peak <= TARGET_PEAK_MB ? 'MET' : 'MISSED'} (highest ${fmt(peak, 0)} MB; idle ${fmt((rounds[0].collectors[0].idle.rssMiB * 2 ** 20) / 1e6, 0)} MB).`,
  );
  if (opts.profile) {
    const profile = selfTimes(path.join(profileDir, readdirSync(profileDir)[0]));
    log();
    log(
      `CPU profile of the last round's collector (node --cpu-prof), self time by package and top functions:`,
    );
    log();
    const [byPackageTable, byFunctionTable] = profileTables(profile, 25);
    log(byPackageTable);
    log();
    log(byFunctionTable);
  }
  return { ratios, rounds, peak };
}

/** How cost grows: the collector alone against senders (at 500 spans per export) and export size. */
async function sweep(work, log) {
  const points = [
    [2, 500],
    [8, 500],
    [16, 500],
    [8, 100],
    [8, 2000],
  ];
  const prepared = new Map();
  const rows = [];
  for (const [senders, spans] of points) {
    if (!prepared.has(spans)) prepared.set(spans, prepare(work, SPANS_TOTAL, spans));
    const { total, batchesFile } = prepared.get(spans);
    const c = await collectorRun({
      work,
      batchesFile,
      total,
      spans,
      senders,
      inFlight: IN_FLIGHT,
      tag: `${senders}x${spans}`,
    });
    console.error(`${senders} senders × ${spans} spans: ${fmt(c.rate, 0)} spans/s (load ${c.loadBefore})`);
    rows.push([
      String(senders),
      String(spans),
      fmt(c.rate, 0),
      fmt(us(c.cpuSeconds, total), 1),
      fmt(us(c.mainSeconds, total), 1),
      fmt((c.mem.peakMiB * 2 ** 20) / 1e6, 0),
      `${fmt(quantile(c.latencies, 0.5), 0)} / ${fmt(quantile(c.latencies, 0.99), 0)}`,
      String(c.retries),
      c.loadBefore,
    ]);
  }
  log(
    `### How ingest cost grows: ${SPANS_TOTAL.toLocaleString('en-US')} spans per point into a fresh collector, ` +
      `${IN_FLIGHT} exports in flight per sender process`,
  );
  log();
  log(
    table(
      [
        'sender processes',
        'spans per export',
        'spans/s',
        'CPU µs/span (whole process)',
        'main thread µs/span',
        'VmHWM MB',
        'export p50 / p99 ms',
        'retried (429)',
        'load before',
      ],
      rows,
    ),
  );
  return { rows };
}

export async function run() {
  const lines = [];
  const log = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const work = mkdtempSync(path.join(tmpdir(), 'tl-bench-sustained-'));
  try {
    const result = opts.sweep ? await sweep(work, log) : await sustained(work, log);
    return { markdown: lines.join('\n'), ...result };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}

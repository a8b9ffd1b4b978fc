/**
 * `npm run bench` (after `npm run build`): runs every benchmark, or the ones named
 * (`node bench/run.mjs collector-ingest`), prints their tables and writes bench/RESULTS.md.
 * Extra flags after the names go to each benchmark (e.g. `--rounds 2`).
 * Installs bench/'s own dependencies first when bench/node_modules is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..');
const BENCHMARKS = [
  'openai-overhead',
  'collector-ingest',
  'ingest-sustained',
  'dashboards',
  'guard',
  'first-call',
  'forecast',
  'history',
  'outcomes',
];

if (!existsSync(path.join(BENCH_DIR, 'node_modules'))) {
  console.error('installing bench dependencies: npm --prefix bench ci');
  const r = spawnSync('npm', ['--prefix', BENCH_DIR, 'ci', '--no-audit', '--no-fund'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!existsSync(path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'main.js'))) {
  console.error('collector/dist is missing: run `npm run build` first (npm run bench does)');
  process.exit(1);
}

const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-') && BENCHMARKS.includes(a));
const unknown = args.filter((a) => !a.startsWith('-') && !BENCHMARKS.includes(a) && !/^\d/.test(a));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${BENCHMARKS.join(', ')}`);
  process.exit(2);
}
const selected = names.length > 0 ? names : BENCHMARKS;
// Each benchmark module parses process.argv itself: leave it only the flags.
process.argv = [process.argv[0], process.argv[1], ...args.filter((a) => !names.includes(a))];

const { machine } = await import('./support/common.mjs');
const m = machine();
console.log(`${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}, ${m.platform}, ${m.date}\n`);

const sections = [];
for (const name of selected) {
  console.log(`## ${name}\n`);
  const mod = await import(`./${name}.mjs`);
  const result = await mod.run();
  sections.push({ name, markdown: result.markdown });
  console.log();
}

const ALL = selected.length === BENCHMARKS.length;
const md = [
  '# Benchmark results',
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB RAM, ${m.platform}; Node ${m.node}; run ${m.date}.`,
  '',
  'Reproduce: `npm ci && npm run bench` from the repository root (builds, installs `bench/` on its own if',
  'needed, runs every benchmark and rewrites this file); one benchmark: `npm run build && node bench/run.mjs',
  'openai-overhead` (or `collector-ingest`); options such as `--rounds`, `--calls`, `--batches`, `--senders`',
  'are passed through. Timings are of this machine only: compare rows within a table, not across machines.',
  '',
  '## Method',
  '',
  '- **In-app overhead** (`bench/openai-overhead.mjs`, worker `bench/openai-overhead-worker.mjs`): the real',
  '  `openai` 6.x SDK (the peers patch openai < 7 only) calls `chat.completions.create` three ways: plain (JSON),',
  '  `stream: true` with `stream_options.include_usage` asked by the app (every variant gets the same bytes and',
  '  can record usage), and `stream: true` without it (tokenledger then asks for the usage chunk itself, as the',
  '  issue requires, and hides it from the app; the peers record no usage). Streams are consumed to the end.',
  '  Each variant runs in its own child process: warm-up, then sequential calls, each timed with',
  '  `process.hrtime`, with an untimed 15 ms pause every 200 calls. Variants are interleaved in rotated order',
  '  over several rounds. tokenledger is loaded as users do (`node --require tokenledger/register`); the',
  '  official and OpenLLMetry instrumentations the standard way (TracerProvider from `@opentelemetry/sdk-trace`',
  '  + BatchSpanProcessor + the OTLP/HTTP protobuf exporter, AsyncLocalStorage context,',
  '  `registerInstrumentations`), content capture off. All export to the same OTLP sink in another process,',
  '  which decodes and counts the spans (the "spans exported" column checks each variant really traced every',
  '  call). "CPU µs/call" is the worker process’s CPU time (all threads, pauses included) over the measured',
  '  calls: work done off the call’s path (span export; tokenledger builds its SDK spans in batches after the',
  '  calls, see docs/decisions/0014) counts there even when it adds no latency. Two transports: a loopback HTTP',
  '  server in another process (realistic, noisy), and the SDK’s `fetch` option answering in-process with a',
  '  canned `Response` of the same bytes, built once (isolates the SDK + instrumentation cost; this is the',
  '  table the targets are judged on). The stream the app does not ask usage for is judged on tokenledger’s',
  '  own time (its added time minus what the SDK spends on the usage data, measured as the uninstrumented app',
  '  asking for usage minus not asking) for the absolute target, whenever that floor plus tokenledger’s JSON',
  '  cost already exceeds it in the same run; on its whole added time for the fraction of the official one.',
  '- **Collector ingest** (`bench/collector-ingest.mjs`): GenAI spans built with the real OpenTelemetry SDK',
  '  (tokenledger / contrib / OpenLLMetry attribute styles, 4 services, 8 teams, 8 models of which one is',
  '  unknown to the catalog) and encoded with `ProtobufTraceSerializer` are POSTed by concurrent exporters',
  '  (4, then 16; each sends its next batch once the last is acked, as an OTLP exporter does) to',
  '  `node collector/dist/cli/main.js collector` (embedded ClickHouse, fresh data dir per run); the collector',
  '  acks after the insert. Then the stored rows are counted (report API, and `llm_calls` read directly after',
  '  the collector stops) and must equal the spans sent. Peak RSS is the collector’s `VmHWM`. Beside it: raw',
  '  `@clickhouse/client` inserts of the same rows, in the collector’s format, into the same schema (the',
  '  collector’s migrations, rollup view included) on embedded chdb in its own process, 500 and 4,000 rows per',
  '  insert; the CPU breakdown is in-process. The target is judged with 16 exporters at once: with 4, each',
  '  waiting for its durable ack, the collector is bound by round trips, not by its throughput.',
  '- **Sustained ingest** (`bench/ingest-sustained.mjs`, issue 23): 2 M spans (4,000 exports of 500) with ~25',
  '  attributes each (the collector-ingest spans plus request parameters, workflow, department, user tier and',
  '  end user), each with its own trace id, built with the OpenTelemetry SDK and encoded before timing, read by 8',
  '  sender processes (`bench/support/ingest-sender.mjs`) that each keep 2 exports in flight (each export’s span',
  '  times moved forward as it is sent: its latest span ends then, the rest up to 10 minutes before) against one',
  '  `node collector/dist/cli/main.js collector` (embedded ClickHouse, fresh data dir, default settings); an',
  '  export counts once acked (after the insert and the journal fsync). Each sender then resends one acked',
  '  export (an exporter retry): the collector must count all of it duplicate (`/metrics`). Afterwards',
  '  `llm_calls` is read directly (rows = distinct span ids = spans sent) and the report API counts every call.',
  '  Beside it, the same rows (the collector’s own, `JSONCompactEachRow`, prepared once as NDJSON) inserted with',
  '  `@clickhouse/client` into the same schema on embedded chdb at 5,000 rows per insert in a process of its own',
  '  (only the inserts timed). Collector and raw alternate by round (the order rotates each round); 3 rounds,',
  '  ratios first. CPU: the collector process from `/proc/<pid>/stat` (all threads), its main thread from',
  '  `/proc/<pid>/task/<pid>/stat`, and per thread name for the last round; the raw process’s own CPU over its',
  '  inserts; the senders’ CPU. Memory: the collector’s and the raw process’s `VmHWM`. The dedupe window is the',
  '  writer’s remembered keys (exact and filtered) divided by the rate. Sustained: each collector run in windows',
  '  of ~250,000 stored spans (`/metrics` and `/proc` sampled every second): spans/s, CPU µs per span, VmRSS.',
  '  `bench/ingest-readback.mjs` times the collector’s own read-back and lookup queries at 250 k, 1 M and 2 M',
  '  rows. `--sweep` runs the collector alone at 400 k spans for 2, 8',
  '  and 16 senders (500 spans per export) and for 100 and 2,000 spans per export (8 senders).',
  '- **Dashboards** (`bench/dashboards.mjs`): N calls (10 M by default; 30 M and 100 M for the scaling table)',
  '  over the last 30 days seeded straight into `llm_calls` with `INSERT … SELECT FROM numbers()` at production',
  '  cardinality (20 teams, 200 features owned by teams, 3 models per feature of 50, 10,000 customers and',
  "  100,000 users Zipf-like, 30 workflows); the collector's maintainer seals every rollup from those raw calls.",
  '  The CFO overview, the team view of one team and the models board, all panels at once and each alone,',
  '  month to date on day 31 and the last 30 days, beside the same SQL with each rollup replaced by the raw',
  '  table (`rawForm`, no FINAL), interleaved, warm, query cache off; budget spend per match field likewise.',
  '  The run fails if any answer differs from the raw answer. Targets (issue 23): a board ≤ 1 s all at once;',
  '  a panel whose raw answer takes ≥ 1 s ≥ 50× faster, the others ≤ 50 ms.',
  '- **Policy guard** (`bench/guard.mjs`): the guard engine from `instrumentation/dist` in-process, its state',
  '  served over HTTP by a stand-in for GET /v1/budgets and the lease endpoints; `check()` timed over many calls',
  '  (median of rounds) for calls no policy touches, calls within allow-list / max-tokens / rate limits, and calls',
  '  under a leased budget, with and without the span-end settlement. Target ≤ 2 µs. Then the overshoot scenario',
  '  of `test/guard/overshoot-rig.ts`: 16 processes × 8 concurrent calls (`node --require tokenledger/register`,',
  '  real `openai` SDK, fake provider) against a $1 budget in a real collector; spend from the collector’s report',
  '  once every span is stored. Target: overshoot ≤ 1 %.',
  '- **Forecast** (`bench/forecast.mjs`): 2 M calls over the year before today seeded with `INSERT … SELECT FROM',
  '  numbers()` in a shape of its own (5 % a month compounding, a weekly cycle, a step, a launch week, daily',
  '  noise); the backtest (`runBacktest`, as `GET /v1/forecast/backtest` runs it) of all spend, a monthly and a',
  '  weekly budget in Europe/Berlin: reading the daily aggregates, then replaying every day of every closed period',
  '  with the model and the naive spent × length / elapsed side by side. Then the budget report of last month and',
  "  this month (cold, then warm) and the burn-down backfill. Target: a year's backtest ≤ 30 s.",
  '- **History** (`bench/history.mjs`): a store with a long history — 100 M calls over the year before today,',
  '  seeded as the dashboards benchmark seeds them, a policy with a monthly, a weekly (Europe/Berlin) and a daily',
  '  budget, six baselines. Timed as the collector runs them: the burn-down refresh (the first computes every',
  '  period back to the first call; then each minute), the budget report, the backtest, the baselines, and every',
  '  panel of every board for this month and last month, one after another and all at once. Target: every board',
  '  ≤ 1 s all at once.',
  '',
  ...sections.flatMap((s) => [`## ${s.name}`, '', s.markdown, '']),
].join('\n');
if (ALL) {
  writeFileSync(path.join(BENCH_DIR, 'RESULTS.md'), md);
  console.log('wrote bench/RESULTS.md');
} else {
  const file = path.join(BENCH_DIR, `RESULTS.${selected.join('+')}.md`);
  writeFileSync(file, md);
  console.log(`wrote ${path.relative(REPO_ROOT, file)} (bench/RESULTS.md is written by a full run)`);
}

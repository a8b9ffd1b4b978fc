/**
 * What governing the first call costs (issue 21): the added time of a fresh process's first OpenAI
 * call with `node --require tokenledger/register` — the call waits for the guard's first state and
 * its first budget slice — beside the same app without tokenledger, over `--processes` fresh
 * processes per case (interleaved), for a local collector, one that refuses connections, and one
 * that accepts and never answers. Also the wall time of a script that makes no LLM call.
 *
 *   node bench/first-call.mjs [--processes 20]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  REPO_ROOT,
  fmt,
  median,
  quantile,
  runNode,
  sortedCopy,
  table,
} from './support/common.mjs';

const APP = path.join(BENCH_DIR, 'first-call-app.cjs');
const SERVER = path.join(BENCH_DIR, 'support', 'fake-openai-server.mjs');
const CLI = path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'main.js');
/** The bars of issue 21: added p95 of the first call, ms. */
const TARGETS = { local: 50, refused: 100, hanging: 1000 };
const NO_CALL_TARGET_MS = 10;

const { values: opts } = parseArgs({
  strict: false,
  options: { processes: { type: 'string', default: '20' } },
});

/** A child that prints {"url"} (or "listening on <url>") once ready. */
function startChild(args, env, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let out = '';
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve({ child, url: m[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
}

async function startCollector() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-first-call-'));
  const policy = path.join(dir, 'policy.yaml');
  // A company-wide cap that blocks: the first call waits for the state and its first slice.
  writeFileSync(
    policy,
    'version: 1\npolicies:\n  - name: cap\n    budget: { usd: 1000, period: monthly }\n    on_exceeded: block\n',
  );
  const started = await startChild(
    [CLI, 'collector'],
    { PORT: '0', TOKENLEDGER_DATA_DIR: dir, TOKENLEDGER_POLICY_FILE: policy },
    /listening on (http:\/\/\S+)/,
  );
  const key = await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'keys', 'show', 'ingest'], {
      env: { ...process.env, TOKENLEDGER_DATA_DIR: dir },
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error('keys show failed'))));
  });
  return { ...started, key };
}

/** A port nothing listens on (connections refused). */
async function refusedUrl() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

/** Accepts connections and never answers. */
async function hangingServer() {
  const sockets = new Set();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${s.address().port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      s.close();
    },
  };
}

/** One fresh process: the first call's time inside it and the wall time seen from here. */
async function once(nodeArgs, env) {
  const started = performance.now();
  // The guard's state on disk would answer for an unreachable collector: each case starts without one.
  const { result } = await runNode(nodeArgs, APP, [], {
    env: { TOKENLEDGER_GUARD_CACHE: 'off', OTEL_SERVICE_NAME: 'first-call-bench', ...env },
  });
  return { ...result, wallMs: performance.now() - started };
}

/** A script that makes no call must not wait for the collector, whatever state it is in. */
const noCallVsLocal = (ms) => `${fmt(ms, 1)}: ${Math.abs(ms) <= NO_CALL_TARGET_MS ? 'met' : 'not met'}`;

export async function run() {
  const processes = Number(opts.processes);
  const openai = await startChild([SERVER], {}, /"url":"([^"]+)"/);
  const collector = await startCollector();
  const hanging = await hangingServer();
  const refused = await refusedUrl();
  const tl = ['--require', 'tokenledger/register'];
  const endpoint = (url, key = 'tl_ingest_unused_key_0123456789') => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    TOKENLEDGER_API_KEY: key,
  });
  const cases = [
    { name: 'none', label: 'without tokenledger', nodeArgs: [], env: {} },
    {
      name: 'local',
      label: 'tokenledger, local collector',
      nodeArgs: tl,
      env: endpoint(collector.url, collector.key),
    },
    {
      name: 'refused',
      label: 'tokenledger, collector refuses connections',
      nodeArgs: tl,
      env: endpoint(refused),
    },
    { name: 'hanging', label: 'tokenledger, collector hangs', nodeArgs: tl, env: endpoint(hanging.url) },
  ];
  const samples = Object.fromEntries(cases.map((c) => [c.name, { call: [], noCall: [], outcomes: {} }]));
  try {
    // Interleaved, so drift on a shared machine falls on every case alike.
    for (let i = 0; i < processes; i++) {
      for (const c of cases) {
        const env = { OPENAI_BASE_URL: `${openai.url}/v1`, ...c.env };
        const r = await once(c.nodeArgs, env);
        samples[c.name].call.push(r.firstCallMs);
        samples[c.name].outcomes[r.outcome] = (samples[c.name].outcomes[r.outcome] ?? 0) + 1;
        samples[c.name].noCall.push((await once(c.nodeArgs, { ...env, FIRST_CALL: 'none' })).wallMs);
      }
    }
  } finally {
    hanging.close();
    collector.child.kill('SIGTERM');
    openai.child.kill('SIGTERM');
  }
  const base = sortedCopy(samples.none.call);
  const baseNoCall = median(samples.none.noCall);
  const rows = cases.map((c) => {
    const s = sortedCopy(samples[c.name].call);
    const added95 = quantile(s, 0.95) - quantile(base, 0.95);
    const target = TARGETS[c.name];
    return [
      c.label,
      fmt(median(s), 1),
      fmt(quantile(s, 0.95), 1),
      c.name === 'none' ? '—' : fmt(added95, 1),
      target === undefined ? '—' : `≤ ${target}: ${added95 <= target ? 'met' : 'not met'}`,
      Object.entries(samples[c.name].outcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
      fmt(median(samples[c.name].noCall), 1),
      c.name === 'none' ? '—' : fmt(median(samples[c.name].noCall) - baseNoCall, 1),
      c.name === 'none' || c.name === 'local'
        ? '—'
        : noCallVsLocal(median(samples[c.name].noCall) - median(samples.local.noCall)),
    ];
  });
  const t = table(
    [
      `first call (${processes} fresh processes each)`,
      'ms p50',
      'ms p95',
      'added p95, ms',
      'target',
      'outcomes',
      'no-call script wall ms p50',
      'vs without (loading tokenledger), ms',
      `vs local collector, ms (±${NO_CALL_TARGET_MS})`,
    ],
    rows,
  );
  console.log(t);
  return {
    markdown:
      `Time of a fresh process's first OpenAI call, the one-flag setup (the call waits for the guard's first state and budget slice), ` +
      `and wall time of a script that makes no call (${processes} processes per case, interleaved):\n\n${t}\n`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

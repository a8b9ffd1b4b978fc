/**
 * A collector process for the ingest benchmarks: `node collector/dist/cli/main.js collector` on a free
 * port with embedded ClickHouse in `dataDir` and an admin and an ingest key; and the calls its report
 * API counts for the last two hours.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './common.mjs';

const CLI = path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'main.js');

/** `nodeArgs`: flags for node; `cli`: another build of the CLI (default collector/dist). */
export function startCollector(dataDir, keys, nodeArgs = [], cli = CLI, env = {}) {
  const child = spawn(process.execPath, [...nodeArgs, cli, 'collector'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      TOKENLEDGER_DATA_DIR: dataDir,
      TOKENLEDGER_API_KEYS: `admin:${keys.admin},ingest:${keys.ingest}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start in 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /tokenledger collector listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Calls the report API counts, grouped by model, for the last two hours. */
export async function reportedCalls(url, adminKey) {
  const from = new Date(Date.now() - 2 * 3600_000).toISOString();
  const to = new Date(Date.now() + 3600_000).toISOString();
  const res = await globalThis.fetch(`${url}/v1/reports/spend?from=${from}&to=${to}&groupBy=model`, {
    headers: { authorization: `Bearer ${adminKey}` },
  });
  if (!res.ok) throw new Error(`report: HTTP ${res.status} ${await res.text()}`);
  const body = await res.json();
  return body.breakdown.reduce((n, row) => n + Number(row.calls), 0);
}

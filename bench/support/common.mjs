/** Helpers shared by the benchmarks: statistics, tables, the machine, child processes. */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

const requireFromCollector = createRequire(path.join(REPO_ROOT, 'collector', 'package.json'));
/** A module of the collector's build (`collector/dist/<m>`), with the collector's dependencies. */
export const collectorDist = (m) => requireFromCollector(path.join(REPO_ROOT, 'collector', 'dist', m));
/** The dashboards package's build (`dashboards/dist`): the panel catalog and its query builder. */
export const dashboardsDist = () =>
  requireFromCollector(path.join(REPO_ROOT, 'dashboards', 'dist', 'index.js'));

/** Quantile of an ascending-sorted numeric array (nearest rank on the interpolated index). */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

export function sortedCopy(values) {
  return Float64Array.from(values).sort();
}

export function median(values) {
  return quantile(sortedCopy(values), 0.5);
}

/** A markdown table with right-aligned numeric columns, padded so it also reads as plain text. */
export function table(headers, rows) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-+~≈]?[\d.,]+\s*(%|µs|×|x)?$|^—$/.test(r[i])));
  const pad = (s, i) => (numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (r) => `| ${r.map(pad).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (numeric[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), sep, ...cells.map(line)].join('\n');
}

/**
 * Runs `fn` on an embedded store (database `bench`, migrated): in a temporary folder removed after,
 * or in `keep` (a folder kept for the next run, e.g. a seeded 100 M-call history).
 */
export async function withBenchStorage(prefix, fn, keep) {
  const dir = keep ?? mkdtempSync(path.join(os.tmpdir(), prefix));
  const storage = collectorDist('storage/client').openStorage({ dataDir: dir }, 'bench');
  try {
    await collectorDist('storage/migrations').migrate(storage);
    return await fn(storage);
  } finally {
    await storage.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows in a table of the bench database. */
export async function rowCount(storage, table) {
  const rs = await storage.client.query({
    query: `SELECT count() AS n FROM bench.${table}`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json())[0].n);
}

export function fmt(n, digits = 1) {
  if (!Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    cpu,
    cores: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
}

/** Peak resident set (VmHWM) and current RSS (VmRSS) of a process, in MiB, from /proc. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

/** CPU seconds a process has used so far (user + system, /proc/<pid>/stat), threads included. */
export function cpuSecondsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, in parentheses): utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs `node [...nodeArgs] script ...args`, collects stdout, and resolves with the last stdout line
 * parsed as JSON (the worker's result). Rejects with the child's stderr on a non-zero exit.
 */
export function runNode(nodeArgs, script, args, { env, cwd = REPO_ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) {
        reject(
          new Error(
            `${path.basename(script)} ${args.join(' ')} exited with ${code ?? signal}:\n${err}${out}`,
          ),
        );
        return;
      }
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve({ result: JSON.parse(last), stderr: err });
      } catch {
        reject(new Error(`${path.basename(script)}: no JSON result on stdout:\n${out}\n${err}`));
      }
    });
  });
}

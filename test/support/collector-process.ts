/**
 * Runs the collector the way users do — `node collector/dist/cli/main.js collector` — in a child
 * process on an ephemeral port, with its own data directory (embedded ClickHouse).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';
import { tempDir } from './temp-dirs';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'main.js');

export interface CollectorProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then the exit code; a collector still running after STOP_LIMIT_MS is killed and fails the test. */
  stop: () => Promise<number | null>;
}

/** Longer than the collector's own shutdown limit (25 s), shorter than a test's timeout. */
const STOP_LIMIT_MS = 30_000;

export function tempDataDir(prefix = 'tl-e2e-'): string {
  return tempDir(prefix);
}

/** How the collector is started: the repository's build by default, or a user's command in their folder. */
export interface CollectorCommand {
  file: string;
  args: string[];
  cwd: string;
}

export async function startCollectorProcess(
  opts: { dataDir?: string; env?: Record<string, string>; command?: CollectorCommand } = {},
): Promise<CollectorProcess> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const command = opts.command ?? { file: process.execPath, args: [CLI, 'collector'], cwd: REPO_ROOT };
  // A user's command (`npx tokenledger collector`) runs the collector under npm and a shell, which do
  // not pass SIGTERM on: it gets a process group of its own, and the whole group is signalled.
  const group = opts.command !== undefined;
  const child = spawn(command.file, command.args, {
    cwd: command.cwd,
    env: { ...process.env, PORT: '0', TOKENLEDGER_DATA_DIR: dataDir, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const signal = (name: NodeJS.Signals): void => {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // already gone
    }
  };
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    // TOKENLEDGER_TEST_START_MS: a longer bound for measurements on a starved machine (bench runs).
    const startMs = Number(process.env.TOKENLEDGER_TEST_START_MS) || 30_000;
    const timer = setTimeout(
      () => reject(new Error(`collector did not start in ${startMs / 1000} s:\n${out}`)),
      startMs,
    );
    const onData = (): void => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code} before listening:\n${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    url,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) signal('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          signal('SIGKILL');
          reject(new Error(`collector still running ${STOP_LIMIT_MS / 1000} s after SIGTERM:\n${out}`));
        }, STOP_LIMIT_MS);
      });
      try {
        return await Promise.race([exited, limit]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * The collector on a fixed port, not waited for (it may never say "listening": a ClickHouse that does
 * not answer); what it printed so far in `output()`.
 */
export async function spawnCollector(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'collector'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(port), TOKENLEDGER_DATA_DIR: tempDataDir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, port, output: () => out };
}

/** The collector's key for `role`, read the way an operator does (`tokenledger keys show <role>`). */
export async function collectorKey(collector: CollectorProcess, role: 'ingest' | 'admin'): Promise<string> {
  const env = { ...process.env, TOKENLEDGER_DATA_DIR: collector.dataDir };
  return (await promisify(execFile)(process.execPath, [CLI, 'keys', 'show', role], { env })).stdout.trim();
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tokenledger <args>` as a user does; a failing command resolves with its exit code and output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CliResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Runs a fixture app as users start one, `node --require tokenledger/register <app> <args>`, in
 * the app's folder, its spans exported to `collector` with the collector's ingest key; `env` adds
 * the app's own settings (a fake provider's base URL, OTEL_SERVICE_NAME). Fails on a non-zero exit
 * with the app's stderr.
 */
export async function runInstrumentedApp(
  collector: CollectorProcess,
  app: string,
  args: string[],
  env: Record<string, string>,
): Promise<void> {
  const ingest = await collectorKey(collector, 'ingest');
  const child = spawn(process.execPath, ['--require', 'tokenledger/register', app, ...args], {
    cwd: path.dirname(app),
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      TOKENLEDGER_URL: collector.url,
      TOKENLEDGER_API_KEY: ingest,
      TOKENLEDGER_GUARD_CACHE: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${path.basename(app)} ${args.join(' ')} exited ${code}: ${stderr}`);
}

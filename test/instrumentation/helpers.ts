/**
 * Runs fixture apps the way users run them: `node [--require|--import tokenledger/register] app`,
 * in a child process, against the fake OpenAI server and the OTLP JSON sink.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const APPS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'apps');
export const V4_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'openai-v4');

export interface AppVariant {
  label: string;
  cwd: string;
  app: string;
  /** How tokenledger is loaded for this kind of app. */
  flag: '--require' | '--import';
}

/** openai 7.x (root) and 4.x (nested fixture), CommonJS and ESM. */
export const VARIANTS: AppVariant[] = [
  { label: 'openai 7.x CJS', cwd: APPS_DIR, app: 'openai-app.cjs', flag: '--require' },
  { label: 'openai 7.x ESM', cwd: APPS_DIR, app: 'openai-app.mjs', flag: '--import' },
  { label: 'openai 4.x CJS', cwd: V4_DIR, app: 'app.cjs', flag: '--require' },
  { label: 'openai 4.x ESM', cwd: V4_DIR, app: 'app.mjs', flag: '--import' },
];

export interface AppRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed as JSON lines. */
  lines: unknown[];
}

export interface RunOptions {
  /** Load tokenledger (default true). */
  instrument?: boolean;
  /** Extra node args placed before the tokenledger flag (e.g. another --require). */
  preArgs?: string[];
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export function runApp(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  const args = [...(opts.preArgs ?? [])];
  if (opts.instrument !== false) args.push(variant.flag, 'tokenledger/register');
  args.push(variant.app, scenario);
  const env: Record<string, string | undefined> = { ...process.env, OTEL_LOG_LEVEL: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: variant.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant.label} ${scenario} did not exit in time\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as unknown;
          } catch {
            return l;
          }
        });
      resolve({ code, stdout, stderr, ms: Date.now() - started, lines });
    });
  });
}

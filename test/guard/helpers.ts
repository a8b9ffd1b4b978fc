/** Runs the guard fixture app (`node --require tokenledger/register`) and collects its JSON lines. */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  collectorKey,
  REPO_ROOT,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { startCollectorProxy, type CollectorProxy } from '../support/collector-proxy';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';

export const APP = path.join(REPO_ROOT, 'test', 'fixtures', 'guard', 'app.cjs');

export interface PlanStep {
  name: string;
  model: string;
  max_tokens?: number;
  attribution?: Record<string, string>;
  count?: number;
  concurrency?: number;
  untilBlocked?: boolean;
  max?: number;
  waitMs?: number;
  /** With untilBlocked: keep retrying refused calls until refused for this long. */
  retryBlockedMs?: number;
  /**
   * With untilBlocked: retry a BudgetBusyError after its retryAfterSeconds (at most this many ms
   * when a number), stop at any other refusal.
   */
  retryBusy?: boolean | number;
  /** Call `create(...).withResponse()` instead of awaiting `create(...)`. */
  withResponse?: boolean;
}

export interface CallLine {
  step: string;
  i: number;
  ok: boolean;
  ms: number;
  /** When the call ended (ms since the epoch). */
  at: number;
  model?: string;
  error?: {
    name: string;
    message: string;
    policy?: string;
    budget?: Record<string, string>;
    missing?: string[];
    retryAfterSeconds?: number;
  };
}

export interface AppRun {
  calls: CallLine[];
  lines: Array<Record<string, unknown>>;
  code: number | null;
  stderr: string;
  /** Wall time of the whole process, ms. */
  wallMs: number;
}

export interface AppOptions {
  env: Record<string, string>;
  /** The app file (default: the guard fixture in the repository); it runs in its own folder. */
  app?: string;
  /** Called with each line as it arrives (e.g. to stop the collector mid-run). */
  onLine?: (line: Record<string, unknown>) => void;
}

export function runApp(plan: PlanStep[], opts: AppOptions): Promise<AppRun> {
  const started = Date.now();
  const app = opts.app ?? APP;
  const child = spawn(process.execPath, ['--require', 'tokenledger/register', app], {
    cwd: path.dirname(app),
    env: {
      ...process.env,
      OPENAI_API_KEY: 'sk-test',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      GUARD_PLAN: JSON.stringify(plan),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const lines: Array<Record<string, unknown>> = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    let nl: number;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = JSON.parse(stdout.slice(0, nl)) as Record<string, unknown>;
      stdout = stdout.slice(nl + 1);
      lines.push(line);
      opts.onLine?.(line);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.on('close', (code) =>
      resolve({
        calls: lines.filter((l) => 'ok' in l) as unknown as CallLine[],
        lines,
        code,
        stderr,
        wallMs: Date.now() - started,
      }),
    );
  });
}

export async function getJson<T>(url: string, key: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export function writePolicy(file: string, yaml: string): void {
  writeFileSync(file, yaml.replace(/^\n/, ''));
}

/** Polls `probe` until it returns a value (not undefined), at most `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A collector with a policy, a proxy in front of it and the fake provider, for one describe. */
export interface ProxiedCollector {
  collector: CollectorProcess;
  proxy: CollectorProxy;
  openai: FakeOpenAI;
  ingestKey: string;
}

/**
 * Starts, for the enclosing describe, the fake provider, a collector on a fresh store with the
 * policy `yaml`, and a proxy in front of it (tests make it slow, silent or shut); stops them and
 * removes the store after. The returned object is filled in once `before` has run.
 */
export function useProxiedCollector(prefix: string, yaml: string): ProxiedCollector {
  const rig = {} as ProxiedCollector;
  let dir: string | undefined;
  before(async () => {
    rig.openai = await startFakeOpenAI();
    dir = tempDataDir(prefix);
    const policyFile = path.join(dir, 'policy.yaml');
    writePolicy(policyFile, yaml);
    rig.collector = await startCollectorProcess({
      dataDir: dir,
      env: { TOKENLEDGER_POLICY_FILE: policyFile },
    });
    rig.ingestKey = await collectorKey(rig.collector, 'ingest');
    rig.proxy = await startCollectorProxy(rig.collector.url);
  });
  after(async () => {
    await rig.proxy?.close();
    await rig.collector?.stop();
    await rig.openai?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return rig;
}

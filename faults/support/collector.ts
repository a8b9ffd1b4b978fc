/** The collector under test: started as users run it, on one fixed port so senders survive restarts. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  REPO_ROOT,
  startCollectorProcess,
  type CollectorProcess,
} from '../../test/support/collector-process';
import { freePort } from '../../test/support/free-port';

export interface FaultCollectorOptions {
  dataDir: string;
  port: number;
  keys: { admin: string; ingest: string };
  env?: Record<string, string>;
}

/** The policy every scenario's collector runs with: one monthly budget over all calls (the checks read it). */
export const BUDGET_POLICY = 'fault-suite-all';

export class FaultCollector {
  /** A scenario's collector: data in `dataDir`, the budget policy and keys under `work`, a free fixed port. */
  static async forScenario(work: string, dataDir: string): Promise<FaultCollector> {
    const policyFile = path.join(work, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1\npolicies:\n  - name: ${BUDGET_POLICY}\n    budget: { usd: 1000000, period: monthly }\n`,
    );
    return new FaultCollector({
      dataDir,
      port: await freePort(),
      keys: { admin: `fault-admin-key-${process.pid}`, ingest: `fault-ingest-key-${process.pid}` },
      env: { TOKENLEDGER_POLICY_FILE: policyFile },
    });
  }

  private process: CollectorProcess | undefined;
  /** Every line the collector wrote, across restarts. */
  private logs = '';

  constructor(private readonly options: FaultCollectorOptions) {}

  get keys(): { admin: string; ingest: string } {
    return this.options.keys;
  }

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get output(): string {
    return this.logs + (this.process?.output() ?? '');
  }

  async start(): Promise<void> {
    const { dataDir, port, keys, env } = this.options;
    this.process = await startCollectorProcess({
      dataDir,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        TOKENLEDGER_API_KEYS: `admin:${keys.admin},ingest:${keys.ingest}`,
        ...env,
      },
    });
  }

  /** kill -9: no signal handler runs, nothing is flushed or closed. */
  async kill9(): Promise<void> {
    const p = this.process;
    if (!p) return;
    const exited = new Promise((resolve) => p.child.once('exit', resolve));
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await exited;
    this.logs += p.output();
    this.process = undefined;
  }

  /** Graceful stop (SIGTERM); resolves with the exit code. */
  async stop(): Promise<number | null> {
    const p = this.process;
    if (!p) return null;
    const code = await p.stop();
    this.logs += p.output();
    this.process = undefined;
    return code;
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(this.url + pathAndQuery, {
      headers: { authorization: `Bearer ${this.options.keys.admin}` },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${pathAndQuery}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}

const STORE_CHILD = path.join(__dirname, 'store-child.ts');

/**
 * Runs read-only queries on a stopped collector's embedded store, in a child process (libchdb binds
 * one data directory per process). Returns each query's rows (JSONEachRow).
 */
export async function queryStore(
  dataDir: string,
  queries: Record<string, string>,
): Promise<Record<string, Array<Record<string, string>>>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', STORE_CHILD, dataDir, JSON.stringify(queries)],
    { cwd: REPO_ROOT, maxBuffer: 1 << 30 },
  );
  return JSON.parse(stdout) as Record<string, Array<Record<string, string>>>;
}

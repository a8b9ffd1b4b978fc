/**
 * Starts the ClickHouse HTTP stand-in (./server.ts; test support, not the product) in a child
 * process of its own: the engine binds one data directory per process, and the test process may
 * already hold another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { tempDataDir } from '../collector-process';

export interface ClickHouseStandIn {
  /** `http://user:password@127.0.0.1:port`, for CLICKHOUSE_URL (append `/database`). */
  url: string;
  dataDir: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export interface StandInOptions {
  user?: string;
  password?: string;
  sessions?: number;
  /** Each INSERT waits this long before it runs (widens races between writers). */
  delayInsertMs?: number;
  dataDir?: string;
  /** A one-shard cluster of this name on the stand-in (see server.ts). */
  singleNodeCluster?: string;
}

export async function startClickHouseStandIn(opts: StandInOptions = {}): Promise<ClickHouseStandIn> {
  const dataDir = opts.dataDir ?? tempDataDir('tl-chhttp-');
  const user = opts.user ?? 'default';
  const password = opts.password ?? '';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, 'server.ts'),
      '--data',
      dataDir,
      '--user',
      user,
      '--password',
      password,
      '--sessions',
      String(opts.sessions ?? 4),
      '--delay-insert-ms',
      String(opts.delayInsertMs ?? 0),
      ...(opts.singleNodeCluster ? ['--single-node-cluster', opts.singleNodeCluster] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ClickHouse stand-in did not start in 30 s:\n${out}`)),
      30_000,
    );
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ClickHouse stand-in exited with ${code}:\n${out}`));
    });
  });
  const url = new URL(base);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url: url.toString().replace(/\/$/, ''),
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

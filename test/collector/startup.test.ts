/**
 * Start-up failures say what is wrong: an unwritable data directory names its path and the reason; a
 * ClickHouse server that accepts connections and never answers does not hold the port closed (the
 * collector listens at once, /healthz answers 503 "starting: ClickHouse not answering (N s)", and it
 * retries with a log line every 10 s instead of exiting); the data directory and the files in it are
 * the collector's alone (0700 / 0600), an existing 0755 directory tightened with one log line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CLI,
  REPO_ROOT,
  spawnCollector,
  startCollectorProcess,
  tempDataDir,
} from '../support/collector-process';
import { startSilentServer } from '../support/silent-server';
import { tempDir } from '../support/temp-dirs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the collector to its exit (it must exit by itself); returns the code and what it printed. */
function runToExit(env: Record<string, string>): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [CLI, 'collector'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, output: r.stdout + r.stderr };
}

/** Every file and directory under `dir` whose mode lets anyone but the owner in. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0) found.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
  };
  walk(dir);
  return found;
}

describe('collector start-up', () => {
  it('names the data directory and the reason when it cannot write there', async () => {
    const base = tempDir('tl-startup-');
    // A path through a file: ENOTDIR, whoever runs the test.
    const file = path.join(base, 'a-file');
    writeFileSync(file, 'x');
    const underFile = runToExit({ TOKENLEDGER_DATA_DIR: path.join(file, 'data') });
    assert.equal(underFile.code, 1);
    assert.match(
      underFile.output,
      new RegExp(`data directory ${file}/data is not writable: ENOTDIR \\(not a directory\\)`),
    );
    // A read-only directory: a read-only mount for root (who ignores permission bits), 0500 otherwise.
    const readOnly = path.join(base, 'ro');
    mkdirSync(readOnly, { mode: 0o700 });
    let mounted = false;
    if (process.getuid?.() === 0) {
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]).status === 0;
    }
    if (!mounted) chmodSync(readOnly, 0o500);
    try {
      const refused = runToExit({ TOKENLEDGER_DATA_DIR: readOnly });
      assert.equal(refused.code, 1);
      const reason = mounted ? 'EROFS \\(read-only file system\\)' : 'EACCES \\(permission denied\\)';
      assert.match(refused.output, new RegExp(`data directory ${readOnly} is not writable: ${reason}`));
      assert.doesNotMatch(refused.output, /at .*\.js:\d+/, 'a reason, not a stack trace');
    } finally {
      if (mounted) spawnSync('umount', [readOnly]);
    }
  });

  it('listens at once and says "starting" while a ClickHouse server never answers; retries, does not exit', async function () {
    this.timeout(45_000);
    const silent = await startSilentServer();
    const { child, port, output } = await spawnCollector({
      CLICKHOUSE_URL: `http://default:secret-password@127.0.0.1:${silent.port}/tokenledger`,
    });
    try {
      const started = Date.now();
      let health: Response | undefined;
      while (!health && Date.now() - started < 10_000) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await sleep(50);
      }
      assert.ok(health, `the port listens at once:\n${output()}`);
      assert.ok(Date.now() - started < 5_000, 'well before a request to ClickHouse could time out');
      assert.equal(health.status, 503);
      const body = (await health.json()) as { status: string; message: string };
      assert.equal(body.status, 'starting');
      assert.match(body.message, /^starting: ClickHouse (connecting|not answering) \(\d+ s\)$/);
      // Other routes say the same, with Retry-After (an exporter keeps its batch).
      const ingest = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(ingest.status, 503);
      assert.equal(ingest.headers.get('retry-after'), '5');

      await sleep(18_000 - (Date.now() - started));
      assert.equal(child.exitCode, null, `still running:\n${output()}`);
      const later = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { message: string };
      assert.match(later.message, /^starting: ClickHouse not answering \((1\d|[2-9]\d) s\)$/);
      const lines = output()
        .split('\n')
        .filter((l) => /ClickHouse not answering \(\d+ s\); retrying/.test(l));
      assert.equal(lines.length, 2, `one line at once, one 10 s later:\n${output()}`);
      assert.doesNotMatch(output(), /secret-password/, 'secrets are never logged');
    } finally {
      child.kill('SIGKILL');
      await silent.close();
    }
  });

  it('keeps the data directory and its files to the collector: 0700 / 0600; a 0755 directory is tightened', async function () {
    this.timeout(60_000);
    const fresh = tempDataDir();
    const a = await startCollectorProcess({ dataDir: path.join(fresh, 'new') });
    try {
      assert.equal(statSync(a.dataDir).mode & 0o777, 0o700);
    } finally {
      await a.stop();
    }
    assert.deepEqual(openToOthers(a.dataDir), []);
    assert.ok(readdirSync(path.join(a.dataDir, 'clickhouse')).length > 0, 'the engine wrote its files');

    const existing = tempDataDir();
    chmodSync(existing, 0o755);
    const b = await startCollectorProcess({ dataDir: existing });
    try {
      assert.equal(statSync(existing).mode & 0o777, 0o700);
      const said = b
        .output()
        .split('\n')
        .filter((l) => l.includes('other users could read it'));
      assert.deepEqual(said, [`data directory ${existing} was 0755 (other users could read it): now 0700`]);
    } finally {
      await b.stop();
    }
  });
});

/**
 * Acknowledged spans survive a broken part. The collector acknowledges a batch, is killed before it
 * has read the batch back, and the part holding it loses its data (its files emptied, as a full disk
 * once left them): at the next start the engine sets the part aside, the collector says so (log,
 * /healthz degraded with the row count), restores the acknowledged calls from its journal, and
 * `tokenledger repair` moves the unreadable part out of the way; every report equals the raw calls.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { queryStore } from '../../faults/support/collector';
import { CLI, REPO_ROOT, startCollectorProcess, tempDataDir } from '../support/collector-process';
import { jsonBody, recordSpans } from './otlp-helpers';

const KEYS = { admin: 'broken-part-admin-key-0001', ingest: 'broken-part-ingest-key-0001' };
const ENV = { TOKENLEDGER_API_KEYS: `admin:${KEYS.admin},ingest:${KEYS.ingest}` };

function batch(n: number, from: number) {
  return jsonBody(
    recordSpans(
      { 'service.name': 'svc', 'tokenledger.team': 'search' },
      Array.from({ length: n }, (_, i) => ({
        name: 'chat gpt-4o',
        startTime: new Date(Date.now() - 1000 - from - i),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 100,
        },
      })),
    ),
  );
}

async function post(url: string, body: Buffer): Promise<number> {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.ingest}` },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function calls(url: string): Promise<{ calls: number; usd: string }> {
  const from = new Date(Date.now() - 2 * 3_600_000 + 1).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const res = await fetch(`${url}/v1/reports/spend?from=${from}&to=${to}`, {
    headers: { authorization: `Bearer ${KEYS.admin}` },
  });
  const r = (await res.json()) as { total_usd: string; breakdown: Array<{ calls: number }> };
  return { calls: r.breakdown.reduce((n, b) => n + b.calls, 0), usd: r.total_usd };
}

describe('a broken part after an acknowledged batch', () => {
  it('loses nothing acknowledged: the journal restores it, repair clears the part', async function () {
    this.timeout(120_000);
    const dataDir = tempDataDir();
    const first = await startCollectorProcess({ dataDir, env: ENV });
    // Acknowledged, then killed at once: before the journal has read the calls back (≥ 5 s).
    assert.equal(await post(first.url, batch(300, 0)), 200);
    assert.equal(await post(first.url, batch(200, 10_000)), 200);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    assert.ok(readdirSync(path.join(dataDir, 'journal')).length > 0, 'the batches are in the journal');

    // The parts of llm_calls lose their data, as a full disk left one: files emptied.
    const parts = await queryStore(dataDir, {
      paths: `SELECT path, toString(rows) AS rows FROM system.parts
              WHERE database = 'tokenledger' AND table = 'llm_calls' AND active`,
    });
    let emptied = 0;
    for (const { path: dir } of parts.paths!) {
      for (const file of readdirSync(dir!)) {
        if (/\.(bin|cmrk\d*|mrk\d*)$/.test(file) && statSync(path.join(dir!, file)).size > 0) {
          truncateSync(path.join(dir!, file), 0);
          emptied++;
        }
      }
    }
    assert.ok(emptied > 0);

    const second = await startCollectorProcess({ dataDir, env: ENV });
    try {
      assert.match(
        second.output(),
        /storage: detached part llm_calls\/broken-on-start_\w+ \(\d+ rows, broken-on-start\): run `tokenledger repair`/,
      );
      const health = await fetch(`${second.url}/healthz`);
      assert.equal(health.status, 503);
      const body = (await health.json()) as { status: string; problems: string[] };
      assert.equal(body.status, 'degraded');
      assert.ok(body.problems.some((p) => /^detached part llm_calls\/broken-on-start_.* rows/.test(p)));

      // The journal is read back at start: what was acknowledged is written again.
      const deadline = Date.now() + 30_000;
      let seen = await calls(second.url);
      while (seen.calls < 500 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        seen = await calls(second.url);
      }
      assert.deepEqual(seen, { calls: 500, usd: '1.75' });
      const restored = /journal: (\d+) acknowledged calls were missing from llm_calls/;
      for (let i = 0; i < 50 && !restored.test(second.output()); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(Number(restored.exec(second.output())?.[1]), 500, second.output());

      const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'repair', '--url', second.url], {
        cwd: REPO_ROOT,
        env: { ...process.env, TOKENLEDGER_API_KEY: KEYS.admin },
      });
      assert.match(
        stdout,
        /not attached llm_calls\/broken-on-start_\w+ \(\d+ rows\): .* \(moved to .*unreadable-parts/,
      );
      assert.match(stdout, /no detached parts left/);
      assert.ok(existsSync(path.join(dataDir, 'unreadable-parts', 'llm_calls')));
      const healed = await fetch(`${second.url}/healthz`);
      assert.equal(healed.status, 200, await healed.text());
      assert.deepEqual(await calls(second.url), { calls: 500, usd: '1.75' });
    } finally {
      await second.stop();
    }
    const truth = await queryStore(dataDir, {
      n: `SELECT toString(count()) AS n, toString(sum(cost_usd)) AS usd FROM tokenledger.llm_calls FINAL`,
    });
    assert.deepEqual(truth.n, [{ n: '500', usd: '1.75' }]);
  });
});

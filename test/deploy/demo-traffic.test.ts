/**
 * The compose stack's demo traffic generator (deploy/demo/traffic.cjs) against a real collector:
 * its spans are accepted with an ingest key, priced, attributed to the demo teams, and its backfill
 * is idempotent (a restarted container re-sends the same spans, which count once).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Decimal from 'decimal.js';
import { REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';

const run = promisify(execFile);
const ADMIN = 'admin-key-for-demo-test-0001';
const INGEST = 'ingest-key-for-demo-test-001';
const SCRIPT = path.join(REPO_ROOT, 'deploy', 'demo', 'traffic.cjs');
const BACKFILL_DAYS = 2;
/** Per backfilled day: every third hour, two calls. */
const CALLS_PER_DAY = 16;
const CALLS_PER_BATCH = 3;

interface SpendReport {
  total_usd: string;
  breakdown: Array<{ team: string; spend_usd: string; calls: number; unpriced_calls: number }>;
}

describe('demo traffic (docker compose)', function () {
  this.timeout(120_000);
  let collector: CollectorProcess;

  before(async () => {
    collector = await startCollectorProcess({
      env: { TOKENLEDGER_API_KEYS: `admin:${ADMIN},ingest:${INGEST}` },
    });
  });
  after(async () => {
    await collector?.stop();
  });

  const generate = (batches: number) =>
    run(process.execPath, [SCRIPT], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        TOKENLEDGER_URL: collector.url,
        TOKENLEDGER_API_KEY: INGEST,
        DEMO_BACKFILL_DAYS: String(BACKFILL_DAYS),
        DEMO_BATCHES: String(batches),
        DEMO_CALLS_PER_BATCH: String(CALLS_PER_BATCH),
        DEMO_INTERVAL_MS: '50',
      },
      timeout: 60_000,
    });

  const report = async (): Promise<SpendReport> => {
    const res = await fetch(`${collector.url}/v1/reports/spend?period=last_7d&groupBy=team`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as SpendReport;
  };

  /** Waits for the collector's writer to commit what was accepted. */
  const callsReach = async (expected: number): Promise<SpendReport> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await report();
      const calls = r.breakdown.reduce((n, row) => n + row.calls, 0);
      if (calls === expected || Date.now() > deadline) {
        assert.equal(calls, expected);
        return r;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('backfills and sends live calls that the collector prices and attributes to the demo teams', async () => {
    const { stdout } = await generate(2);
    assert.match(stdout, /backfilled 2 days/);
    const r = await callsReach(BACKFILL_DAYS * CALLS_PER_DAY + 2 * CALLS_PER_BATCH);
    for (const row of r.breakdown) {
      assert.ok(
        ['platform', 'search', 'support', 'growth'].includes(row.team),
        `unexpected team ${row.team}`,
      );
      assert.equal(row.unpriced_calls, 0, `${row.team} has unpriced demo calls`);
      assert.ok(new Decimal(row.spend_usd).gt(0));
    }
    assert.ok(r.breakdown.length >= 2, 'the demo spreads calls over several teams');
  });

  it('re-sends the same backfill after a restart without counting it twice', async () => {
    const before = await report();
    const callsBefore = before.breakdown.reduce((n, row) => n + row.calls, 0);
    await generate(1);
    await callsReach(callsBefore + CALLS_PER_BATCH);
  });

  it('refuses to run without a key the collector accepts, exiting non-zero', async () => {
    await assert.rejects(
      run(process.execPath, [SCRIPT], {
        env: {
          ...process.env,
          TOKENLEDGER_URL: collector.url,
          TOKENLEDGER_API_KEY: 'not-a-key-0000000000',
          DEMO_BACKFILL_DAYS: '0',
          DEMO_BATCHES: '1',
        },
        timeout: 60_000,
      }),
      (err: Error & { code?: number; stderr?: string }) => err.code === 1 && /401/.test(err.stderr ?? ''),
    );
  });
});

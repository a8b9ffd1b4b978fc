/**
 * Google Cloud's bill reconciled per model against what the SDK metered, as a finance lead runs
 * it: an app on the real `@google/genai` SDK in Vertex AI mode, started with `node --require
 * tokenledger/register`, calls Gemini (a local server speaking its wire format); the collector
 * process prices the spans; today's Vertex AI lines of the billing export (SKU descriptions as
 * Google writes them, decision 0090) go in with `tokenledger reconcile import`, and `tokenledger
 * reconcile` compares them per model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini';
import {
  REPO_ROOT,
  runCli,
  runInstrumentedApp,
  startCollectorProcess,
  type CollectorProcess,
} from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

const GEMINI_APP = path.join(REPO_ROOT, 'test', 'fixtures', 'apps', 'gemini-app.cjs');

interface Report {
  providers: Array<{ provider: string; billed_usd: string; metered_usd: string; compared: unknown }>;
  lines: Array<{
    provider: string;
    day: string;
    model: string;
    status: string;
    billed_usd: string;
    metered_usd: string;
  }>;
}

describe('Google Cloud bill per model against calls the SDK metered (collector process and CLI)', function () {
  this.timeout(180_000);
  let collector: CollectorProcess;
  let gemini: FakeGemini;
  let env: NodeJS.ProcessEnv;
  const dir = tempDir('tl-gcp-bill-');

  before(async () => {
    [collector, gemini] = await Promise.all([
      startCollectorProcess({ dataDir: mkdtempSync(path.join(dir, 'data-')) }),
      startFakeGemini(),
    ]);
    env = { ...process.env, TOKENLEDGER_DATA_DIR: collector.dataDir, TOKENLEDGER_URL: collector.url };
  });
  after(async () => {
    await Promise.all([collector?.stop(), gemini?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The app's `vertex` scenario: gemini-2.5-flash generate, gemini-2.0-flash stream, an embedding. */
  const runVertexApp = (): Promise<void> =>
    runInstrumentedApp(collector, GEMINI_APP, ['vertex'], {
      GEMINI_BASE_URL: gemini.url,
      OTEL_SERVICE_NAME: 'docs-search',
    });

  it('matches the Vertex AI lines that name a catalog model; the embedding no SKU names stays metered-only', async () => {
    // Catalog list prices: gemini-2.5-flash $0.30 in / $2.50 out, gemini-2.0-flash $0.10 in, per
    // million tokens, gemini-embedding-001 $0.15 in. 1 M in + 200 k out = $0.80; 1 M in = $0.10;
    // the embedding's two texts, 500 k tokens each = $0.15.
    gemini.setUsage({ prompt: 1_000_000, candidates: 200_000 }, 'gemini-2.5-flash');
    gemini.setUsage({ prompt: 1_000_000, candidates: 0 }, 'gemini-2.0-flash');
    gemini.setUsage({ prompt: 1_000_000 }, 'gemini-embedding-001');
    const day = new Date().toISOString().slice(0, 10);
    await runVertexApp();

    // The month's billing export as JSON Lines, today's Vertex AI rows; the descriptions are the
    // ones read in Google's SKU lists (decision 0090), 2AF0-41D8-C5F1 with its published SKU id.
    const row = (skuId: string, description: string, cost: string, amount: number) =>
      JSON.stringify({
        billing_account_id: '01A2B3-C4D5E6-F7G8H9',
        service: { id: 'C7E2-9256-1C43', description: 'Vertex AI' },
        sku: { id: skuId, description },
        usage_start_time: `${day}T00:00:00Z`,
        usage_end_time: `${day}T01:00:00Z`,
        project: { id: 'ml-prod' },
        cost: Number(cost),
        currency: 'USD',
        usage: { amount, unit: 'count' },
        credits: [],
        invoice: { month: day.slice(0, 7).replace('-', '') },
        cost_type: 'regular',
      });
    const bill = path.join(dir, 'gcp-billing-export.jsonl');
    writeFileSync(
      bill,
      [
        row('', 'Gemini 2.5 Flash GA Text Input - Predictions', '0.3', 1_000_000),
        row('', 'Gemini 2.5 Flash GA Text Output - Predictions', '0.5', 200_000),
        row('2AF0-41D8-C5F1', 'Gemini 2.0 Flash Text Input (Long) - Predictions', '0.1', 1_000_000),
      ].join('\n'),
    );
    const imported = await runCli(['reconcile', 'import', bill], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /\(gcp-billing-export\): gcp\.vertex_ai/);

    // The spans reach the collector asynchronously: read until the meter has all three calls.
    const period = day.slice(0, 7);
    let report: Report | undefined;
    for (let i = 0; i < 50; i++) {
      const json = await runCli(['reconcile', '--period', period, '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      report = JSON.parse(json.stdout) as Report;
      if (report.lines.filter((l) => l.provider === 'gcp.vertex_ai').length === 3) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const lines = report!.lines
      .filter((l) => l.provider === 'gcp.vertex_ai')
      .map((l) => [l.day, l.model, l.status, l.billed_usd, l.metered_usd]);
    assert.deepEqual(lines, [
      [day, 'gemini-2.0-flash', 'matched', '0.1', '0.1'],
      [day, 'gemini-2.5-flash', 'matched', '0.8', '0.8'],
      [day, 'gemini-embedding-001', 'metered_only', '0', '0.15'],
    ]);
    const vertex = report!.providers.find((p) => p.provider === 'gcp.vertex_ai')!;
    assert.deepEqual(vertex.compared, { per_model: 3, per_day: 0 });
    assert.equal(vertex.billed_usd, '0.9');

    const table = await runCli(['reconcile', '--period', period, '--lines'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ gcp\.vertex_ai │\s+0\.9 │\s+1\.05 │ 100\.00 % │/);
    assert.match(
      table.stdout,
      /2 matched, 0 billed-only, 1 metered-only, 0 amount mismatch \(compared per model: 3/,
    );
    assert.match(
      table.stdout,
      new RegExp(`│ gcp\\.vertex_ai │ ${day} │ gemini-embedding-001 │\\s+│ metered-only │`),
    );
  });
});

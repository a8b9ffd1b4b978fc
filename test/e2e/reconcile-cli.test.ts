/**
 * A finance lead's month end as they run it: the collector process, spans from an app, this
 * month's OpenAI bill imported with `tokenledger reconcile import`, coverage read with
 * `tokenledger reconcile` (table and JSON) and over the API; an importing key must be an admin's;
 * then OpenAI's usage export for the same days: billed vs metered tokens in the table and as CSV.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { protobufBody, recordSpans } from '../collector/otlp-helpers';
import { CLI, REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

const run = promisify(execFile);
const BILL = path.join(REPO_ROOT, 'test', 'fixtures', 'bills', 'openai-costs-2026-10.json');

async function cli(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('tokenledger reconcile (collector process and CLI)', function () {
  this.timeout(120_000);
  let collector: CollectorProcess | undefined;
  after(async () => collector?.stop());

  it('imports a bill, answers again with the same import for the same file, and shows coverage per provider', async () => {
    collector = await startCollectorProcess();
    const env = { TOKENLEDGER_DATA_DIR: collector.dataDir, TOKENLEDGER_URL: collector.url };
    const ingest = (await cli(['keys', 'show', 'ingest'], env)).stdout.trim();
    // gpt-4o at $2.50 / $10 per million tokens: $10.00 on the 1st, $5.00 on the 2nd, as billed.
    for (const [day, input, output] of [
      ['2026-10-01T10:00:00Z', 1_600_000, 600_000],
      ['2026-10-02T10:00:00Z', 2_000_000, 0],
    ] as const) {
      const spans = recordSpans({ 'service.name': 'checkout' }, [
        {
          name: 'chat gpt-4o',
          scope: 'tokenledger/openai',
          startTime: new Date(day),
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o',
            'gen_ai.usage.input_tokens': input,
            'gen_ai.usage.output_tokens': output,
          },
        },
      ]);
      const res = await fetch(`${collector.url}/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/x-protobuf' },
        body: protobufBody(spans),
      });
      assert.equal(res.status, 200);
    }

    const imported = await cli(['reconcile', 'import', BILL], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(
      imported.stdout,
      /Imported .*openai-costs-2026-10\.json as bill_\w+ \(openai-costs\): openai, 2026-10-01 – 2026-10-08/,
    );
    assert.match(imported.stdout, /6 lines kept of 7 rows read/);
    assert.match(imported.stdout, /line 6: amount\.value must be a decimal number, got "n\/a"/);
    const again = await cli(['reconcile', 'import', BILL], env);
    assert.match(again.stdout, /already imported as bill_\w+ — nothing changed/);

    type Report = {
      providers: Array<{
        provider: string;
        billed_usd: string;
        metered_usd: string;
        coverage: string;
        unmetered_usd: string;
      }>;
    };
    // October's calls arrived late, into hours the rollup had already sealed (empty): the metered
    // spend reads them once the rollup has rebuilt those hours, which the collector promises within
    // 60 s (STORAGE.md; one 5 s round on an idle machine).
    const deadline = Date.now() + 60_000;
    let json = await cli(['reconcile', '--period', '2026-10', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    while ((JSON.parse(json.stdout) as Report).providers[0]?.metered_usd !== '15' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      json = await cli(['reconcile', '--period', '2026-10', '--json'], env);
    }
    const report = JSON.parse(json.stdout) as Report;
    assert.deepEqual(
      report.providers.map((p) => [p.provider, p.billed_usd, p.metered_usd, p.coverage, p.unmetered_usd]),
      [['openai', '28', '15', '0.535714', '13']],
    );

    const table = await cli(['reconcile', '--period', '2026-10', '--lines'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ openai\s+│\s+28 │\s+15 │\s+53\.57 % │\s+13 │/);
    assert.match(table.stdout, /│ openai\s+│ 2026-10-02 │ gpt-4\.1\s+│\s+│ billed-only │/);

    // The API: an import needs an admin key; a viewer reads.
    const viewer = (
      await cli(['keys', 'create', '--role', 'viewer', '--name', 'cfo@example.com'], env)
    ).stdout.trim();
    const refused = await fetch(`${collector.url}/v1/reconciliation/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewer}` },
      body: 'x',
    });
    assert.equal(refused.status, 403);
    const csv = await fetch(`${collector.url}/v1/reconciliation?period=2026-10&format=csv`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    assert.equal(csv.status, 200);
    assert.match(
      await csv.text(),
      /^provider,day,model,project,status,explanation,billed_usd,metered_usd,late_usd/,
    );
  });

  it("imports OpenAI's usage export and shows billed vs metered tokens beside the money", async () => {
    assert.ok(collector, 'the collector of the test before');
    const env = { TOKENLEDGER_DATA_DIR: collector.dataDir, TOKENLEDGER_URL: collector.url };
    // The Usage API's page (group_by=model): the 1st as metered, the 2nd with 500 000 input tokens more.
    const result = (start: number, input: number, output: number) => ({
      object: 'bucket',
      start_time: start,
      end_time: start + 86_400,
      results: [
        {
          object: 'organization.usage.completions.result',
          input_tokens: input,
          input_cached_tokens: 0,
          output_tokens: output,
          num_model_requests: 1,
          project_id: null,
          user_id: null,
          api_key_id: null,
          model: 'gpt-4o-2024-08-06',
          batch: null,
          service_tier: null,
        },
      ],
    });
    const file = path.join(tempDir('tl-usage-'), 'openai-usage.json');
    writeFileSync(
      file,
      JSON.stringify({
        object: 'page',
        data: [result(1790812800, 1_600_000, 600_000), result(1790899200, 2_500_000, 0)],
        has_more: false,
        next_page: null,
      }),
    );
    const imported = await cli(['reconcile', 'import', file], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /\(openai-usage\): openai, 2026-10-01 – 2026-10-03/);

    const table = await cli(['reconcile', '--period', '2026-10', '--lines'], env);
    assert.equal(table.code, 0, table.stderr);
    // Money unchanged by the usage export; tokens: 4 100 000 billed, 3 600 000 metered.
    assert.match(table.stdout, /│ openai\s+│\s+28 │\s+15 │\s+53\.57 % │\s+13 │/);
    assert.match(table.stdout, /│ openai\s+│ input\s+│\s+4100000 │\s+3600000 │\s+87\.80 % │\s+2 │/);
    assert.match(
      table.stdout,
      /│ openai\s+│ 2026-10-02 │ gpt-4o\s+│\s+│ token-mismatch │ 2500000 \/ 2000000 │/,
    );

    const csv = await cli(['reconcile', '--period', '2026-10', '--csv', '--tokens'], env);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.trim().split('\n').slice(1), [
      'openai,2026-10-01,gpt-4o,,matched,1600000,1600000,0,0,600000,600000,1,1',
      'openai,2026-10-02,gpt-4o,,token_mismatch,2500000,2000000,0,0,0,0,1,1',
    ]);
  });
});

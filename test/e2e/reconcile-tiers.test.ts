/**
 * Flex and Priority days on the bill, as a finance lead meets them: apps on the real `openai` and
 * `@anthropic-ai/sdk` packages, started with `node --require tokenledger/register`, call local
 * servers speaking the providers' wire formats, which answer the tier that served each call
 * (`service_tier`: OpenAI flex / priority / default, Anthropic priority / standard). The collector
 * process stores the tier with each call (priced at the list, standard, rate); today's bills go in
 * with `tokenledger reconcile import`, and `tokenledger reconcile` explains each line the tier
 * prices apart: a Flex line billed below the meter (`flex_discount`), a Priority line billed above
 * it (`priority_premium`), and Anthropic's Priority Tier calls, which its cost report leaves out
 * (`priority_commitment`) — none of them an unexplained mismatch (decision 0098).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import {
  REPO_ROOT,
  runCli,
  runInstrumentedApp,
  startCollectorProcess,
  type CollectorProcess,
} from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

const APPS = path.join(REPO_ROOT, 'test', 'fixtures', 'apps');

interface Report {
  providers: Array<{
    provider: string;
    billed_usd: string;
    metered_usd: string;
    covered_usd: string;
    coverage: string;
    unmetered_usd: string;
    metered_not_billed_usd: string;
    metered_not_billed_by_reason: Record<string, string>;
    unmetered_by_reason: Record<string, string>;
  }>;
  lines: Array<{
    provider: string;
    day: string;
    model: string;
    status: string;
    explanation: string;
    billed_usd: string;
    metered_usd: string;
    unmetered_usd: string;
    metered_not_billed_usd: string;
  }>;
}

describe('Flex and Priority tiers on the bill against calls the SDKs metered (collector process and CLI)', function () {
  this.timeout(180_000);
  let collector: CollectorProcess;
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let env: NodeJS.ProcessEnv;
  const dir = tempDir('tl-tier-bill-');

  before(async () => {
    [collector, openai, anthropic] = await Promise.all([
      startCollectorProcess({ dataDir: mkdtempSync(path.join(dir, 'data-')) }),
      startFakeOpenAI(),
      startFakeAnthropic(),
    ]);
    env = { ...process.env, TOKENLEDGER_DATA_DIR: collector.dataDir, TOKENLEDGER_URL: collector.url };
  });
  after(async () => {
    await Promise.all([collector?.stop(), openai?.close(), anthropic?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const runApp = (app: string, scenario: string, env: Record<string, string>): Promise<void> =>
    runInstrumentedApp(collector, path.join(APPS, app), [scenario], {
      ...env,
      OTEL_SERVICE_NAME: 'enrichment',
    });

  it('marks a Flex line flex_discount, a Priority line priority_premium and Anthropic Priority Tier calls priority_commitment', async () => {
    // 1 M input and 100 k output tokens a call. Catalog list (standard) prices per million tokens:
    // gpt-4.1 $2 / $8 → $2.80; gpt-4o $2.50 / $10 → $3.50; gpt-4o-mini $0.15 / $0.60 → $0.21;
    // claude-sonnet-4 $3 / $15 → $4.50; claude-3-5-haiku $0.80 / $4 → $1.20.
    const usage = { input: 1_000_000, output: 100_000 };
    for (const model of ['gpt-4.1', 'gpt-4o', 'gpt-4o-mini']) openai.setUsage(usage, model);
    anthropic.setUsage({ ...usage, serviceTier: 'priority' }, 'claude-sonnet-4-20250514');
    anthropic.setUsage(usage, 'claude-3-5-haiku-20241022');
    const day = new Date().toISOString().slice(0, 10);
    await runApp('openai-app.cjs', 'service-tiers', { OPENAI_BASE_URL: openai.url });
    await runApp('anthropic-app.cjs', 'create', { ANTHROPIC_BASE_URL: anthropic.url });
    await runApp('anthropic-app.cjs', 'create', {
      ANTHROPIC_BASE_URL: anthropic.url,
      APP_MODEL: 'claude-3-5-haiku-20241022',
    });
    assert.deepEqual(
      openai.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.body?.service_tier),
      ['flex', 'priority', 'auto'],
    );

    // Today's OpenAI Costs API page (group_by=line_item), in the shape of the openai-openapi example
    // (as test/fixtures/bills/openai-costs-2026-10.json): the line items name no tier (none was
    // found in OpenAI's published examples), so the tier comes from the meter. Flex billed at half
    // the list price ($1.40), Priority at 1.7 × ($5.95), the default call at the list price.
    const start = Date.parse(`${day}T00:00:00Z`) / 1000;
    const cost = (lineItem: string, value: string) => ({
      object: 'organization.costs.result',
      amount: { value: Number(value), currency: 'usd' },
      line_item: lineItem,
      project_id: 'proj_enrichment',
    });
    const openaiBill = path.join(dir, 'openai-costs.json');
    writeFileSync(
      openaiBill,
      JSON.stringify({
        object: 'page',
        data: [
          {
            object: 'bucket',
            start_time: start,
            end_time: start + 86_400,
            results: [
              cost('gpt-4.1-2025-04-14, input', '1.00'),
              cost('gpt-4.1-2025-04-14, output', '0.40'),
              cost('gpt-4o-2024-08-06, input', '4.25'),
              cost('gpt-4o-2024-08-06, output', '1.70'),
              cost('gpt-4o-mini-2024-07-18, input', '0.15'),
              cost('gpt-4o-mini-2024-07-18, output', '0.06'),
            ],
          },
        ],
        has_more: false,
        next_page: null,
      }),
    );
    // Today's Anthropic cost report (group_by[]=description; fields as documented at
    // platform.claude.com/docs/en/api/admin/cost_report): Priority Tier costs use another billing
    // model and are not in it (the Usage and Cost API page), so only the haiku call is.
    const anthropicLine = (tokenType: string, amount: string) => ({
      amount,
      context_window: '0-200k',
      cost_type: 'tokens',
      currency: 'USD',
      description: `Claude Haiku 3.5 ${tokenType}`,
      model: 'claude-3-5-haiku-20241022',
      service_tier: 'standard',
      token_type: tokenType,
      workspace_id: null,
    });
    const anthropicBill = path.join(dir, 'anthropic-cost-report.json');
    writeFileSync(
      anthropicBill,
      JSON.stringify({
        data: [
          {
            starting_at: `${day}T00:00:00Z`,
            ending_at: new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000)
              .toISOString()
              .replace('.000', ''),
            results: [anthropicLine('uncached_input_tokens', '80'), anthropicLine('output_tokens', '40')],
          },
        ],
        has_more: false,
        next_page: null,
      }),
    );
    for (const bill of [openaiBill, anthropicBill]) {
      const imported = await runCli(['reconcile', 'import', bill], env);
      assert.equal(imported.code, 0, imported.stderr);
    }

    // The spans reach the collector asynchronously: read until the meter has all five calls.
    const period = day.slice(0, 7);
    let report: Report | undefined;
    for (let i = 0; i < 50; i++) {
      const json = await runCli(['reconcile', '--period', period, '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      report = JSON.parse(json.stdout) as Report;
      if (report.lines.filter((l) => l.metered_usd !== '0').length === 5) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(
      report!.lines.map((l) => [
        l.provider,
        l.day,
        l.model,
        l.status,
        l.explanation,
        l.billed_usd,
        l.metered_usd,
        l.unmetered_usd,
        l.metered_not_billed_usd,
      ]),
      [
        ['anthropic', day, 'claude-3-5-haiku-latest', 'matched', '', '1.2', '1.2', '0', '0'],
        [
          'anthropic',
          day,
          'claude-sonnet-4-0',
          'metered_only',
          'priority_commitment',
          '0',
          '4.5',
          '0',
          '4.5',
        ],
        ['openai', day, 'gpt-4.1', 'amount_mismatch', 'flex_discount', '1.4', '2.8', '0', '1.4'],
        ['openai', day, 'gpt-4o', 'amount_mismatch', 'priority_premium', '5.95', '3.5', '2.45', '0'],
        ['openai', day, 'gpt-4o-mini', 'matched', '', '0.21', '0.21', '0', '0'],
      ],
    );
    const summary = (provider: string) => {
      const p = report!.providers.find((x) => x.provider === provider)!;
      return [
        p.billed_usd,
        p.metered_usd,
        p.covered_usd,
        p.coverage,
        p.unmetered_usd,
        p.metered_not_billed_usd,
      ];
    };
    // OpenAI: covered 1.4 + 3.5 + 0.21 = 5.11 of 7.56 billed; the 2.45 unmetered is the Priority premium.
    assert.deepEqual(summary('openai'), ['7.56', '6.51', '5.11', '0.675925', '2.45', '1.4']);
    const o = report!.providers.find((x) => x.provider === 'openai')!;
    assert.deepEqual(o.unmetered_by_reason, { priority_premium: '2.45', unexplained: '0' });
    assert.equal(o.metered_not_billed_by_reason.flex_discount, '1.4');
    assert.equal(o.metered_not_billed_by_reason.unexplained, '0');
    assert.deepEqual(summary('anthropic'), ['1.2', '5.7', '1.2', '1', '0', '4.5']);
    const a = report!.providers.find((x) => x.provider === 'anthropic')!;
    assert.equal(a.metered_not_billed_by_reason.priority_commitment, '4.5');
    assert.equal(a.metered_not_billed_by_reason.unexplained, '0');

    const table = await runCli(['reconcile', '--period', period, '--lines'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /metered but not billed: flex discount 1\.4/);
    assert.match(table.stdout, /billed above the meter: priority premium 2\.45/);
    assert.match(table.stdout, /metered but not billed: priority commitment 4\.5/);
    assert.match(
      table.stdout,
      new RegExp(`│ openai\\s+│ ${day} │ gpt-4\\.1\\s+│\\s+│ amount-mismatch │ flex discount\\s+│`),
    );
    assert.match(
      table.stdout,
      new RegExp(`│ openai\\s+│ ${day} │ gpt-4o\\s+│\\s+│ amount-mismatch │ priority premium\\s+│`),
    );
  });
});

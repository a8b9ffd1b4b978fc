/**
 * Bills in, reconciliation out, on the embedded engine: each format read from its fixture, a seeded
 * month (an unmetered app, a free-tier day, a credit, a batch and a cache discount, a day billed
 * late, a bill in EUR) reconciled to exact figures, re-imports idempotent, a restated period
 * replacing the earlier lines, malformed rows reported with their line and the rest kept.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BillImporter } from '../../collector/src/govern/bills/import';
import { readBill } from '../../collector/src/ingest/bills/read';
import { parsePolicy } from '../../collector/src/govern/policy/load';
import {
  reconcile,
  settingsFromPolicy,
  type ReconciliationReport,
} from '../../collector/src/read/reconciliation';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';
import { insertMeteredCalls } from '../support/metered-calls';
import { tempDir } from '../support/temp-dirs';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'bills');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

/** Metered calls of the seeded month: provider, model as priced, service, instant, cost. */
const METERED: Array<[string, string, string, string, string]> = [
  ['openai', 'gpt-4o', 'checkout', '2026-10-01T09:00:00Z', '4.00'],
  ['openai', 'gpt-4o', 'checkout', '2026-10-01T17:00:00Z', '6.00'],
  ['openai', 'gpt-4o', 'checkout', '2026-10-02T12:00:00Z', '5.004'],
  ['openai', 'gpt-4o-mini', 'batch-jobs', '2026-10-03T02:00:00Z', '5.00'],
  ['openai', 'gpt-4o', 'checkout', '2026-10-05T23:50:00Z', '3.00'],
  ['openai', 'gpt-4o', 'checkout', '2026-10-08T10:00:00Z', '99.00'], // no bill covers the 8th
  ['anthropic', 'claude-sonnet-4-0', 'support-bot', '2026-10-01T10:00:00Z', '12.00'],
  ['anthropic', 'claude-sonnet-4-0', 'support-bot', '2026-10-02T10:00:00Z', '2.90'],
  ['anthropic', 'claude-3-5-haiku-latest', 'nightly', '2026-10-03T01:00:00Z', '1.00'],
  ['aws.bedrock', 'anthropic.claude-sonnet-4', 'docs-search', '2026-10-01T08:00:00Z', '20.00'],
  ['aws.bedrock', 'anthropic.claude-sonnet-4', 'docs-search', '2026-10-02T08:00:00Z', '14.00'],
  ['aws.bedrock', 'anthropic.claude-sonnet-4', 'docs-search', '2026-10-03T08:00:00Z', '1.20'],
  ['aws.bedrock', 'anthropic.claude-sonnet-4', 'docs-search', '2026-10-04T08:00:00Z', '10.00'],
];

async function seedMeter(storage: Storage): Promise<void> {
  await insertMeteredCalls(
    storage,
    METERED.map(([provider, model, service, at, cost]) => ({ provider, model, service, at, cost })),
    't',
  );
  // An app calling OpenAI without GenAI instrumentation (seen by the HTTP instrumentation).
  await storage.client.insert({
    table: `${storage.database}.ai_http_calls`,
    format: 'JSONEachRow',
    values: [1, 2, 3].map((i) => ({
      trace_id: `h${i}`.padEnd(32, '0'),
      span_id: `h${i}`.padEnd(16, '0'),
      start_time: `2026-10-02 0${i}:00:00.000`,
      service: 'legacy-reports',
      host: 'api.openai.com',
      provider: 'openai',
      method: 'POST',
      path: '/v1/chat/completions',
      status_code: 200,
    })),
  });
}

const line = (r: ReconciliationReport, provider: string, day: string, model = '') => {
  const found = r.lines.find((l) => l.provider === provider && l.day === day && l.model === model);
  assert.ok(found, `a line for ${provider} ${day} ${model}`);
  return found;
};
const summary = (r: ReconciliationReport, provider: string) => {
  const found = r.providers.find((p) => p.provider === provider);
  assert.ok(found, `a summary for ${provider}`);
  return found;
};

describe('bill formats', () => {
  it('reads OpenAI Costs API JSON: buckets by day, line item → model and batch, amounts exact, bad results reported', () => {
    const bill = readBill(fixture('openai-costs-2026-10.json'));
    assert.equal(bill.format, 'openai-costs');
    assert.deepEqual(bill.periods, [{ provider: 'openai', from: '2026-10-01', to: '2026-10-08' }]);
    assert.equal(bill.rowsRead, 7);
    assert.deepEqual(bill.problems, [
      { line: 6, message: 'amount.value must be a decimal number, got "n/a"' },
    ]);
    assert.deepEqual(
      bill.lines.map((l) => [l.day, l.model, l.pricing, l.amount, l.currency, l.project, l.quantity]),
      [
        ['2026-10-01', 'gpt-4o-2024-08-06', 'standard', '4', 'USD', 'proj_checkout', '1600000'],
        ['2026-10-01', 'gpt-4o-2024-08-06', 'standard', '6', 'USD', 'proj_checkout', '600000'],
        ['2026-10-02', 'gpt-4o-2024-08-06', 'standard', '5', 'USD', 'proj_checkout', '2000000'],
        ['2026-10-02', 'gpt-4.1-2025-04-14', 'standard', '7.5', 'USD', 'proj_legacy', '937500'],
        ['2026-10-03', 'gpt-4o-mini-2024-07-18', 'batch', '2.5', 'USD', 'proj_checkout', '33333333'],
        ['2026-10-06', 'gpt-4o-2024-08-06', 'standard', '3', 'USD', 'proj_checkout', '300000'],
      ],
    );
  });

  it("reads OpenAI's dashboard cost export (CSV): empty days covered, amounts exact to the digit, a bad date reported", () => {
    const bill = readBill(fixture('openai-cost-export-2026-10.csv'));
    assert.equal(bill.format, 'openai-cost-csv');
    assert.deepEqual(bill.periods, [{ provider: 'openai', from: '2026-10-01', to: '2026-10-05' }]);
    assert.deepEqual(
      bill.lines.map((l) => [l.sourceLine, l.day, l.amount, l.model, l.account]),
      [
        [3, '2026-10-01', '0.895874', '', 'org-Hp9mSGev2sVmtMeF2wrnSeOV'],
        [4, '2026-10-02', '0.56177125', '', 'org-Hp9mSGev2sVmtMeF2wrnSeOV'],
        [6, '2026-10-04', '0.3409', '', 'org-Hp9mSGev2sVmtMeF2wrnSeOV'],
      ],
    );
    assert.equal(bill.problems.length, 1);
    assert.equal(bill.problems[0]!.line, 7);
    assert.match(bill.problems[0]!.message, /start_time must be an ISO 8601 date/);
  });

  it('reads an Anthropic cost report: cents as decimal strings → dollars, service tier and token type kept', () => {
    const bill = readBill(fixture('anthropic-cost-report-2026-10.json'));
    assert.equal(bill.format, 'anthropic-cost-report');
    assert.deepEqual(bill.periods, [{ provider: 'anthropic', from: '2026-10-01', to: '2026-10-04' }]);
    assert.deepEqual(bill.problems, [{ line: 5, message: 'amount must be a decimal number, got "12,5"' }]);
    assert.deepEqual(
      bill.lines.map((l) => [l.day, l.model, l.pricing, l.amount, l.sku]),
      [
        ['2026-10-01', 'claude-sonnet-4-20250514', 'standard', '3', 'tokens/uncached_input_tokens/0-200k'],
        ['2026-10-01', 'claude-sonnet-4-20250514', 'standard', '9', 'tokens/output_tokens/0-200k'],
        ['2026-10-02', 'claude-sonnet-4-20250514', 'standard', '2', 'tokens/uncached_input_tokens/0-200k'],
        ['2026-10-02', 'claude-sonnet-4-20250514', 'cached', '0.3', 'tokens/cache_read_input_tokens/0-200k'],
        ['2026-10-03', '', 'standard', '10', 'web_search'],
        ['2026-10-03', 'claude-3-5-haiku-20241022', 'batch', '0.5', 'tokens/uncached_input_tokens/0-200k'],
      ],
    );
  });

  it('reads FOCUS 1.2: AI services only, charge categories, billing period, the bad row by its line', () => {
    const bill = readBill(fixture('focus-1.2-bedrock-azure-2026-10.csv'));
    assert.equal(bill.format, 'focus');
    assert.equal(bill.rowsRead, 9);
    assert.equal(bill.rowsSkipped, 1, 'the EC2 row is not AI spend');
    assert.deepEqual(bill.problems, [
      { line: 10, message: 'BilledCost must be a decimal number, got "12,50"' },
    ]);
    assert.deepEqual(
      [...bill.periods].sort((a, b) => a.provider.localeCompare(b.provider)),
      [
        { provider: 'aws.bedrock', from: '2026-10-01', to: '2026-11-01' },
        { provider: 'azure.ai.openai', from: '2026-10-01', to: '2026-11-01' },
      ],
    );
    assert.deepEqual(
      bill.lines.map((l) => [l.sourceLine, l.provider, l.day, l.charge, l.pricing, l.amount, l.currency]),
      [
        [3, 'aws.bedrock', '2026-10-01', 'usage', 'standard', '20', 'USD'],
        [4, 'aws.bedrock', '2026-10-01', 'tax', 'standard', '3.6', 'USD'],
        [5, 'aws.bedrock', '2026-10-02', 'usage', 'standard', '15', 'USD'],
        [7, 'aws.bedrock', '2026-10-03', 'usage', 'free_tier', '0', 'USD'],
        [8, 'aws.bedrock', '2026-10-04', 'usage', 'standard', '10', 'USD'],
        [9, 'aws.bedrock', '2026-10-04', 'credit', 'standard', '-5', 'USD'],
        [11, 'azure.ai.openai', '2026-10-02', 'usage', 'standard', '8.4', 'EUR'],
      ],
    );
  });

  for (const name of ['aws-cur-legacy-2026-10.csv', 'aws-cur2-2026-10.csv']) {
    it(`reads AWS CUR Bedrock lines (${name}): line item types, a batch usage type, other services left out`, () => {
      const bill = readBill(fixture(name));
      assert.equal(bill.format, 'aws-cur');
      assert.equal(bill.rowsSkipped, 1, 'the EC2 line');
      assert.deepEqual(bill.periods, [{ provider: 'aws.bedrock', from: '2026-10-01', to: '2026-11-01' }]);
      assert.deepEqual(bill.problems, [
        { line: 9, message: 'line_item_unblended_cost must be a decimal number, got "twelve"' },
      ]);
      assert.deepEqual(
        bill.lines.map((l) => [l.day, l.charge, l.pricing, l.amount, l.quantity, l.account]),
        [
          ['2026-10-01', 'usage', 'standard', '20', '4000', '123456789012'],
          ['2026-10-02', 'usage', 'standard', '15', '3000', '123456789012'],
          ['2026-10-03', 'usage', 'batch', '2.5', '1000', '123456789012'],
          ['2026-10-04', 'credit', 'standard', '-5', '0', '123456789012'],
          ['2026-10-01', 'tax', 'standard', '3.6', '0', '123456789012'],
        ],
      );
    });
  }

  for (const name of ['gcp-billing-export-2026-10.jsonl', 'gcp-billing-export-2026-10.csv']) {
    it(`reads the Google Cloud billing export (${name}): Vertex AI and Gemini, a free-tier credit nets, a promotion is a credit`, () => {
      const bill = readBill(fixture(name));
      assert.equal(bill.format, 'gcp-billing-export');
      assert.equal(bill.rowsSkipped, 1, 'the Compute Engine row');
      assert.equal(bill.problems.length, 1);
      assert.match(bill.problems[0]!.message, /cost must be a decimal number, got "n\/a"/);
      assert.deepEqual(
        bill.lines.map((l) => [l.provider, l.day, l.charge, l.pricing, l.amount, l.project]),
        [
          ['gcp.vertex_ai', '2026-10-01', 'usage', 'standard', '10', 'ml-prod'],
          ['gcp.gemini', '2026-10-02', 'usage', 'free_tier', '0', 'ml-prod'],
          ['gcp.vertex_ai', '2026-10-03', 'usage', 'standard', '6.5', 'ml-prod'],
          ['gcp.vertex_ai', '2026-10-03', 'credit', 'standard', '-2', 'ml-prod'],
        ],
      );
      assert.deepEqual([...bill.periods].map((p) => [p.provider, p.from, p.to]).sort(), [
        ['gcp.gemini', '2026-10-01', '2026-11-01'],
        ['gcp.vertex_ai', '2026-10-01', '2026-11-01'],
      ]);
    });
  }

  it('reads an Azure cost details export (MCA schema): Azure OpenAI in EUR, MM/DD/YYYY dates, a refund as a credit', () => {
    const bill = readBill(fixture('azure-cost-export-2026-10.csv'));
    assert.equal(bill.format, 'azure-cost-export');
    assert.equal(bill.rowsSkipped, 1, 'the virtual machine');
    assert.deepEqual(bill.periods, [{ provider: 'azure.ai.openai', from: '2026-10-01', to: '2026-11-01' }]);
    assert.deepEqual(bill.problems, [
      { line: 7, message: 'costInBillingCurrency must be a decimal number, got "abc"' },
    ]);
    assert.deepEqual(
      bill.lines.map((l) => [l.day, l.charge, l.amount, l.currency, l.project]),
      [
        ['2026-10-01', 'usage', '3.7', 'EUR', 'ml-prod'],
        ['2026-10-02', 'usage', '4.6', 'EUR', 'ml-prod'],
        ['2026-10-05', 'credit', '-0.23', 'EUR', 'ml-prod'],
      ],
    );
  });

  it('names what it cannot read', () => {
    assert.throws(() => readBill(Buffer.from('date,merchant,total\n2026-10-01,x,1\n')), /unrecognised file/);
    assert.throws(() => readBill(Buffer.from('{"data": []}')), /unrecognised JSON/);
    assert.throws(() => readBill(Buffer.from('x'), { format: 'cur' }), /unknown format "cur"/);
  });
});

describe('reconciliation of a seeded month', function () {
  this.timeout(120_000);
  let storage: Storage;
  let importer: BillImporter;
  let report: ReconciliationReport;
  const firstImports: Record<string, string> = {};

  before(async () => {
    storage = await freshStorage();
    importer = new BillImporter(storage);
    await seedMeter(storage);
    for (const name of ['openai-costs-2026-10.json', 'anthropic-cost-report-2026-10.json']) {
      const r = await importer.import({
        bytes: fixture(name),
        fileName: name,
        importedBy: 'finance@example.com',
      });
      firstImports[name] = r.import_id;
    }
    const focus = await importer.import({
      bytes: fixture('focus-1.2-bedrock-azure-2026-10.csv'),
      fileName: 'focus.csv',
      importedBy: 'finance@example.com',
      rates: { EUR: '1.10' },
    });
    assert.deepEqual(focus.rates, { USD: '1', EUR: '1.1' });
    assert.equal(focus.problem_count, 1);
    report = await reconcile(storage, { period: '2026-10' }, undefined, new Date('2026-11-15T00:00:00Z'));
  });
  after(async () => storage?.close());

  it('OpenAI: matched, an unmetered app billed-only, a batch discount, a day billed late', () => {
    const o = summary(report, 'openai');
    assert.deepEqual(
      {
        billed: o.billed_usd,
        metered: o.metered_usd,
        covered: o.covered_usd,
        coverage: o.coverage,
        unmetered: o.unmetered_usd,
        notBilled: o.metered_not_billed_usd,
        reasons: o.metered_not_billed_by_reason,
        lines: o.lines,
        days: o.days_covered,
      },
      {
        billed: '28',
        metered: '23.004',
        covered: '20.5',
        coverage: '0.732142',
        unmetered: '7.5',
        notBilled: '2.504',
        reasons: {
          free_tier: '0',
          batch_discount: '2.5',
          flex_discount: '0',
          priority_commitment: '0',
          cache_discount: '0',
          unexplained: '0.004',
        },
        lines: { matched: 4, billed_only: 1, metered_only: 0, amount_mismatch: 1 },
        days: 7,
      },
    );
    assert.deepEqual(o.billed_by_project, [
      { project: 'proj_checkout', billed_usd: '20.5' },
      { project: 'proj_legacy', billed_usd: '7.5' },
    ]);
    // Where the unmetered remainder most likely comes from: the inventory's uninstrumented traffic.
    assert.deepEqual(
      o.uninstrumented.map((u) => [u.service, u.host, u.requests]),
      [['legacy-reports', 'api.openai.com', 3]],
    );
    const legacy = line(report, 'openai', '2026-10-02', 'gpt-4.1');
    assert.deepEqual([legacy.status, legacy.billed_usd, legacy.unmetered_usd], ['billed_only', '7.5', '7.5']);
    const within = line(report, 'openai', '2026-10-02', 'gpt-4o');
    assert.deepEqual([within.status, within.metered_not_billed_usd], ['matched', '0.004']);
    const batch = line(report, 'openai', '2026-10-03', 'gpt-4o-mini');
    assert.deepEqual(
      [batch.status, batch.explanation, batch.metered_not_billed_usd],
      ['amount_mismatch', 'batch_discount', '2.5'],
    );
    const metered = line(report, 'openai', '2026-10-05', 'gpt-4o');
    const billed = line(report, 'openai', '2026-10-06', 'gpt-4o');
    assert.deepEqual(
      [
        metered.status,
        metered.explanation,
        metered.metered_usd,
        metered.late_usd,
        metered.metered_not_billed_usd,
      ],
      ['matched', 'billing_delay', '3', '-3', '0'],
    );
    assert.deepEqual(
      [billed.status, billed.explanation, billed.billed_usd, billed.late_usd, billed.covered_usd],
      ['matched', 'billing_delay', '3', '3', '3'],
    );
    assert.ok(!report.lines.some((l) => l.day === '2026-10-08'), 'a day no bill covers is not reconciled');
  });

  it('Anthropic: a cache discount, a batch discount, web search billed-only', () => {
    const a = summary(report, 'anthropic');
    assert.deepEqual(
      [a.billed_usd, a.metered_usd, a.covered_usd, a.coverage, a.unmetered_usd, a.metered_not_billed_usd],
      ['24.8', '15.9', '14.8', '0.596774', '10', '1.1'],
    );
    assert.deepEqual(a.metered_not_billed_by_reason, {
      free_tier: '0',
      batch_discount: '0.5',
      flex_discount: '0',
      priority_commitment: '0',
      cache_discount: '0.6',
      unexplained: '0',
    });
    const cached = line(report, 'anthropic', '2026-10-02', 'claude-sonnet-4-0');
    assert.deepEqual(
      [cached.status, cached.explanation, cached.billed_usd],
      ['amount_mismatch', 'cache_discount', '2.3'],
    );
    assert.equal(line(report, 'anthropic', '2026-10-03', '').status, 'billed_only');
  });

  it('Bedrock from FOCUS: per day, a free-tier day, a credit and tax beside the usage', () => {
    const b = summary(report, 'aws.bedrock');
    assert.deepEqual(
      {
        billed: b.billed_usd,
        metered: b.metered_usd,
        covered: b.covered_usd,
        coverage: b.coverage,
        unmetered: b.unmetered_usd,
        notBilled: b.metered_not_billed_usd,
        freeTier: b.metered_not_billed_by_reason.free_tier,
        credits: b.credits_usd,
        other: b.other_charges_usd,
        invoice: b.invoice_total_usd,
        days: b.days_covered,
      },
      {
        billed: '45',
        metered: '45.2',
        covered: '44',
        coverage: '0.977777',
        unmetered: '1',
        notBilled: '1.2',
        freeTier: '1.2',
        credits: '-5',
        other: '3.6',
        invoice: '43.6',
        days: 31,
      },
    );
    const free = line(report, 'aws.bedrock', '2026-10-03');
    assert.deepEqual([free.status, free.explanation], ['metered_only', 'free_tier']);
    assert.deepEqual(
      [
        line(report, 'aws.bedrock', '2026-10-02').status,
        line(report, 'aws.bedrock', '2026-10-02').unmetered_usd,
      ],
      ['amount_mismatch', '1'],
    );
    assert.equal(line(report, 'aws.bedrock', '2026-10-04').credits_usd, '-5');
  });

  it('converts with the import’s rate: Azure OpenAI billed in EUR', () => {
    const z = summary(report, 'azure.ai.openai');
    assert.deepEqual([z.billed_usd, z.covered_usd, z.coverage, z.unmetered_usd], ['9.24', '0', '0', '9.24']);
  });

  it('stores the run the dashboards read, equal to the report', async () => {
    const rs = await storage.client.query({
      query: `SELECT provider, toString(sum(billed_usd)) AS billed, toString(sum(covered_usd)) AS covered
              FROM ${storage.database}.reconciliation_lines
              WHERE run_id IN (SELECT argMax(run_id, computed_at) FROM ${storage.database}.reconciliation_runs GROUP BY provider, month)
              GROUP BY provider ORDER BY provider`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ provider: string; billed: string; covered: string }>();
    assert.deepEqual(
      rows.map((r) => [r.provider, Number(r.billed), Number(r.covered)]),
      report.providers.map((p) => [p.provider, Number(p.billed_usd), Number(p.covered_usd)]),
    );
  });

  it('an identical file is a no-op; a restated period replaces those days and keeps the earlier import', async () => {
    const count = async (): Promise<number> => {
      const rs = await storage.client.query({
        query: `SELECT count() AS n FROM ${storage.database}.bill_lines`,
        format: 'JSONEachRow',
      });
      return Number((await rs.json<{ n: string }>())[0]!.n);
    };
    const before = await count();
    const again = await importer.import({
      bytes: fixture('openai-costs-2026-10.json'),
      fileName: 'again.json',
      importedBy: 'finance@example.com',
    });
    assert.equal(again.duplicate, true);
    assert.equal(again.import_id, firstImports['openai-costs-2026-10.json']);
    assert.equal(await count(), before);

    // OpenAI restates October 1–2: the legacy app's 7.50 becomes 8.00.
    const restated = JSON.parse(fixture('openai-costs-2026-10.json').toString('utf8')) as {
      data: Array<{ results: Array<{ amount: { value: number } }> }>;
    };
    restated.data = restated.data.slice(0, 2);
    restated.data[1]!.results[1]!.amount.value = 8;
    const result = await importer.import({
      bytes: Buffer.from(JSON.stringify(restated)),
      fileName: 'openai-restated.json',
      importedBy: 'finance@example.com',
    });
    assert.equal(result.duplicate, false);
    assert.deepEqual(result.replaces, [firstImports['openai-costs-2026-10.json']]);
    assert.deepEqual([result.period_from, result.period_to], ['2026-10-01', '2026-10-03']);
    const after = await reconcile(storage, { period: '2026-10', provider: 'openai' });
    const o = summary(after, 'openai');
    assert.equal(
      o.billed_usd,
      '28.5',
      'days 1–2 from the restatement, 3–7 from the first import, nothing twice',
    );
    assert.equal(line(after, 'openai', '2026-10-01', 'gpt-4o').billed_usd, '10');
    assert.equal(line(after, 'openai', '2026-10-02', 'gpt-4.1').billed_usd, '8');
    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM ${storage.database}.bill_imports`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rs.json<{ n: string }>())[0]!.n), 4, 'every import kept, for audit');
  });

  it('compares per project where the policy maps projects to services', async () => {
    const parsed = parsePolicy(
      [
        'version: 1',
        'policies: []',
        'reconciliation:',
        '  tolerance_usd: 0.5',
        '  billing_delay_days: 0',
        '  projects: [{ provider: OpenAI, project: proj_checkout, service: [checkout, batch-jobs] }]',
      ].join('\n'),
    );
    assert.ok(parsed.ok);
    const settings = settingsFromPolicy(parsed.policy);
    assert.deepEqual(settings.projects, [
      { provider: 'openai', project: 'proj_checkout', services: ['checkout', 'batch-jobs'] },
    ]);
    const r = await reconcile(storage, { period: '2026-10', provider: 'openai' }, settings);
    assert.deepEqual(
      r.lines.map((l) => [l.day, l.model, l.project, l.status]),
      [
        ['2026-10-01', 'gpt-4o', 'proj_checkout', 'matched'],
        ['2026-10-02', 'gpt-4.1', '', 'billed_only'],
        ['2026-10-02', 'gpt-4o', 'proj_checkout', 'matched'],
        ['2026-10-03', 'gpt-4o-mini', 'proj_checkout', 'amount_mismatch'],
        // No billing-delay window: the 5th's meter and the 6th's bill no longer match.
        ['2026-10-05', 'gpt-4o', 'proj_checkout', 'metered_only'],
        ['2026-10-06', 'gpt-4o', 'proj_checkout', 'billed_only'],
      ],
    );
    const bad = parsePolicy(
      'version: 1\npolicies: []\nreconciliation: { alert_below: 2, currency_rates: { eur: 1.1 } }\n',
    );
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems.map((p) => p.path).sort(), [
      'reconciliation.alert_below',
      'reconciliation.currency_rates',
    ]);
  });

  it('reads a CUR 2.0 Parquet file through the engine', async () => {
    // The Parquet file is made by ClickHouse from the CUR 2.0 fixture, as Data Exports would write it.
    const dir = tempDir('tl-cur-');
    const csv = path.join(dir, 'cur.csv');
    const parquet = path.join(dir, 'cur.parquet');
    writeFileSync(csv, fixture('aws-cur2-2026-10.csv').toString('utf8').split('\n').slice(1).join('\n'));
    await storage.client.command({
      query: `SELECT * FROM file('${csv}', CSVWithNames) INTO OUTFILE '${parquet}' FORMAT Parquet`,
    });
    const other = await freshStorage();
    try {
      const r = await new BillImporter(other).import({
        bytes: readFileSync(parquet),
        fileName: 'cur.parquet',
        importedBy: 'x',
      });
      assert.deepEqual(
        [r.format, r.lines_kept, r.rows_skipped, r.problem_count, r.period_from, r.period_to],
        ['aws-cur', 5, 1, 1, '2026-10-01', '2026-11-01'],
      );
      const rep = await reconcile(other, { period: '2026-10', provider: 'aws.bedrock' });
      const b = summary(rep, 'aws.bedrock');
      assert.deepEqual([b.billed_usd, b.credits_usd, b.other_charges_usd], ['37.5', '-5', '3.6']);
    } finally {
      await other.close();
    }
  });

  it('a bill in a currency without a rate is kept and reported, not counted', async () => {
    const other = await freshStorage();
    try {
      const r = await new BillImporter(other).import({
        bytes: fixture('focus-1.2-bedrock-azure-2026-10.csv'),
        fileName: 'focus.csv',
        importedBy: 'x',
      });
      assert.equal(r.unconverted_lines, 1);
      const rep = await reconcile(other, { period: '2026-10', provider: 'azure.ai.openai' });
      assert.deepEqual(
        [summary(rep, 'azure.ai.openai').billed_usd, summary(rep, 'azure.ai.openai').unconverted_lines],
        ['0', 1],
      );
    } finally {
      await other.close();
    }
  });
});

describe('reconciliation of Flex and Priority days (the meter or the usage export knows the tier)', function () {
  this.timeout(60_000);
  let storage: Storage;
  let report: ReconciliationReport;

  before(async () => {
    storage = await freshStorage();
    // Priced at the list (standard) rate, as the meter prices every tier.
    await insertMeteredCalls(
      storage,
      [
        {
          provider: 'openai',
          model: 'gpt-4.1',
          service: 'enrich',
          at: '2026-11-02T10:00:00Z',
          cost: '2.80',
          tier: 'flex',
        },
        {
          provider: 'openai',
          model: 'gpt-4.1',
          service: 'enrich',
          at: '2026-11-03T10:00:00Z',
          cost: '1.00',
          tier: 'flex',
        },
        {
          provider: 'openai',
          model: 'gpt-4.1',
          service: 'enrich',
          at: '2026-11-03T11:00:00Z',
          cost: '3.00',
          tier: 'default',
        },
        {
          provider: 'openai',
          model: 'gpt-4o',
          service: 'chat',
          at: '2026-11-04T10:00:00Z',
          cost: '3.50',
          tier: 'priority',
        },
        // Stored before the tier was: its row says nothing.
        { provider: 'openai', model: 'gpt-4o', service: 'chat', at: '2026-11-05T10:00:00Z', cost: '3.50' },
        // OpenAI bills Priority calls in its cost lines: a missing line is not a commitment.
        {
          provider: 'openai',
          model: 'gpt-4o',
          service: 'chat',
          at: '2026-11-06T10:00:00Z',
          cost: '3.50',
          tier: 'priority',
        },
      ],
      'tier',
    );
    const bucket = (day: string, results: Array<[string, string]>) => ({
      object: 'bucket',
      start_time: Date.parse(`${day}T00:00:00Z`) / 1000,
      end_time: Date.parse(`${day}T00:00:00Z`) / 1000 + 86_400,
      results: results.map(([lineItem, value]) => ({
        object: 'organization.costs.result',
        amount: { value: Number(value), currency: 'usd' },
        line_item: lineItem,
        project_id: null,
      })),
    });
    const page = {
      object: 'page',
      data: [
        bucket('2026-11-02', [['gpt-4.1-2025-04-14, input', '1.40']]),
        bucket('2026-11-03', [['gpt-4.1-2025-04-14, input', '2.50']]),
        bucket('2026-11-04', [['gpt-4o-2024-08-06, input', '5.95']]),
        bucket('2026-11-05', [['gpt-4o-2024-08-06, input', '1.75']]),
        bucket('2026-11-06', [['gpt-4.1-2025-04-14, input', '0']]),
      ],
      has_more: false,
      next_page: null,
    };
    await new BillImporter(storage).import({
      bytes: Buffer.from(JSON.stringify(page)),
      fileName: 'openai-costs-2026-11.json',
      importedBy: 'finance@example.com',
    });
    // OpenAI's Usage API grouped by model and service_tier (the shape of the Usage API fixture;
    // `default` as a real export writes it): the 5th's gpt-4o tokens ran on Flex, the 3rd's
    // gpt-4.1 on the default tier.
    const usage = (day: string, model: string, tier: string) => ({
      object: 'bucket',
      start_time: Date.parse(`${day}T00:00:00Z`) / 1000,
      end_time: Date.parse(`${day}T00:00:00Z`) / 1000 + 86_400,
      results: [
        {
          object: 'organization.usage.completions.result',
          input_tokens: 0,
          output_tokens: 0,
          input_cached_tokens: 0,
          num_model_requests: 1,
          project_id: null,
          user_id: null,
          api_key_id: null,
          model,
          batch: false,
          service_tier: tier,
        },
      ],
    });
    await new BillImporter(storage).import({
      bytes: Buffer.from(
        JSON.stringify({
          object: 'page',
          data: [
            usage('2026-11-03', 'gpt-4.1-2025-04-14', 'default'),
            usage('2026-11-05', 'gpt-4o-2024-08-06', 'flex'),
          ],
          has_more: false,
          next_page: null,
        }),
      ),
      fileName: 'openai-usage-2026-11.json',
      importedBy: 'finance@example.com',
    });
    report = await reconcile(storage, { period: '2026-11' }, undefined, new Date('2026-12-01T00:00:00Z'));
  });
  after(async () => storage?.close());

  it("explains a Flex day up to what its Flex calls were metered at, or as the usage export's tier says, a Priority day billed above the meter, nothing else", () => {
    assert.deepEqual(
      report.lines.map((l) => [
        l.day,
        l.model,
        l.status,
        l.explanation,
        l.unmetered_usd,
        l.metered_not_billed_usd,
      ]),
      [
        ['2026-11-02', 'gpt-4.1', 'amount_mismatch', 'flex_discount', '0', '1.4'],
        // 1.50 below the meter, but its Flex call was metered at 1.00: no discount takes off more.
        ['2026-11-03', 'gpt-4.1', 'amount_mismatch', '', '0', '1.5'],
        ['2026-11-04', 'gpt-4o', 'amount_mismatch', 'priority_premium', '2.45', '0'],
        // The meter does not know this call's tier; the usage export says Flex.
        ['2026-11-05', 'gpt-4o', 'amount_mismatch', 'flex_discount', '0', '1.75'],
        ['2026-11-06', 'gpt-4.1', 'matched', '', '0', '0'],
        ['2026-11-06', 'gpt-4o', 'metered_only', '', '0', '3.5'],
      ],
    );
    const o = summary(report, 'openai');
    assert.deepEqual(o.metered_not_billed_by_reason, {
      free_tier: '0',
      batch_discount: '0',
      flex_discount: '3.15',
      priority_commitment: '0',
      cache_discount: '0',
      unexplained: '5',
    });
    assert.deepEqual(o.unmetered_by_reason, { priority_premium: '2.45', unexplained: '0' });
  });
});

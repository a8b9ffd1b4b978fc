/**
 * Token usage exports (OpenAI's Usage API, Anthropic's messages usage report) read from their
 * fixtures and reconciled with the meter's stored tokens on a seeded month, on the embedded engine:
 * a matched day (batch and standard tiers summed), a day within the tolerance, a cache-read
 * mismatch, an unmetered app (billed-only), a metered day the export has empty (metered-only), exact
 * coverage per token kind; re-import idempotent, a restated export replacing the earlier one and
 * never a cost bill of the same days, malformed records reported with their number.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BillImporter } from '../../collector/src/govern/bills/import';
import { parsePolicy } from '../../collector/src/govern/policy/load';
import { readBill } from '../../collector/src/ingest/bills/read';
import {
  ReconciliationRefresher,
  reconcile,
  reconciliationCsv,
  settingsFromPolicy,
  type ReconciliationReport,
  type ReconciliationSettings,
} from '../../collector/src/read/reconciliation';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';
import { insertMeteredCalls } from '../support/metered-calls';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'bills');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const OPENAI_USAGE = 'openai-usage-completions-2026-11.json';
const ANTHROPIC_USAGE = 'anthropic-usage-messages-2026-11.json';

/** Metered calls: provider, model as priced, service, instant, input (cache included), cached, output. */
const METERED: Array<[string, string, string, string, number, number, number]> = [
  ['openai', 'gpt-4o', 'checkout', '2026-11-01T09:00:00Z', 1_200_000, 400_000, 450_000],
  ['openai', 'gpt-4o', 'checkout', '2026-11-01T21:00:00Z', 400_000, 0, 150_000],
  ['openai', 'gpt-4o', 'checkout', '2026-11-02T12:00:00Z', 1_004_000, 0, 500_000], // 0.4 % over: within 1 %
  ['openai', 'gpt-4o', 'checkout', '2026-11-03T12:00:00Z', 800_000, 100_000, 300_000], // half the cache reads
  ['openai', 'gpt-4o', 'checkout', '2026-11-04T12:00:00Z', 50_000, 0, 10_000], // the export's day is empty
  ['openai', 'gpt-4o', 'checkout', '2026-11-05T12:00:00Z', 77, 0, 7], // no export covers the 5th
  ['anthropic', 'claude-sonnet-4-0', 'support-bot', '2026-11-01T10:00:00Z', 2_300_000, 200_000, 400_000],
  ['anthropic', 'claude-sonnet-4-0', 'support-bot', '2026-11-01T23:00:00Z', 1_000_000, 0, 200_000],
];

async function seedMeter(storage: Storage): Promise<void> {
  await insertMeteredCalls(
    storage,
    METERED.map(([provider, model, service, at, input, cached, output]) => ({
      provider,
      model,
      service,
      at,
      input,
      cached,
      output,
      cost: '0.01',
    })),
    'k',
  );
}

function settings(): ReconciliationSettings {
  const parsed = parsePolicy(
    [
      'version: 1',
      'policies: []',
      'reconciliation:',
      '  projects:',
      '    - { provider: openai, project: proj_checkout, service: checkout }',
      '    - { provider: anthropic, project: apikey_support, service: support-bot }',
    ].join('\n'),
  );
  assert.ok(parsed.ok);
  return settingsFromPolicy(parsed.policy);
}

const tokenRow = (r: ReconciliationReport, provider: string) =>
  r.token_lines
    .filter((l) => l.provider === provider)
    .map((l) => [
      l.day,
      l.model,
      l.project,
      l.status,
      l.billed_input_tokens,
      l.metered_input_tokens,
      l.billed_cached_input_tokens,
      l.metered_cached_input_tokens,
      l.billed_output_tokens,
      l.metered_output_tokens,
      l.billed_requests,
      l.calls,
    ]);

describe('token usage exports', () => {
  it("reads OpenAI's Usage API (completions): buckets by day, model, project and batch; a bad record reported", () => {
    const bill = readBill(fixture(OPENAI_USAGE));
    assert.equal(bill.format, 'openai-usage');
    assert.equal(bill.kind, 'usage');
    assert.deepEqual(bill.lines, []);
    assert.deepEqual(bill.periods, [{ provider: 'openai', from: '2026-11-01', to: '2026-11-05' }]);
    assert.equal(bill.rowsRead, 6);
    assert.deepEqual(bill.problems, [
      { line: 6, message: 'output_tokens must be a whole number of tokens, got "n/a"' },
    ]);
    assert.deepEqual(
      bill.usage!.map((u) => [
        u.day,
        u.model,
        u.project,
        u.tier,
        u.inputTokens,
        u.cachedInputTokens,
        u.outputTokens,
        u.requests,
      ]),
      [
        ['2026-11-01', 'gpt-4o-2024-08-06', 'proj_checkout', '', 1_200_000, 400_000, 450_000, 900],
        ['2026-11-01', 'gpt-4o-2024-08-06', 'proj_checkout', 'batch', 400_000, 0, 150_000, 300],
        ['2026-11-01', 'gpt-4o-mini-2024-07-18', 'proj_legacy', '', 900_000, 0, 100_000, 300],
        ['2026-11-02', 'gpt-4o-2024-08-06', 'proj_checkout', '', 1_000_000, 0, 500_000, 700],
        ['2026-11-03', 'gpt-4o-2024-08-06', 'proj_checkout', '', 800_000, 200_000, 300_000, 500],
      ],
    );
  });

  it("reads Anthropic's messages usage report over two pages: input = uncached + cache reads + cache writes", () => {
    const bill = readBill(fixture(ANTHROPIC_USAGE));
    assert.equal(bill.format, 'anthropic-usage-report');
    assert.deepEqual(bill.periods, [{ provider: 'anthropic', from: '2026-11-01', to: '2026-11-03' }]);
    assert.deepEqual(bill.problems, [
      { line: 4, message: 'cache_read_input_tokens must be a whole number of tokens, got "12,5"' },
    ]);
    assert.deepEqual(
      bill.usage!.map((u) => [
        u.day,
        u.model,
        u.project,
        u.apiKey,
        u.tier,
        u.inputTokens,
        u.cachedInputTokens,
        u.cacheWriteTokens,
        u.outputTokens,
        u.requests,
      ]),
      [
        [
          '2026-11-01',
          'claude-sonnet-4-20250514',
          'wrkspc_support',
          'apikey_support',
          'standard',
          2_300_000,
          200_000,
          600_000,
          400_000,
          undefined,
        ],
        [
          '2026-11-01',
          'claude-sonnet-4-20250514',
          'wrkspc_support',
          'apikey_support',
          'batch',
          1_000_000,
          0,
          0,
          200_000,
          undefined,
        ],
        [
          '2026-11-02',
          'claude-3-5-haiku-20241022',
          '',
          'apikey_nightly',
          'standard',
          300_000,
          0,
          0,
          50_000,
          undefined,
        ],
      ],
    );
  });
});

describe('token reconciliation of a seeded month', function () {
  this.timeout(120_000);
  let storage: Storage;
  let importer: BillImporter;
  let report: ReconciliationReport;
  let openaiImport: string;

  before(async () => {
    storage = await freshStorage();
    importer = new BillImporter(storage);
    await seedMeter(storage);
    const openai = await importer.import({
      bytes: fixture(OPENAI_USAGE),
      fileName: OPENAI_USAGE,
      importedBy: 'fin',
    });
    openaiImport = openai.import_id;
    assert.deepEqual(
      [openai.format, openai.lines_kept, openai.problem_count, openai.period_from, openai.period_to],
      ['openai-usage', 5, 1, '2026-11-01', '2026-11-05'],
    );
    await importer.import({ bytes: fixture(ANTHROPIC_USAGE), fileName: ANTHROPIC_USAGE, importedBy: 'fin' });
    report = await reconcile(storage, { period: '2026-11' }, settings(), new Date('2026-12-06T00:00:00Z'));
  });
  after(async () => storage?.close());

  it('classifies each provider × day × model × project line and gives the exact token figures', () => {
    assert.deepEqual(tokenRow(report, 'openai'), [
      [
        '2026-11-01',
        'gpt-4o',
        'proj_checkout',
        'matched',
        1_600_000,
        1_600_000,
        400_000,
        400_000,
        600_000,
        600_000,
        1200,
        2,
      ],
      ['2026-11-01', 'gpt-4o-mini', '', 'billed_only', 900_000, 0, 0, 0, 100_000, 0, 300, 0],
      [
        '2026-11-02',
        'gpt-4o',
        'proj_checkout',
        'matched',
        1_000_000,
        1_004_000,
        0,
        0,
        500_000,
        500_000,
        700,
        1,
      ],
      [
        '2026-11-03',
        'gpt-4o',
        'proj_checkout',
        'token_mismatch',
        800_000,
        800_000,
        200_000,
        100_000,
        300_000,
        300_000,
        500,
        1,
      ],
      ['2026-11-04', 'gpt-4o', 'proj_checkout', 'metered_only', 0, 50_000, 0, 0, 0, 10_000, null, 1],
    ]);
    assert.deepEqual(tokenRow(report, 'anthropic'), [
      [
        '2026-11-01',
        'claude-sonnet-4-0',
        'apikey_support',
        'matched',
        3_300_000,
        3_300_000,
        200_000,
        200_000,
        600_000,
        600_000,
        null,
        2,
      ],
      ['2026-11-02', 'claude-3-5-haiku-latest', '', 'billed_only', 300_000, 0, 0, 0, 50_000, 0, null, 0],
    ]);
  });

  it('sums per provider: billed, metered, coverage per token kind, line counts; no money compared', () => {
    const openai = report.providers.find((p) => p.provider === 'openai')!;
    assert.deepEqual(openai.tokens, {
      days_covered: 4,
      billed: {
        input_tokens: 4_300_000,
        cached_input_tokens: 600_000,
        output_tokens: 1_500_000,
        requests: 2700,
      },
      metered: { input_tokens: 3_454_000, cached_input_tokens: 500_000, output_tokens: 1_410_000, calls: 5 },
      // 3 400 000 / 4 300 000, 500 000 / 600 000, 1 400 000 / 1 500 000 (6 places, rounded down)
      coverage: { input_tokens: '0.790697', cached_input_tokens: '0.833333', output_tokens: '0.933333' },
      lines: { matched: 2, billed_only: 1, metered_only: 1, token_mismatch: 1 },
    });
    assert.deepEqual([openai.billed_usd, openai.days_covered, openai.coverage], ['0', 0, null]);
    const anthropic = report.providers.find((p) => p.provider === 'anthropic')!;
    assert.deepEqual(anthropic.tokens!.coverage, {
      input_tokens: '0.916666',
      cached_input_tokens: '1',
      output_tokens: '0.923076',
    });
  });

  it('gives the token lines as CSV', () => {
    const csv = reconciliationCsv(report, 'tokens').split('\n');
    assert.equal(
      csv[0],
      'provider,day,model,project,status,billed_input_tokens,metered_input_tokens,billed_cached_input_tokens,metered_cached_input_tokens,billed_output_tokens,metered_output_tokens,billed_requests,calls',
    );
    assert.equal(csv[7], 'openai,2026-11-04,gpt-4o,proj_checkout,metered_only,0,50000,0,0,0,10000,,1');
  });

  it('stores the token lines with the run the dashboards read', async () => {
    const rs = await storage.client.query({
      query: `SELECT provider, status, sum(billed_input_tokens) AS billed, sum(metered_input_tokens) AS metered
              FROM ${storage.database}.reconciliation_token_lines
              WHERE run_id IN (SELECT argMax(run_id, computed_at) FROM ${storage.database}.reconciliation_runs GROUP BY provider, month)
              GROUP BY provider, status ORDER BY provider, status`,
      format: 'JSONEachRow',
    });
    const rows = (await rs.json<Record<string, string | number>>()).map((r) => [
      r.provider,
      r.status,
      Number(r.billed),
      Number(r.metered),
    ]);
    assert.deepEqual(rows, [
      ['anthropic', 'billed_only', 300_000, 0],
      ['anthropic', 'matched', 3_300_000, 3_300_000],
      ['openai', 'billed_only', 900_000, 0],
      ['openai', 'matched', 2_600_000, 2_604_000],
      ['openai', 'metered_only', 0, 50_000],
      ['openai', 'token_mismatch', 800_000, 800_000],
    ]);
  });

  it('the same export again changes nothing; a restated one replaces usage only, never the cost bill of those days', async () => {
    const again = await importer.import({
      bytes: fixture(OPENAI_USAGE),
      fileName: 'again.json',
      importedBy: 'fin',
    });
    assert.deepEqual([again.duplicate, again.import_id], [true, openaiImport]);

    // A cost bill for the 1st (the Costs API's documented shape), then the usage restated.
    const costs = {
      object: 'page',
      data: [
        {
          object: 'bucket',
          start_time: 1793491200,
          end_time: 1793577600,
          results: [
            {
              object: 'organization.costs.result',
              amount: { value: 7.5, currency: 'usd' },
              line_item: 'gpt-4o-2024-08-06, input',
              project_id: 'proj_checkout',
            },
          ],
        },
      ],
      has_more: false,
      next_page: null,
    };
    const cost = await importer.import({
      bytes: Buffer.from(JSON.stringify(costs)),
      fileName: 'costs.json',
      importedBy: 'fin',
    });
    assert.deepEqual([cost.format, cost.replaces], ['openai-costs', []]);
    const restated = JSON.parse(fixture(OPENAI_USAGE).toString('utf8')) as {
      data: Array<{ results: Array<Record<string, unknown>> }>;
    };
    restated.data[2]!.results[0]!.input_cached_tokens = 100_000;
    restated.data[2]!.results.pop(); // the bad record, corrected away
    const r = await importer.import({
      bytes: Buffer.from(JSON.stringify(restated)),
      fileName: 'restated.json',
      importedBy: 'fin',
    });
    assert.deepEqual([r.duplicate, r.replaces, r.problem_count], [false, [openaiImport], 0]);
    const after = await reconcile(storage, { period: '2026-11', provider: 'openai' }, settings());
    const third = after.token_lines.find((l) => l.day === '2026-11-03')!;
    assert.deepEqual([third.status, third.billed_cached_input_tokens], ['matched', 100_000]);
    assert.equal(after.token_lines.length, 5);
    const openai = after.providers[0]!;
    assert.deepEqual([openai.billed_usd, openai.days_covered, openai.tokens!.lines.matched], ['7.5', 1, 3]);
  });
});

describe('stored reconciliation runs', function () {
  this.timeout(120_000);

  it('a refresh deletes the lines of superseded runs older than an hour, never the latest', async () => {
    const storage = await freshStorage();
    try {
      await seedMeter(storage);
      await new BillImporter(storage).import({
        bytes: fixture(ANTHROPIC_USAGE),
        fileName: 'a.json',
        importedBy: 'x',
      });
      const t0 = Date.parse('2026-11-20T00:00:00Z');
      const hours = (h: number) => new Date(t0 + h * 3_600_000);
      await reconcile(storage, { period: '2026-11' }, settings(), hours(0));
      await reconcile(storage, { period: '2026-11' }, settings(), hours(2));
      const refresher = new ReconciliationRefresher({ storage, settings, log: () => undefined });
      await refresher.refresh(hours(3));
      const runsOf = async (table: string) => {
        const rs = await storage.client.query({
          query: `SELECT r.computed_at AS at FROM ${storage.database}.reconciliation_runs AS r
                  WHERE r.run_id IN (SELECT DISTINCT run_id FROM ${storage.database}.${table})
                  GROUP BY r.computed_at ORDER BY at`,
          format: 'JSONEachRow',
        });
        return (await rs.json<{ at: string }>()).map((r) => r.at);
      };
      // The run of hour 0 is gone; hour 2 (within the hour kept) and the refresh's own stay.
      const expected = ['2026-11-20 02:00:00.000', '2026-11-20 03:00:00.000'];
      assert.deepEqual(await runsOf('reconciliation_token_lines'), expected);
      const latest = await reconcile(storage, { period: '2026-11' }, settings(), hours(4));
      assert.deepEqual(
        latest.token_lines.map((l) => [l.day, l.status, l.billed_input_tokens]),
        [
          ['2026-11-01', 'matched', 3_300_000],
          ['2026-11-02', 'billed_only', 300_000],
        ],
      );
    } finally {
      await storage.close();
    }
  });
});

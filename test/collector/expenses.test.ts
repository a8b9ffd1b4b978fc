/**
 * Card and expense-tool exports on the embedded engine: presets and a custom column mapping, AI
 * vendors recognised from the list in the repo, AI subscriptions in the inventory with owner and
 * monthly run rate, re-imports idempotent, a restated period replaced, bad rows reported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { aiVendorOf } from '../../collector/src/core/ai-vendors';
import { ExpenseImporter } from '../../collector/src/govern/expenses/import';
import { parseColumnMap, readExpenses } from '../../collector/src/ingest/expenses/read';
import { inventory } from '../../collector/src/read/inventory';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';

const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'bills', name));

describe('expense exports', () => {
  it('recognises AI vendors as card statements name them, API bills apart', () => {
    assert.deepEqual(
      [
        'OPENAI *CHATGPT SUBSCR',
        'OPENAI API BILLING',
        'CURSOR, AI POWERED IDE',
        'Microsoft Copilot Pro',
        'GITHUB COPILOT',
        'DELTA AIR LINES',
      ].map((m) => {
        const v = aiVendorOf(m);
        return v ? `${v.vendor}/${v.product}${v.api ? ' (api)' : ''}` : '-';
      }),
      ['OpenAI/ChatGPT', 'OpenAI/API (api)', 'Cursor/Cursor', 'Microsoft/Copilot Pro', 'GitHub/Copilot', '-'],
    );
  });

  it("reads Ramp's template (recognised from its columns): refunds in brackets, a bad amount reported", () => {
    const parsed = readExpenses(fixture('ramp-migration-2026-10.csv'), {});
    assert.equal(parsed.preset, 'ramp-migration');
    assert.deepEqual(parsed.problems, [
      { line: 7, message: 'amount must be a decimal number, got "1234.5x"' },
    ]);
    assert.deepEqual(
      parsed.lines.map((l) => [l.day, l.vendor, l.product, l.amount, l.currency, l.employee]),
      [
        ['2026-10-01', 'OpenAI', 'ChatGPT', '20', 'USD', 'ana@example.com'],
        ['2026-10-03', 'Cursor', 'Cursor', '40', 'USD', 'bo@example.com'],
        ['2026-10-05', '', '', '412.8', 'USD', 'ana@example.com'],
        ['2026-10-06', '', '', '250', 'USD', 'platform@example.com'],
        ['2026-11-01', 'OpenAI', 'ChatGPT', '20', 'USD', 'ana@example.com'],
        ['2026-11-03', 'Cursor', 'Cursor', '-40', 'USD', 'bo@example.com'],
      ],
    );
  });

  it("reads Cardlay's export with the preset, and the same file with a custom column mapping", () => {
    const preset = readExpenses(fixture('cardlay-expenses-2026-10.csv'), { preset: 'cardlay' });
    const mapped = readExpenses(fixture('cardlay-expenses-2026-10.csv'), {
      map: parseColumnMap(
        'date=Transaction date,vendor=Merchant name,amount=Amount,currency=Currency,employee=Employee name,department=Cost center name',
      ),
    });
    assert.equal(mapped.preset, 'custom');
    for (const parsed of [preset, mapped]) {
      assert.equal(parsed.problems.length, 1);
      assert.equal(parsed.problems[0]!.line, 6);
      assert.deepEqual(
        parsed.lines.map((l) => [l.day, l.vendor, l.amount, l.currency, l.employee, l.department]),
        [
          ['2026-10-02', 'GitHub', '19', 'EUR', 'Carla Diaz', 'Engineering'],
          ['2026-10-04', 'Anthropic', '18', 'EUR', '', 'Design'],
          ['2026-10-09', '', '54.1', 'EUR', 'Carla Diaz', 'Engineering'],
        ],
      );
    }
    assert.throws(
      () =>
        readExpenses(fixture('cardlay-expenses-2026-10.csv'), {
          map: parseColumnMap('date=Transaction date'),
        }),
      /no column for vendor/,
    );
    assert.throws(() => parseColumnMap('when=Date'), /FIELD one of date, vendor, amount/);
  });

  describe('into the inventory', function () {
    this.timeout(60_000);
    let storage: Storage;
    before(async () => {
      storage = await freshStorage();
    });
    after(async () => storage?.close());

    it('AI vendors become subscriptions with owner and monthly run rate; re-import and restatement', async () => {
      const importer = new ExpenseImporter(storage);
      const ramp = await importer.import({
        bytes: fixture('ramp-migration-2026-10.csv'),
        fileName: 'ramp.csv',
        importedBy: 'x',
        rates: {},
      });
      assert.deepEqual(
        [ramp.source, ramp.lines_kept, ramp.ai_lines, ramp.problem_count],
        ['ramp-migration', 6, 4, 1],
      );
      const again = await importer.import({
        bytes: fixture('ramp-migration-2026-10.csv'),
        fileName: 'again.csv',
        importedBy: 'x',
        rates: {},
      });
      assert.deepEqual([again.duplicate, again.import_id], [true, ramp.import_id]);
      await importer.import({
        bytes: fixture('cardlay-expenses-2026-10.csv'),
        fileName: 'cardlay.csv',
        importedBy: 'x',
        source: 'company-card',
        rates: { EUR: '1.10' },
      });

      const inv = await inventory(storage, { from: '2026-10-01', to: '2026-12-01' });
      assert.deepEqual(
        inv.subscriptions.map((s) => [
          s.vendor,
          s.product,
          s.owner,
          s.charges,
          s.spend_usd,
          s.monthly_run_rate_usd,
          s.last_seen,
        ]),
        [
          ['Anthropic', 'Claude', 'Design', 1, '19.8', '19.8', '2026-10-04'],
          ['Cursor', 'Cursor', 'bo@example.com', 2, '0', '-40', '2026-11-03'],
          ['GitHub', 'Copilot', 'Carla Diaz', 1, '20.9', '20.9', '2026-10-02'],
          ['OpenAI', 'ChatGPT', 'ana@example.com', 2, '40', '20', '2026-11-01'],
        ],
      );

      // Ramp restates October 1–3: ChatGPT at 25 on the 1st, nothing else those days.
      const restated = Buffer.from(
        'transaction_time,amount,user,merchant_name\n2026-10-01T09:00:00Z,25.00,ana@example.com,OPENAI *CHATGPT SUBSCR\n2026-10-03T00:00:00Z,0,bo@example.com,Coffee\n',
      );
      await importer.import({
        bytes: restated,
        fileName: 'ramp-restated.csv',
        importedBy: 'x',
        source: 'ramp-migration',
        rates: {},
      });
      const after = await inventory(storage, { period: '2026-10' });
      const chatgpt = after.subscriptions.find((s) => s.product === 'ChatGPT')!;
      assert.deepEqual([chatgpt.charges, chatgpt.spend_usd], [1, '25']);
      assert.ok(
        !after.subscriptions.some((s) => s.vendor === 'Cursor'),
        'the restated days dropped Cursor on the 3rd',
      );
    });
  });
});

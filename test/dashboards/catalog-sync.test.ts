/**
 * model_prices (migration 0008) filled from the bundled genai-prices catalog, and the
 * model_alternatives view the savings panel joins: same provider and family, cheaper.
 */
import assert from 'node:assert/strict';
import { calcPrice } from '@pydantic/genai-prices';
import Decimal from 'decimal.js';
import { modelFamily } from '../../collector/src/storage/model-prices/family';
import { syncModelPrices } from '../../collector/src/storage/model-prices';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';

describe('catalog price sync', function () {
  this.timeout(60_000);
  let storage: Storage;
  const AT = new Date('2026-11-20T00:00:00Z');

  before(async () => {
    storage = await freshStorage();
  });
  after(async () => storage?.close());

  const query = async <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
    (
      await storage.client.query({
        query: sql,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_decimals: 1 },
      })
    ).json<T>();

  it('groups model tiers into families', () => {
    assert.equal(modelFamily('gpt-4o-mini'), 'gpt-4o');
    assert.equal(modelFamily('gpt-4o-2024-08-06'), 'gpt-4o');
    assert.equal(modelFamily('claude-3-5-haiku-20241022'), 'claude-3-5');
    assert.equal(modelFamily('claude-sonnet-4-5'), 'claude-4-5');
    assert.equal(modelFamily('gemini-2.5-flash-lite'), 'gemini-2.5');
    assert.notEqual(modelFamily('gpt-4.1-mini'), modelFamily('gpt-4o'));
  });

  it('stores list prices per million tokens that match the catalog’s own price calculation', async () => {
    const log: string[] = [];
    const n = await syncModelPrices(storage, (l) => log.push(l), AT);
    assert.equal(log.join('\n'), '');
    assert.ok(n > 100, `${n} models`);
    // A second sync (the next start) replaces, never duplicates.
    await syncModelPrices(storage, (l) => log.push(l), AT);
    const [counts] = await query<{ rows: string; keys: string }>(
      `SELECT count() AS rows, uniqExact(provider, model) AS keys FROM ${storage.database}.model_prices FINAL`,
    );
    assert.equal(Number(counts?.rows), n);
    assert.equal(Number(counts?.keys), n);
    for (const [provider, catalogProvider, model] of [
      ['openai', 'openai', 'gpt-4o'],
      ['openai', 'openai', 'gpt-4o-mini'],
      ['anthropic', 'anthropic', 'claude-3-5-sonnet'],
    ] as const) {
      const [row] = await query<{ input_mtok: string; output_mtok: string }>(
        `SELECT input_mtok, output_mtok FROM ${storage.database}.model_prices FINAL WHERE provider = '${provider}' AND model = '${model}'`,
      );
      const input = calcPrice({ input_tokens: 1_000_000 }, model, {
        providerId: catalogProvider,
        timestamp: AT,
      });
      const output = calcPrice({ output_tokens: 1_000_000 }, model, {
        providerId: catalogProvider,
        timestamp: AT,
      });
      assert.ok(row && input && output, model);
      assert.ok(
        new Decimal(row.input_mtok).eq(new Decimal(input.total_price).toSignificantDigits(12)),
        `${model} input`,
      );
      assert.ok(
        new Decimal(row.output_mtok).eq(new Decimal(output.total_price).toSignificantDigits(12)),
        `${model} output`,
      );
    }
  });

  it('offers cheaper models of the same provider and family only', async () => {
    const alternatives = await query<{ cheaper_model: string; family: string }>(
      `SELECT cheaper_model, family FROM ${storage.database}.model_alternatives WHERE provider = 'openai' AND model = 'gpt-4o' ORDER BY cheaper_model`,
    );
    const names = alternatives.map((a) => a.cheaper_model);
    assert.ok(names.includes('gpt-4o-mini'), names.join());
    assert.ok(!names.includes('gpt-4.1-mini'), 'another family');
    assert.ok(alternatives.every((a) => a.family === 'gpt-4o'));
    const none = await query(
      `SELECT * FROM ${storage.database}.model_alternatives WHERE provider = 'openai' AND model = 'gpt-4o-mini' AND cheaper_model = 'gpt-4o'`,
    );
    assert.deepEqual(none, []);
  });
});

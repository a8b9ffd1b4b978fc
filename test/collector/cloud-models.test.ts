/**
 * Cloud bills per model: Amazon Bedrock CUR usage types and Azure OpenAI meter names mapped to the
 * priced catalog's models through the maintained table, Google Cloud SKU descriptions through their
 * token-type phrase and the catalog's own model names (ingest/bills/cloud-models.ts), a line that
 * names no known model falling back to a per-day comparison, and the reconciliation saying which —
 * read from the fixtures, reconciled on the embedded engine to exact figures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BillImporter } from '../../collector/src/govern/bills/import';
import {
  azureModelOfMeter,
  bedrockModelOfUsageType,
  googleModelOfSku,
} from '../../collector/src/ingest/bills/cloud-models';
import { readBill } from '../../collector/src/ingest/bills/read';
import { reconcile, type ReconciliationReport } from '../../collector/src/read/reconciliation';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';
import { insertMeteredCalls } from '../support/metered-calls';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'bills');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const CUR = 'aws-cur2-bedrock-models-2026-11.csv';
const AZURE = 'azure-cost-export-models-2026-11.csv';
const GCP = 'gcp-billing-export-models-2026-11.jsonl';

describe('cloud bill lines named by model', () => {
  it('reads the model from Bedrock usage types (documented token-type suffixes); unknown segments name none', () => {
    assert.deepEqual(bedrockModelOfUsageType('USE1-Claude4.6Sonnet-input-tokens'), {
      model: 'anthropic.claude-sonnet-4-6',
    });
    assert.deepEqual(bedrockModelOfUsageType('USE1-Claude4.6Opus-output-tokens'), {
      model: 'anthropic.claude-opus-4-6',
    });
    assert.deepEqual(bedrockModelOfUsageType('USE1-Claude4.6Sonnet-cache-read-input-token-count'), {
      model: 'anthropic.claude-sonnet-4-6',
      pricing: 'cached',
    });
    assert.deepEqual(bedrockModelOfUsageType('USE1-Claude-Sonnet-4-input-tokens'), { model: '' });
    assert.deepEqual(bedrockModelOfUsageType('BoxUsage:m7g.large'), { model: '' });
  });

  it('reads the model from Azure OpenAI meter names, hyphens or spaces, batch and cached marked', () => {
    const read = (m: string) => azureModelOfMeter(m);
    assert.deepEqual(read('gpt-4o-0806-Inp-glbl Tokens'), { model: 'gpt-4o-2024-08-06' });
    assert.deepEqual(read('gpt 4o 0806 Inp Data Zone Tokens'), { model: 'gpt-4o-2024-08-06' });
    assert.deepEqual(read('gpt 4o 0806 cached Inp glbl Tokens'), {
      model: 'gpt-4o-2024-08-06',
      pricing: 'cached',
    });
    assert.deepEqual(read('gpt-4o-mini-0718-Batch-Inp-glbl Tokens'), {
      model: 'gpt-4o-mini-2024-07-18',
      pricing: 'batch',
    });
    assert.deepEqual(read('gpt 4o mini0718 BatchOutp DataZone Tokens'), {
      model: 'gpt-4o-mini-2024-07-18',
      pricing: 'batch',
    });
    assert.deepEqual(read('gpt-35-turbo4K-Inp-glbl Tokens'), { model: 'gpt-3.5-turbo' });
    assert.deepEqual(read('gpt-35-turbo16K-Inp-glbl Tokens'), { model: 'gpt-3.5-turbo-16k' });
    assert.deepEqual(read('gpt 4.5 0227 Inp glbl Tokens'), { model: '' });
    assert.deepEqual(read('D2s v5'), { model: '' });
  });

  it('reads the model from Google Cloud SKU descriptions (Vertex AI and Gemini API), cached and batch marked', () => {
    // Each description as read in a published SKU list or billing export (decision 0090):
    // description → model, pricing ('' names none: a name the catalog does not carry, storage by
    // the hour, a line that is not tokens).
    const cases: Array<[string, string, string?]> = [
      ['Gemini 2.5 Pro Text Input - Predictions', 'gemini-2.5-pro'],
      ['Gemini 2.5 Pro Text Output - Predictions', 'gemini-2.5-pro'],
      ['Gemini 2.5 Flash GA Text Input - Predictions', 'gemini-2.5-flash'],
      ['Gemini 2.5 Flash GA Thinking Text Output - Predictions', 'gemini-2.5-flash'],
      ['Gemini 2.5 Flash Text Output (Thinking On) - Predictions', 'gemini-2.5-flash'],
      ['Gemini 2.5 Flash Lite Text Input - Predictions', 'gemini-2.5-flash-lite'],
      ['Gemini 3.5 Flash Global Text Input - Predictions', 'gemini-3.5-flash'],
      ['Gemini 3.5 Flash Regional Text Output - Predictions', 'gemini-3.5-flash'],
      ['Gemini 2.0 Flash Text Input (Long) - Predictions', 'gemini-2.0-flash'],
      // Two catalog models are named `gemini 1.5 flash`: the one whose id is the name.
      ['Gemini 1.5 Flash Text Input - Predictions', 'gemini-1.5-flash'],
      ['Gemini 2.5 Flash GA Input Text Caching', 'gemini-2.5-flash', 'cached'],
      ['Gemini 2.5 Pro Input Text Caching (Long)', 'gemini-2.5-pro', 'cached'],
      ['Gemini 2.5 Flash Text Input - Batch Predictions', 'gemini-2.5-flash', 'batch'],
      ['Generate content input token count gemini 3.5 flash text', 'gemini-3.5-flash'],
      ['Generate content cached input token count gemini 3.5 flash text', 'gemini-3.5-flash', 'cached'],
      [
        'Generate content output token count gemini 2.5 flash short output text non-thinking',
        'gemini-2.5-flash',
      ],
      ['Gemini 3 Flash Text Input - Predictions', ''],
      ['Generate_content text input token count for gemini 3 pro short', ''],
      ['Gemini 3.1 Flash Image Text Input - Predictions', ''],
      ['Gemini 3 Flash Text Input Caching Storage', ''],
      ['Gemini 3.6 Flash Image Input Caching Storage', ''],
      ['Grounding with Google Search on Gemini 3', ''],
      ['Veo Generation 720p with Audio', ''],
      ['N2 Instance Core', ''],
    ];
    assert.deepEqual(
      cases.map(([description]) => [description, googleModelOfSku(description)]),
      cases.map(([description, model, pricing]) => [description, pricing ? { model, pricing } : { model }]),
    );
  });

  it('parses the fixtures with the model on each line the table knows', () => {
    const cur = readBill(fixture(CUR));
    assert.equal(cur.rowsSkipped, 1);
    assert.deepEqual(
      cur.lines.map((l) => [l.day, l.model, l.pricing, l.amount]),
      [
        ['2026-11-01', 'anthropic.claude-sonnet-4-6', 'standard', '3'],
        ['2026-11-01', 'anthropic.claude-sonnet-4-6', 'standard', '9'],
        ['2026-11-01', 'anthropic.claude-opus-4-6', 'standard', '5'],
        ['2026-11-02', 'anthropic.claude-sonnet-4-6', 'standard', '2'],
        ['2026-11-02', 'anthropic.claude-sonnet-4-6', 'cached', '0.3'],
        ['2026-11-03', 'anthropic.claude-sonnet-4-6', 'standard', '4'],
        ['2026-11-03', '', 'standard', '1.5'],
      ],
    );
    const azure = readBill(fixture(AZURE));
    assert.deepEqual(
      azure.lines.map((l) => [l.day, l.model, l.pricing, l.amount, l.currency]),
      [
        ['2026-11-01', 'gpt-4o-2024-08-06', 'standard', '2.5', 'USD'],
        ['2026-11-01', 'gpt-4o-2024-08-06', 'standard', '5', 'USD'],
        ['2026-11-01', 'gpt-4o-2024-08-06', 'cached', '0.25', 'USD'],
        ['2026-11-02', 'gpt-4o-mini-2024-07-18', 'batch', '0.4', 'USD'],
        ['2026-11-02', '', 'standard', '0.75', 'USD'],
      ],
    );
    const gcp = readBill(fixture(GCP));
    assert.deepEqual(gcp.problems, []);
    assert.deepEqual(
      gcp.lines.map((l) => [l.provider, l.day, l.model, l.charge, l.pricing, l.amount]),
      [
        ['gcp.vertex_ai', '2026-11-01', 'gemini-2.5-pro', 'usage', 'standard', '2.5'],
        ['gcp.vertex_ai', '2026-11-01', 'gemini-2.5-pro', 'usage', 'standard', '5'],
        ['gcp.vertex_ai', '2026-11-01', 'gemini-2.5-flash', 'usage', 'standard', '0.3'],
        ['gcp.vertex_ai', '2026-11-01', 'gemini-2.5-flash', 'usage', 'standard', '0.5'],
        ['gcp.vertex_ai', '2026-11-02', 'gemini-2.5-pro', 'usage', 'standard', '1.25'],
        ['gcp.vertex_ai', '2026-11-02', 'gemini-2.5-pro', 'usage', 'cached', '0.25'],
        ['gcp.vertex_ai', '2026-11-02', 'gemini-2.5-flash', 'usage', 'batch', '0.15'],
        ['gcp.vertex_ai', '2026-11-03', 'gemini-2.5-pro', 'usage', 'standard', '2.5'],
        ['gcp.vertex_ai', '2026-11-03', '', 'usage', 'standard', '1'],
        ['gcp.vertex_ai', '2026-11-03', '', 'usage', 'standard', '0.2'],
        ['gcp.gemini', '2026-11-01', 'gemini-3.5-flash', 'usage', 'standard', '1.5'],
        ['gcp.gemini', '2026-11-01', 'gemini-3.5-flash', 'usage', 'cached', '0.15'],
        ['gcp.gemini', '2026-11-01', 'gemini-2.5-flash', 'usage', 'free_tier', '2'],
      ],
    );
  });
});

describe('reconciliation of cloud bills per model', function () {
  this.timeout(120_000);
  let storage: Storage;
  let report: ReconciliationReport;

  /** provider, model as priced, instant, cost */
  const METERED: Array<[string, string, string, string]> = [
    ['aws.bedrock', 'anthropic.claude-sonnet-4-6', '2026-11-01T08:00:00Z', '12.00'],
    ['aws.bedrock', 'anthropic.claude-sonnet-4-6', '2026-11-02T08:00:00Z', '2.30'],
    ['aws.bedrock', 'anthropic.claude-sonnet-4-6', '2026-11-03T08:00:00Z', '4.00'],
    ['aws.bedrock', 'anthropic.claude-3-5-haiku', '2026-11-03T09:00:00Z', '1.50'], // no line names it that day
    ['azure.ai.openai', 'gpt-4o', '2026-11-01T10:00:00Z', '7.75'],
    ['azure.ai.openai', 'gpt-4o-mini', '2026-11-02T10:00:00Z', '0.80'], // list price; billed at batch
    ['azure.ai.openai', 'gpt-4.5-preview', '2026-11-02T11:00:00Z', '0.75'],
    ['gcp.vertex_ai', 'gemini-2.5-pro', '2026-11-01T12:00:00Z', '7.50'],
    ['gcp.vertex_ai', 'gemini-2.5-flash', '2026-11-01T12:00:00Z', '0.80'],
    ['gcp.vertex_ai', 'gemini-2.5-pro', '2026-11-02T12:00:00Z', '1.50'],
    ['gcp.vertex_ai', 'gemini-2.5-flash', '2026-11-02T12:00:00Z', '0.30'], // list price; billed at batch
    ['gcp.vertex_ai', 'gemini-2.5-pro', '2026-11-03T12:00:00Z', '2.50'],
    ['gcp.vertex_ai', 'gemini-3-flash-preview', '2026-11-03T12:00:00Z', '1.00'], // no line names it
    ['gcp.gemini', 'gemini-3.5-flash', '2026-11-01T12:00:00Z', '1.65'],
    ['gcp.gemini', 'gemini-2.5-flash', '2026-11-01T12:00:00Z', '2.50'], // 0.50 of it free tier
  ];

  before(async () => {
    storage = await freshStorage();
    await insertMeteredCalls(
      storage,
      METERED.map(([provider, model, at, cost]) => ({ provider, model, service: 'docs-search', at, cost })),
      'c',
    );
    const importer = new BillImporter(storage);
    for (const name of [CUR, AZURE, GCP])
      await importer.import({ bytes: fixture(name), fileName: name, importedBy: 'x' });
    report = await reconcile(storage, { period: '2026-11' }, undefined, new Date('2026-12-06T00:00:00Z'));
  });
  after(async () => storage?.close());

  const rows = (provider: string) =>
    report.lines
      .filter((l) => l.provider === provider)
      .map((l) => [l.day, l.model, l.status, l.explanation, l.billed_usd, l.metered_usd]);

  it('compares Bedrock per model where the usage type names one, per day for the rest of that day', () => {
    assert.deepEqual(rows('aws.bedrock'), [
      ['2026-11-01', 'regional.anthropic.claude-opus-4-6-v1:0', 'billed_only', '', '5', '0'],
      ['2026-11-01', 'regional.anthropic.claude-sonnet-4-6-v1:0', 'matched', '', '12', '12'],
      ['2026-11-02', 'regional.anthropic.claude-sonnet-4-6-v1:0', 'matched', '', '2.3', '2.3'],
      ['2026-11-03', '', 'matched', '', '1.5', '1.5'],
      ['2026-11-03', 'regional.anthropic.claude-sonnet-4-6-v1:0', 'matched', '', '4', '4'],
    ]);
    const aws = report.providers.find((p) => p.provider === 'aws.bedrock')!;
    assert.deepEqual(aws.compared, { per_model: 4, per_day: 1 });
    assert.deepEqual([aws.billed_usd, aws.covered_usd, aws.coverage], ['24.8', '19.8', '0.798387']);
  });

  it('compares Azure OpenAI per model from the meter names; a batch meter explains the difference', () => {
    assert.deepEqual(rows('azure.ai.openai'), [
      ['2026-11-01', 'gpt-4o', 'matched', '', '7.75', '7.75'],
      ['2026-11-02', '', 'matched', '', '0.75', '0.75'],
      ['2026-11-02', 'gpt-4o-mini', 'amount_mismatch', 'batch_discount', '0.4', '0.8'],
    ]);
    const azure = report.providers.find((p) => p.provider === 'azure.ai.openai')!;
    assert.deepEqual(azure.compared, { per_model: 2, per_day: 1 });
    assert.equal(azure.metered_not_billed_by_reason.batch_discount, '0.4');
  });

  it('compares Google Cloud per model from the SKU descriptions; lines that name none per day', () => {
    assert.deepEqual(rows('gcp.vertex_ai'), [
      ['2026-11-01', 'gemini-2.5-flash', 'matched', '', '0.8', '0.8'],
      ['2026-11-01', 'gemini-2.5-pro', 'matched', '', '7.5', '7.5'],
      ['2026-11-02', 'gemini-2.5-flash', 'amount_mismatch', 'batch_discount', '0.15', '0.3'],
      ['2026-11-02', 'gemini-2.5-pro', 'matched', '', '1.5', '1.5'],
      // Gemini 3 Flash (not a catalog name) and its cache storage by the hour, against the meter's
      // models no line of the day names: the storage is what the meter cannot see.
      ['2026-11-03', '', 'amount_mismatch', '', '1.2', '1'],
      ['2026-11-03', 'gemini-2.5-pro', 'matched', '', '2.5', '2.5'],
    ]);
    const vertex = report.providers.find((p) => p.provider === 'gcp.vertex_ai')!;
    assert.deepEqual(vertex.compared, { per_model: 5, per_day: 1 });
    assert.equal(vertex.metered_not_billed_by_reason.batch_discount, '0.15');
    // The Gemini API (AI Studio keys) bills on its own service, named the same way.
    assert.deepEqual(rows('gcp.gemini'), [
      ['2026-11-01', 'gemini-2.5-flash', 'amount_mismatch', 'free_tier', '2', '2.5'],
      ['2026-11-01', 'gemini-3.5-flash', 'matched', '', '1.65', '1.65'],
    ]);
    assert.deepEqual(report.providers.find((p) => p.provider === 'gcp.gemini')!.compared, {
      per_model: 2,
      per_day: 0,
    });
  });
});

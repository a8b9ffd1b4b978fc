/**
 * tokenledger's Google Gen AI instrumentation, run the way users run it: unmodified fixture apps in
 * child processes with `node --require tokenledger/register` (CommonJS) or `--import` (ESM), on
 * @google/genai 3.x (root) and 1.x (test/fixtures/sdk-previous), against a fake Gemini server; spans
 * arrive at a local OTLP/HTTP JSON sink and are priced by the collector's own pipeline.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { BudgetExceededError } from '../../instrumentation/src/errors';
import { setGuard, type GuardedCall } from '../../instrumentation/src/guard/hook';
import { GoogleGenAIInstrumentation } from '../../instrumentation/src/instrumentations/google-genai/instrumentation';
import { startFakeGemini, type FakeGemini, type GeminiUsage } from '../support/fake-gemini';
import { type OtlpSink, type PlainValue, type SinkSpan } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import {
  APPS_DIR,
  matchingSpans,
  ofScope,
  REPO_ROOT,
  runCompared as compareRuns,
  runOk,
  sinkEnv,
  type AppRun,
  type AppVariant,
  assertErrorSpan,
  useServers,
} from './helpers';
import { useInProcessInstrumentation } from './in-process';
import {
  GeminiOperation,
  paramsWithVerdict,
  setUsageAttributes,
} from '../../instrumentation/src/instrumentations/google-genai/utils';

const PREVIOUS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'sdk-previous');

interface GeminiVariant extends AppVariant {
  major: 1 | 3;
}

const VARIANTS: GeminiVariant[] = [
  { label: '@google/genai 3.x CJS', cwd: APPS_DIR, app: 'gemini-app.cjs', flag: '--require', major: 3 },
  { label: '@google/genai 3.x ESM', cwd: APPS_DIR, app: 'gemini-app.mjs', flag: '--import', major: 3 },
  { label: '@google/genai 1.x CJS', cwd: PREVIOUS_DIR, app: 'gemini-app.cjs', flag: '--require', major: 1 },
  { label: '@google/genai 1.x ESM', cwd: PREVIOUS_DIR, app: 'gemini-app.mjs', flag: '--import', major: 1 },
];

const SCOPE = 'tokenledger/instrumentation-google-genai';
const SPAN_KIND_CLIENT = 3;

/** A thinking model with cached content. */
const FLASH_25_USAGE: GeminiUsage = {
  prompt: 1200,
  cached: 1000,
  candidates: 300,
  thoughts: 200,
  toolUse: 0,
};
/**
 * gemini-2.5-flash list prices in @pydantic/genai-prices (USD per million tokens): input 0.30,
 * cache read 0.03, output 2.50 (no separate thinking price: thoughts are billed as output).
 *   (1200 − 1000) × 0.30 + 1000 × 0.03 + (300 + 200) × 2.50 = 60 + 30 + 1250 = 1340 µ$
 */
const FLASH_25_COST = '0.00134';

/** A streamed call whose prompt includes tool-use tokens (search / code execution results). */
const FLASH_20_USAGE: GeminiUsage = { prompt: 1000, cached: 0, candidates: 400, thoughts: 0, toolUse: 200 };
/**
 * gemini-2.0-flash: input 0.10, output 0.40 per million.
 *   (1000 + 200) × 0.10 + 400 × 0.40 = 120 + 160 = 280 µ$
 */
const FLASH_20_COST = '0.00028';

const EMBEDDING_TOKENS = 5000;
/** gemini-embedding-001: input 0.15 per million. 5000 × 0.15 = 750 µ$ */
const EMBEDDING_COST = '0.00075';

let fake: FakeGemini;
let sink: OtlpSink;

function env(): Record<string, string | undefined> {
  return {
    GEMINI_BASE_URL: fake.url,
    GOOGLE_API_KEY: undefined,
    GEMINI_API_KEY: undefined,
    GOOGLE_GENAI_USE_VERTEXAI: undefined,
    ...sinkEnv(sink),
  };
}

function script(usageAtEndOnly = false): void {
  fake.reset();
  fake.setUsage(FLASH_25_USAGE, 'gemini-2.5-flash');
  fake.setUsage(FLASH_20_USAGE, 'gemini-2.0-flash');
  fake.setUsage({ prompt: EMBEDDING_TOKENS }, 'gemini-embedding-001');
  fake.setUsageAtEndOnly(usageAtEndOnly);
  sink.reset();
}

async function run(
  variant: AppVariant,
  scenario: string,
  instrument: boolean,
  usageAtEndOnly: boolean,
): Promise<AppRun> {
  script(usageAtEndOnly);
  return runOk(variant, scenario, { instrument, env: env() });
}

/** Runs the scenario without, then with tokenledger; asserts the app's output is identical. */
function runCompared(variant: AppVariant, scenario: string, usageAtEndOnly = false): Promise<AppRun> {
  return compareRuns(variant, scenario, (instrument) => run(variant, scenario, instrument, usageAtEndOnly));
}

async function ourSpans(count: number): Promise<SinkSpan[]> {
  const ours = await matchingSpans(sink, ofScope(SCOPE), count);
  // Only our spans: nothing else in the process reports GenAI calls.
  assert.equal(sink.spans.length, count);
  return ours;
}

function generateAttrs(provider: string, n: number): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'generate_content',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': 'gemini-2.5-flash',
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'gen_ai.request.stream': false,
    'gen_ai.request.max_tokens': 1024,
    'gen_ai.request.temperature': 0.2,
    'gen_ai.response.id': `fake-gemini-${n}`,
    'gen_ai.response.model': 'gemini-2.5-flash',
    'gen_ai.response.finish_reasons': ['STOP'],
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 500,
    'gen_ai.usage.cache_read.input_tokens': 1000,
    'gen_ai.usage.reasoning.output_tokens': 200,
  };
}

function streamAttrs(provider: string, n: number): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'generate_content',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': 'gemini-2.0-flash',
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'gen_ai.request.stream': true,
    'gen_ai.response.id': `fake-gemini-${n}`,
    'gen_ai.response.model': 'gemini-2.0-flash',
    'gen_ai.response.finish_reasons': ['STOP'],
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 400,
  };
}

function embedAttrs(provider: string, withUsage: boolean): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'embeddings',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': 'gemini-embedding-001',
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    ...(withUsage ? { 'gen_ai.usage.input_tokens': EMBEDDING_TOKENS } : {}),
  };
}

describe('tokenledger Google Gen AI instrumentation (child processes)', function () {
  this.timeout(90_000);

  useServers(startFakeGemini, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      it('generateContent (thinking + cache), generateContentStream, embedContent: exact spans and dollars, app output unchanged', async () => {
        const r = await runCompared(variant, 'all');
        // The app saw the SDK's own objects: every chunk, with its own usageMetadata.
        assert.equal(r.lines.length, 1 + 5 + 1);
        const [gen, stream, emb] = await ourSpans(3);
        for (const s of [gen!, stream!, emb!]) {
          assert.equal(s.kind, SPAN_KIND_CLIENT);
          assert.equal(s.status.code, 0);
          assert.equal(s.resource['service.name'], 'fixture-app');
        }
        assert.equal(gen!.name, 'generate_content gemini-2.5-flash');
        assert.deepEqual(gen!.attributes, generateAttrs('gcp.gemini', 1));
        assert.deepEqual(stream!.attributes, streamAttrs('gcp.gemini', 2));
        assert.equal(emb!.name, 'embeddings gemini-embedding-001');
        // 1.x drops batchEmbedContents' usageMetadata before the app (and tokenledger) see it.
        const embeddingUsage = variant.major === 3;
        assert.deepEqual(emb!.attributes, embedAttrs('gcp.gemini', embeddingUsage));

        const paths = fake.requests.map((q) => `${q.path}${q.query ? `?${q.query}` : ''}`);
        const v = variant.major === 3 ? 'v1' : 'v1beta';
        assert.deepEqual(paths, [
          `/${v}/models/gemini-2.5-flash:generateContent`,
          `/${v}/models/gemini-2.0-flash:streamGenerateContent?alt=sse`,
          `/${v}/models/gemini-embedding-001:batchEmbedContents`,
        ]);

        const calls = pricedCallsFrom(sink);
        assert.deepEqual(
          calls.map((c) => [c.provider, c.pricedProvider, c.pricedModel, c.costUsd]),
          [
            ['gcp.gemini', 'google', 'gemini-2.5-flash', FLASH_25_COST],
            ['gcp.gemini', 'google', 'gemini-2.0-flash', FLASH_20_COST],
            // 1.x: no token count to price; the call is still recorded, at $0.
            ['gcp.gemini', 'google', 'gemini-embedding-001', embeddingUsage ? EMBEDDING_COST : '0'],
          ],
        );
        assert.deepEqual(
          calls.map((c) => c.inputTokens),
          [1200, 1200, embeddingUsage ? EMBEDDING_TOKENS : 0],
        );
        assert.equal(calls[0]!.inputTokens, 1200);
        assert.equal(calls[0]!.cacheReadTokens, 1000);
        assert.equal(calls[0]!.outputTokens, 500);
        assert.equal(calls[0]!.reasoningTokens, 200);
      });

      it('a stream whose usage arrives only on its last chunk', async () => {
        const r = await runCompared(variant, 'all', true);
        const chunkUsages = r.lines.slice(1, 6).map((l) => (l as { usage: unknown }).usage);
        assert.deepEqual(chunkUsages.slice(0, 4), [null, null, null, null]);
        const [, stream] = await ourSpans(3);
        assert.deepEqual(stream!.attributes, streamAttrs('gcp.gemini', 2));
        assert.equal(pricedCallsFrom(sink)[1]!.costUsd, FLASH_20_COST);
      });

      it('a stream the app stops reading is recorded as cancelled, with the usage seen so far', async () => {
        const r = await runCompared(variant, 'stream-break');
        assert.equal(r.lines.length, 2);
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'cancelled');
        // Chunks before the last carry the prompt count only.
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], 1000);
        assert.equal(s!.attributes['gen_ai.usage.output_tokens'], undefined);
      });

      it('records API errors (HTTP 429) and the app gets the same error', async () => {
        const r = await runCompared(variant, 'error');
        assert.deepEqual(r.lines, [{ error: 'ApiError', status: 429 }]);
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'ApiError', 429);
        assert.equal(s!.attributes['gen_ai.request.model'], 'fail-429');
      });
    });
  }

  for (const variant of [VARIANTS[0]!, VARIANTS[3]!]) {
    it(`${variant.label}: a Vertex AI client is gcp.vertex_ai, priced from Google's list prices`, async () => {
      await runCompared(variant, 'vertex');
      const [gen, stream, emb] = await ourSpans(3);
      assert.deepEqual(gen!.attributes, generateAttrs('gcp.vertex_ai', 1));
      assert.deepEqual(stream!.attributes, streamAttrs('gcp.vertex_ai', 2));
      // Vertex's :predict reports tokens per embedding (statistics.token_count): summed.
      assert.deepEqual(emb!.attributes, embedAttrs('gcp.vertex_ai', true));
      assert.ok(fake.requests.every((q) => q.path.includes('/publishers/google/models/')));
      assert.deepEqual(
        pricedCallsFrom(sink).map((c) => [c.provider, c.pricedModel, c.costUsd]),
        [
          ['gcp.vertex_ai', 'gemini-2.5-flash', FLASH_25_COST],
          ['gcp.vertex_ai', 'gemini-2.0-flash', FLASH_20_COST],
          ['gcp.vertex_ai', 'gemini-embedding-001', EMBEDDING_COST],
        ],
      );
    });
  }
});

describe('Google Gen AI helpers', () => {
  it('a guard verdict rewrites model and config.maxOutputTokens on copies, never the app objects', () => {
    const config = { maxOutputTokens: 4096, temperature: 0.5 };
    const params = { model: 'gemini-2.5-pro', contents: 'hi', config };
    const sent = paramsWithVerdict(GeminiOperation.Generate, params, {
      model: 'gemini-2.5-flash',
      maxTokens: 512,
    });
    assert.deepEqual(sent, {
      model: 'gemini-2.5-flash',
      contents: 'hi',
      config: { maxOutputTokens: 512, temperature: 0.5 },
    });
    assert.deepEqual(params, {
      model: 'gemini-2.5-pro',
      contents: 'hi',
      config: { maxOutputTokens: 4096, temperature: 0.5 },
    });
    assert.notEqual(sent.config, config);
    // A clamp on a call without config adds one; embeddings get no output cap.
    assert.deepEqual(paramsWithVerdict(GeminiOperation.Stream, { model: 'm' }, { maxTokens: 64 }), {
      model: 'm',
      config: { maxOutputTokens: 64 },
    });
    assert.deepEqual(paramsWithVerdict(GeminiOperation.Embed, { model: 'e' }, { maxTokens: 64 }), {
      model: 'e',
    });
    assert.equal(paramsWithVerdict(GeminiOperation.Generate, params, {}), params);
  });

  it('usageMetadata → span contract: input includes tool-use prompt tokens, output includes thoughts', () => {
    const attrs = {};
    setUsageAttributes(attrs, {
      promptTokenCount: 900,
      cachedContentTokenCount: 512,
      toolUsePromptTokenCount: 100,
      candidatesTokenCount: 40,
      thoughtsTokenCount: 60,
      totalTokenCount: 1100,
    });
    assert.deepEqual(attrs, {
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 100,
      'gen_ai.usage.cache_read.input_tokens': 512,
      'gen_ai.usage.reasoning.output_tokens': 60,
    });
  });
});

describe('Google Gen AI instrumentation and the policy guard (real SDK, in-process)', function () {
  this.timeout(30_000);
  /* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
  const sdk = require('@google/genai') as any;
  const { finishedSpans } = useInProcessInstrumentation(
    new GoogleGenAIInstrumentation({ enabled: false }),
    sdk,
  );
  const params = { model: 'gemini-2.5-pro', contents: 'hi', config: { maxOutputTokens: 4096 } };
  let gemini: FakeGemini;
  let ai: any;
  let guarded: GuardedCall[];

  before(async () => {
    gemini = await startFakeGemini();
    ai = new sdk.GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: gemini.url } });
  });
  beforeEach(() => {
    gemini.reset();
    guarded = [];
  });
  afterEach(() => setGuard(undefined));
  after(async () => {
    await gemini?.close();
  });

  const block = (): void =>
    setGuard({
      check(call) {
        guarded.push(call);
        throw new BudgetExceededError('team budget spent', 'search-monthly');
      },
    });

  it('blocked: generateContent() rejects with the policy error, nothing is sent, the span says blocked', async () => {
    block();
    await assert.rejects(ai.models.generateContent(params), BudgetExceededError);
    assert.equal(gemini.requests.length, 0);
    assert.deepEqual(
      guarded.map((c) => [c.provider, c.operation, c.model, c.maxTokens]),
      [['gcp.gemini', 'generate_content', 'gemini-2.5-pro', 4096]],
    );
    const [span] = await finishedSpans();
    assert.equal(span!.attributes['tokenledger.enforcement'], 'blocked');
    assert.equal(span!.attributes['tokenledger.policy'], 'search-monthly');
    assert.equal(span!.attributes['error.type'], 'BudgetExceededError');
  });

  it('blocked: generateContentStream() and embedContent() reject too', async () => {
    block();
    await assert.rejects(ai.models.generateContentStream(params), BudgetExceededError);
    await assert.rejects(
      ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['a'] }),
      BudgetExceededError,
    );
    assert.equal(gemini.requests.length, 0);
    assert.deepEqual(
      guarded.map((c) => [c.operation, c.model, c.maxTokens]),
      [
        ['generate_content', 'gemini-2.5-pro', 4096],
        ['embeddings', 'gemini-embedding-001', undefined],
      ],
    );
  });

  it('verdict: model downgraded and maxOutputTokens clamped on the wire; the app objects are untouched', async () => {
    setGuard({
      check: () => ({
        model: 'gemini-2.5-flash',
        maxTokens: 256,
        attributes: { 'tokenledger.enforcement': 'downgraded', 'tokenledger.original_model': params.model },
      }),
    });
    const before = structuredClone(params);
    const response = await ai.models.generateContent(params);
    assert.equal(response.modelVersion, 'gemini-2.5-flash');
    assert.deepEqual(params, before);
    assert.equal(gemini.requests[0]!.path, '/v1/models/gemini-2.5-flash:generateContent');
    assert.deepEqual(gemini.requests[0]!.body!.generationConfig, { maxOutputTokens: 256 });
    const [span] = await finishedSpans();
    assert.equal(span!.attributes['tokenledger.enforcement'], 'downgraded');
    assert.equal(span!.attributes['gen_ai.request.model'], 'gemini-2.5-pro');
    assert.equal(span!.attributes['gen_ai.response.model'], 'gemini-2.5-flash');
  });
  /* eslint-enable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
});

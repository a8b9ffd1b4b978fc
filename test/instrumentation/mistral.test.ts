/**
 * tokenledger's Mistral instrumentation, run the way users run it: unmodified fixture apps in child
 * processes with `node --require tokenledger/register` (CommonJS) or `--import` (ESM), on
 * @mistralai/mistralai 2.x (root; ESM-only, which a CommonJS app loads through Node's require(esm))
 * and 1.x (test/fixtures/sdk-previous; CommonJS), against a fake Mistral server; spans arrive at a
 * local OTLP/HTTP JSON sink and are priced by the collector's own pipeline.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { BudgetExceededError } from '../../instrumentation/src/errors';
import { setGuard, type GuardedCall } from '../../instrumentation/src/guard/hook';
import { MistralInstrumentation } from '../../instrumentation/src/instrumentations/mistral/instrumentation';
import { startFakeMistral, type FakeMistral, type MistralUsage } from '../support/fake-mistral';
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
  MistralOperation,
  requestWithVerdict,
  setUsageAttributes,
} from '../../instrumentation/src/instrumentations/mistral/utils';

const PREVIOUS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'sdk-previous');

const VARIANTS: AppVariant[] = [
  { label: '@mistralai/mistralai 2.x CJS', cwd: APPS_DIR, app: 'mistral-app.cjs', flag: '--require' },
  { label: '@mistralai/mistralai 2.x ESM', cwd: APPS_DIR, app: 'mistral-app.mjs', flag: '--import' },
  { label: '@mistralai/mistralai 1.x CJS', cwd: PREVIOUS_DIR, app: 'mistral-app.cjs', flag: '--require' },
  { label: '@mistralai/mistralai 1.x ESM', cwd: PREVIOUS_DIR, app: 'mistral-app.mjs', flag: '--import' },
];

const SCOPE = 'tokenledger/instrumentation-mistral';
const SPAN_KIND_CLIENT = 3;

const LARGE_USAGE: MistralUsage = { prompt: 2000, cached: 1500, completion: 500 };
/**
 * mistral-large-2512 list prices in @pydantic/genai-prices (USD per million tokens): input 0.50,
 * cache read 0.05, output 1.50. prompt_tokens includes the cached tokens:
 *   (2000 − 1500) × 0.50 + 1500 × 0.05 + 500 × 1.50 = 250 + 75 + 750 = 1075 µ$
 */
const LARGE_COST = '0.001075';

const SMALL_USAGE: MistralUsage = { prompt: 3000, cached: 0, completion: 1000 };
/** mistral-small-latest: input 0.10, output 0.30 per million. 3000 × 0.10 + 1000 × 0.30 = 600 µ$ */
const SMALL_COST = '0.0006';

const EMBED_USAGE: MistralUsage = { prompt: 4000, cached: 0, completion: 0 };
/** mistral-embed: input 0.10 per million. 4000 × 0.10 = 400 µ$ */
const EMBED_COST = '0.0004';

let fake: FakeMistral;
let sink: OtlpSink;

function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    MISTRAL_SERVER_URL: fake.url,
    MISTRAL_API_KEY: undefined,
    MISTRAL_SDK_TELEMETRY: undefined,
    ...sinkEnv(sink),
    ...extra,
  };
}

async function run(
  variant: AppVariant,
  scenario: string,
  instrument: boolean,
  extraEnv: Record<string, string> = {},
): Promise<AppRun> {
  fake.reset();
  fake.setUsage(LARGE_USAGE, 'mistral-large-2512');
  fake.setUsage(SMALL_USAGE, 'mistral-small-latest');
  fake.setUsage(EMBED_USAGE, 'mistral-embed');
  sink.reset();
  return runOk(variant, scenario, { instrument, env: env(extraEnv) });
}

/** Runs the scenario without, then with tokenledger; asserts the app's output is identical. */
function runCompared(
  variant: AppVariant,
  scenario: string,
  extraEnv: Record<string, string> = {},
): Promise<AppRun> {
  return compareRuns(variant, scenario, (instrument) => run(variant, scenario, instrument, extraEnv));
}

async function ourSpans(count: number): Promise<SinkSpan[]> {
  const ours = await matchingSpans(sink, ofScope(SCOPE), count);
  // Only ours: the SDK's own tracing hook stays off unless MISTRAL_SDK_TELEMETRY asks for it.
  assert.equal(sink.spans.length, count);
  return ours;
}

function common(model: string): Record<string, PlainValue> {
  return {
    'gen_ai.provider.name': 'mistral_ai',
    'gen_ai.request.model': model,
    'server.address': '127.0.0.1',
    'server.port': fake.port,
  };
}

function completeAttrs(n: number): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    ...common('mistral-large-2512'),
    'gen_ai.request.stream': false,
    'gen_ai.request.max_tokens': 512,
    'gen_ai.request.temperature': 0.3,
    'gen_ai.response.id': `fake-mistral-${n}`,
    'gen_ai.response.model': 'mistral-large-2512',
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': 2000,
    'gen_ai.usage.output_tokens': 500,
    'gen_ai.usage.cache_read.input_tokens': 1500,
  };
}

function streamAttrs(n: number): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    ...common('mistral-small-latest'),
    'gen_ai.request.stream': true,
    'gen_ai.response.id': `fake-mistral-${n}`,
    'gen_ai.response.model': 'mistral-small-latest',
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': 3000,
    'gen_ai.usage.output_tokens': 1000,
  };
}

describe('tokenledger Mistral instrumentation (child processes)', function () {
  this.timeout(90_000);

  useServers(startFakeMistral, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      it('chat.complete (cached prompt), chat.stream, embeddings.create: exact spans and dollars, app output unchanged', async () => {
        const r = await runCompared(variant, 'all');
        // Every stream event reached the app; usage only on the last chunk.
        const chunks = r.lines.slice(1, 7) as Array<{ usage: unknown }>;
        assert.equal(chunks.length, 6);
        assert.deepEqual(
          chunks.slice(0, 5).map((c) => c.usage),
          [null, null, null, null, null],
        );
        const [complete, stream, emb] = await ourSpans(3);
        for (const s of [complete!, stream!, emb!]) {
          assert.equal(s.kind, SPAN_KIND_CLIENT);
          assert.equal(s.status.code, 0);
          assert.equal(s.resource['service.name'], 'fixture-app');
        }
        assert.equal(complete!.name, 'chat mistral-large-2512');
        assert.deepEqual(complete!.attributes, completeAttrs(1));
        assert.deepEqual(stream!.attributes, streamAttrs(2));
        assert.equal(emb!.name, 'embeddings mistral-embed');
        assert.deepEqual(emb!.attributes, {
          'gen_ai.operation.name': 'embeddings',
          ...common('mistral-embed'),
          'gen_ai.response.id': 'fake-mistral-3',
          'gen_ai.response.model': 'mistral-embed',
          'gen_ai.usage.input_tokens': 4000,
          'gen_ai.usage.output_tokens': 0,
        });
        assert.deepEqual(
          fake.requests.map((q) => [q.path, q.body?.stream ?? false]),
          [
            ['/v1/chat/completions', false],
            ['/v1/chat/completions', true],
            ['/v1/embeddings', false],
          ],
        );

        assert.deepEqual(
          pricedCallsFrom(sink).map((c) => [c.provider, c.pricedProvider, c.pricedModel, c.costUsd]),
          [
            ['mistral_ai', 'mistral', 'mistral-large-2512', LARGE_COST],
            ['mistral_ai', 'mistral', 'mistral-small-latest', SMALL_COST],
            ['mistral_ai', 'mistral', 'mistral-embed', EMBED_COST],
          ],
        );
      });

      it('chat.parse() and chat.parseStream() (structured output) are metered like complete() and stream()', async () => {
        await runCompared(variant, 'structured');
        const [parse, parseStream] = await ourSpans(2);
        assert.deepEqual(parse!.attributes, completeAttrs(1));
        assert.deepEqual(parseStream!.attributes, streamAttrs(2));
        assert.deepEqual(
          pricedCallsFrom(sink).map((c) => c.costUsd),
          [LARGE_COST, SMALL_COST],
        );
      });

      it('a stream read with getReader() is observed too', async () => {
        const r = await runCompared(variant, 'stream-reader');
        assert.equal(r.lines.length, 6);
        const [s] = await ourSpans(1);
        assert.deepEqual(s!.attributes, streamAttrs(1));
        assert.equal(pricedCallsFrom(sink)[0]!.costUsd, SMALL_COST);
      });

      it('a stream the app stops reading is recorded as cancelled', async () => {
        const r = await runCompared(variant, 'stream-break');
        assert.equal(r.lines.length, 2);
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'cancelled');
        assert.equal(s!.attributes['gen_ai.response.id'], 'fake-mistral-1');
        // Usage comes on the last chunk only, which the app never read.
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], undefined);
      });

      it('records API errors (HTTP 429) and the app gets the same error', async () => {
        const r = await runCompared(variant, 'error');
        const seen = r.lines[0] as { error: string; status: number };
        assert.equal(seen.status, 429);
        const [s] = await ourSpans(1);
        assertErrorSpan(s, seen.error, 429);
        assert.equal(s!.attributes['gen_ai.request.model'], 'fail-429');
        assert.equal(fake.requests.length, 1);
      });
    });
  }
});

describe('Mistral 2.x with its own tracing on (MISTRAL_SDK_TELEMETRY=global)', function () {
  this.timeout(90_000);

  useServers(startFakeMistral, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS.slice(0, 2)) {
    it(`${variant.label}: without an app tracer provider the SDK's tracing stays a no-op, and each call is priced once`, async () => {
      // The SDK traces through the global tracer provider; tokenledger registers none (decision
      // 0039), so only tokenledger's spans are exported, as in an app without OpenTelemetry.
      await runCompared(variant, 'all', { MISTRAL_SDK_TELEMETRY: 'global' });
      await sink.waitForSpans(3, 5_000);
      assert.deepEqual(
        sink.spans.filter((s) => s.scope.name !== SCOPE).map((s) => s.name),
        [],
      );
      assert.deepEqual(
        pricedCallsFrom(sink).map((c) => [c.source, c.requestModel, c.costUsd]),
        [
          [SCOPE, 'mistral-large-2512', LARGE_COST],
          [SCOPE, 'mistral-small-latest', SMALL_COST],
          [SCOPE, 'mistral-embed', EMBED_COST],
        ],
      );
    });
  }
});

describe('Mistral helpers', () => {
  it('a guard verdict rewrites model and maxTokens on a copy, never the app request', () => {
    const request = { model: 'mistral-large-latest', messages: [], maxTokens: 4096 };
    const sent = requestWithVerdict(MistralOperation.Complete, request, {
      model: 'mistral-small-latest',
      maxTokens: 256,
    });
    assert.deepEqual(sent, { model: 'mistral-small-latest', messages: [], maxTokens: 256 });
    assert.deepEqual(request, { model: 'mistral-large-latest', messages: [], maxTokens: 4096 });
    assert.equal(sent.messages, request.messages);
    assert.deepEqual(
      requestWithVerdict(MistralOperation.Embed, { model: 'mistral-embed' }, { maxTokens: 8 }),
      {
        model: 'mistral-embed',
      },
    );
    assert.equal(requestWithVerdict(MistralOperation.Stream, request, {}), request);
  });

  it('usage from either major: cached and reasoning details as 2.x (top level) and 1.x (additionalProperties) keep them', () => {
    const v2 = {};
    setUsageAttributes(v2, {
      promptTokens: 100,
      completionTokens: 40,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 10 },
    });
    const v1 = {};
    setUsageAttributes(v1, {
      promptTokens: 100,
      completionTokens: 40,
      additionalProperties: {
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 10 },
      },
    });
    const expected = {
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 40,
      'gen_ai.usage.cache_read.input_tokens': 64,
      'gen_ai.usage.reasoning.output_tokens': 10,
    };
    assert.deepEqual(v2, expected);
    assert.deepEqual(v1, expected);
  });
});

describe('Mistral instrumentation and the policy guard (real SDK 2.x, in-process)', function () {
  this.timeout(30_000);
  /* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
  const sdk = require('@mistralai/mistralai') as any;
  const { finishedSpans } = useInProcessInstrumentation(new MistralInstrumentation({ enabled: false }), sdk);
  const request = {
    model: 'mistral-large-latest',
    messages: [{ role: 'user', content: 'hi' }],
    maxTokens: 4096,
  };
  let mistral: FakeMistral;
  let client: any;
  let guarded: GuardedCall[];

  before(async () => {
    mistral = await startFakeMistral();
    client = new sdk.Mistral({ apiKey: 'test-key', serverURL: mistral.url });
  });
  beforeEach(() => {
    mistral.reset();
    guarded = [];
  });
  afterEach(() => setGuard(undefined));
  after(async () => {
    await mistral?.close();
  });

  it('blocked: complete(), stream() and embeddings.create() reject with the policy error, nothing is sent', async () => {
    setGuard({
      check(call) {
        guarded.push(call);
        throw new BudgetExceededError('team budget spent', 'search-monthly');
      },
    });
    await assert.rejects(client.chat.complete(request), BudgetExceededError);
    await assert.rejects(client.chat.stream(request), BudgetExceededError);
    await assert.rejects(
      client.embeddings.create({ model: 'mistral-embed', inputs: ['a'] }),
      BudgetExceededError,
    );
    assert.equal(mistral.requests.length, 0);
    assert.deepEqual(
      guarded.map((c) => [c.provider, c.operation, c.model, c.maxTokens]),
      [
        ['mistral_ai', 'chat', 'mistral-large-latest', 4096],
        ['mistral_ai', 'chat', 'mistral-large-latest', 4096],
        ['mistral_ai', 'embeddings', 'mistral-embed', undefined],
      ],
    );
    const spans = await finishedSpans();
    assert.deepEqual(
      spans.map((s) => [s.attributes['tokenledger.enforcement'], s.attributes['error.type']]),
      [
        ['blocked', 'BudgetExceededError'],
        ['blocked', 'BudgetExceededError'],
        ['blocked', 'BudgetExceededError'],
      ],
    );
  });

  it('verdict: model downgraded and max_tokens clamped on the wire; the app request is untouched', async () => {
    setGuard({
      check: () => ({
        model: 'mistral-small-latest',
        maxTokens: 256,
        attributes: { 'tokenledger.enforcement': 'downgraded', 'tokenledger.original_model': request.model },
      }),
    });
    const before = structuredClone(request);
    const response = await client.chat.complete(request);
    assert.equal(response.model, 'mistral-small-latest');
    assert.deepEqual(request, before);
    assert.equal(mistral.requests[0]!.body!.model, 'mistral-small-latest');
    assert.equal(mistral.requests[0]!.body!.max_tokens, 256);
    const [span] = await finishedSpans();
    assert.equal(span!.attributes['tokenledger.enforcement'], 'downgraded');
    assert.equal(span!.attributes['gen_ai.request.model'], 'mistral-large-latest');
    assert.equal(span!.attributes['gen_ai.response.model'], 'mistral-small-latest');
  });
  /* eslint-enable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
});

/**
 * Provider recognition for the `openai` SDK: OpenAI-compatible APIs by base URL (host table and
 * TOKENLEDGER_PROVIDER_HOSTS), Azure OpenAI through the real AzureOpenAI client (openai 7.x and 4.x)
 * against a fake Azure endpoint, each priced to the exact dollar by the collector's own pipeline.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { providerFromHost } from '../../collector/src/core/providers';
import {
  parseProviderHosts,
  providerForHost,
} from '../../instrumentation/src/instrumentations/openai/providers';
import { startFakeAzureOpenAI, type FakeAzureOpenAI } from '../support/fake-azure-openai';
import { startFakeOpenAI, type FakeOpenAI, type FakeUsage } from '../support/fake-openai';
import { startOtlpSink, type OtlpSink, type SinkSpan } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import { APPS_DIR, V4_DIR, runApp, type AppRun, type AppVariant, type RunOptions } from './helpers';

const OPENAI_V4_MODULE = path.join(V4_DIR, 'node_modules', 'openai');
const USAGE: FakeUsage = { input: 1200, output: 300, cached: 200, reasoning: 0 };

const CJS: AppVariant = {
  label: 'openai 7.x CJS',
  cwd: APPS_DIR,
  app: 'compatible-app.cjs',
  flag: '--require',
};
const ESM: AppVariant = {
  label: 'openai 7.x ESM',
  cwd: APPS_DIR,
  app: 'compatible-app.mjs',
  flag: '--import',
};
/**
 * openai 4.x from ESM is not run here: the import hook matches the bare specifier `openai`, which
 * from this folder resolves to the root's 7.x (the plain 4.x ESM client is covered by openai.test.ts).
 */
const VARIANTS: Array<[AppVariant, Record<string, string>]> = [
  [CJS, {}],
  [ESM, {}],
  [{ ...CJS, label: 'openai 4.x CJS' }, { OPENAI_MODULE: OPENAI_V4_MODULE }],
];

let fake: FakeOpenAI;
let azure: FakeAzureOpenAI;
let sink: OtlpSink;

async function run(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  sink.reset();
  const r = await runApp(variant, scenario, {
    ...opts,
    env: {
      COMPATIBLE_BASE_URL: fake.url,
      AZURE_OPENAI_ENDPOINT: azure.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'compatible-app',
      OTEL_RESOURCE_ATTRIBUTES: undefined,
      OPENAI_BASE_URL: undefined,
      OPENAI_API_KEY: undefined,
      TOKENLEDGER_PROVIDER_HOSTS: undefined,
      ...opts.env,
    },
  });
  assert.equal(r.code, 0, `${variant.label} ${scenario} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Both fakes back to the test's usage; `model` is echoed unchanged as the response model. */
function resetFakes(model?: string): void {
  fake.reset();
  fake.setUsage(USAGE);
  if (model !== undefined) fake.setResponseModel(model, model);
  azure.reset();
  azure.setUsage(USAGE);
  azure.setDeployment('prod-gpt4o', 'gpt-4o-2024-08-06');
}

async function runCompared(
  variant: AppVariant,
  scenario: string,
  opts: RunOptions = {},
  model?: string,
): Promise<AppRun> {
  const reset = (): void => resetFakes(model);
  reset();
  const plain = await run(variant, scenario, { ...opts, instrument: false });
  reset();
  const instrumented = await run(variant, scenario, opts);
  assert.equal(instrumented.stdout, plain.stdout, `${variant.label} ${scenario}: app output differs`);
  return instrumented;
}

async function oneSpan(): Promise<SinkSpan> {
  const spans = (await sink.waitForSpans(1, 5_000)).filter((s) => s.attributes['gen_ai.operation.name']);
  assert.equal(spans.length, 1);
  return spans[0]!;
}

describe('OpenAI-compatible providers and Azure OpenAI', function () {
  this.timeout(90_000);

  before(async () => {
    fake = await startFakeOpenAI();
    azure = await startFakeAzureOpenAI();
    sink = await startOtlpSink();
  });
  after(async () => {
    await fake?.close();
    await azure?.close();
    await sink?.close();
  });

  describe('host table', () => {
    it('recognises the public OpenAI-compatible APIs by host', () => {
      const cases: Array<[string, string]> = [
        ['api.openai.com', 'openai'],
        ['my-resource.openai.azure.com', 'azure.ai.openai'],
        ['my-resource.cognitiveservices.azure.com', 'azure.ai.openai'],
        ['api.groq.com', 'groq'],
        ['api.deepseek.com', 'deepseek'],
        ['api.together.xyz', 'together'],
        ['openrouter.ai', 'openrouter'],
        ['api.fireworks.ai', 'fireworks'],
        ['api.x.ai', 'x_ai'],
        ['api.perplexity.ai', 'perplexity'],
        ['API.GROQ.COM.', 'groq'],
        ['vllm.internal', 'openai_compatible'],
        ['10.0.0.7', 'openai_compatible'],
        ['127.0.0.1', 'openai'],
        ['localhost', 'openai'],
      ];
      for (const [host, provider] of cases) assert.equal(providerForHost(host, 443, []), provider, host);
      // The collector's table agrees for the hosts it also knows (spans that name only a server).
      for (const [host, provider] of cases.slice(0, 10)) assert.equal(providerFromHost(host), provider, host);
    });

    it('TOKENLEDGER_PROVIDER_HOSTS: host:port before host, *.suffix, IPv6, malformed entries skipped', () => {
      const overrides = parseProviderHosts(
        '127.0.0.1:8000=openai_compatible, 127.0.0.1=groq,*.corp.example=DeepSeek,[::1]:9000=together,bad,=x,h:p=y',
      );
      assert.deepEqual(overrides, [
        { host: '127.0.0.1', port: 8000, provider: 'openai_compatible' },
        { host: '127.0.0.1', port: undefined, provider: 'groq' },
        { host: '*.corp.example', port: undefined, provider: 'deepseek' },
        { host: '::1', port: 9000, provider: 'together' },
      ]);
      assert.equal(providerForHost('127.0.0.1', 8000, overrides), 'openai_compatible');
      assert.equal(providerForHost('127.0.0.1', 8001, overrides), 'groq');
      assert.equal(providerForHost('llm.corp.example', 443, overrides), 'deepseek');
      assert.equal(providerForHost('::1', 9000, overrides), 'together');
      assert.equal(providerForHost('api.groq.com', 443, overrides), 'groq');
    });
  });

  describe('OpenAI-compatible servers through the openai SDK (child process)', () => {
    it('Groq by TOKENLEDGER_PROVIDER_HOSTS: provider groq, exact Groq price', async () => {
      const opts = {
        env: {
          APP_MODEL: 'llama-3.3-70b-versatile',
          TOKENLEDGER_PROVIDER_HOSTS: `127.0.0.1:${fake.port}=groq`,
        },
      };
      await runCompared(CJS, 'chat', opts, 'llama-3.3-70b-versatile');
      const s = await oneSpan();
      assert.equal(s.attributes['gen_ai.provider.name'], 'groq');
      assert.equal(s.attributes['server.address'], '127.0.0.1');
      const [call] = pricedCallsFrom(sink);
      // genai-prices groq llama-3.3-70b-versatile: $0.59 input, $0.79 output per Mtok (no cache price:
      // cached tokens are input): 1200 × 0.59 + 300 × 0.79 = 945 µ$.
      assert.deepEqual(
        [call!.provider, call!.pricedProvider, call!.pricedModel, call!.costUsd],
        ['groq', 'groq', 'llama-3.3-70b-versatile', '0.000945'],
      );
    });

    it('a self-hosted vLLM: provider openai_compatible, priced by a pricing override only', async () => {
      const model = 'meta-llama/Llama-3.1-8B-Instruct';
      resetFakes(model);
      await run(ESM, 'chat', {
        env: { APP_MODEL: model, TOKENLEDGER_PROVIDER_HOSTS: `127.0.0.1:${fake.port}=openai_compatible` },
      });
      const s = await oneSpan();
      assert.equal(s.attributes['gen_ai.provider.name'], 'openai_compatible');
      assert.equal(pricedCallsFrom(sink)[0]!.priced, false);
      const [call] = pricedCallsFrom(sink, [
        { provider: 'openai_compatible', model, input_mtok: '0.05', output_mtok: '0.1' },
      ]);
      // 1200 × 0.05 + 300 × 0.1 per Mtok = 90 µ$.
      assert.deepEqual([call!.priced, call!.costUsd], [true, '0.00009']);
    });
  });

  for (const [variant, extraEnv] of VARIANTS) {
    describe(`AzureOpenAI, ${variant.label} (child process)`, () => {
      const opts = { env: { ...extraEnv, AZURE_DEPLOYMENT: 'prod-gpt4o' } };

      it('chat: provider azure.ai.openai, deployment as request model, real model priced', async () => {
        await runCompared(variant, 'azure-chat', opts);
        assert.equal(azure.requests[0]!.deployment, 'prod-gpt4o');
        assert.equal(azure.requests[0]!.apiVersion, '2024-10-21');
        const s = await oneSpan();
        assert.equal(s.attributes['gen_ai.provider.name'], 'azure.ai.openai');
        assert.equal(s.attributes['gen_ai.request.model'], 'prod-gpt4o');
        assert.equal(s.attributes['gen_ai.response.model'], 'gpt-4o-2024-08-06');
        assert.equal(s.attributes['gen_ai.usage.input_tokens'], 1200);
        assert.equal(s.attributes['gen_ai.usage.cache_read.input_tokens'], 200);
        const [call] = pricedCallsFrom(sink);
        // genai-prices azure gpt-4o: $2.50 input, $1.25 cache read, $10 output per Mtok:
        // 1000 × 2.5 + 200 × 1.25 + 300 × 10 = 5750 µ$.
        assert.deepEqual(
          [call!.provider, call!.pricedProvider, call!.pricedModel, call!.costUsd],
          ['azure.ai.openai', 'azure', 'gpt-4o', '0.00575'],
        );
      });

      it('streamed chat: usage injected and hidden, Azure chunks passed through unchanged', async () => {
        const r = await runCompared(variant, 'azure-stream', opts);
        const chunks = r.lines.map((l) => (l as { chunk: Record<string, unknown> }).chunk);
        assert.equal(chunks.length, 7); // prompt filter chunk, role, 4 deltas, finish
        for (const c of chunks) assert.equal('usage' in c, false);
        assert.deepEqual(azure.requests[0]!.body!.stream_options, { include_usage: true });
        const s = await oneSpan();
        assert.equal(s.attributes['gen_ai.response.model'], 'gpt-4o-2024-08-06');
        assert.equal(pricedCallsFrom(sink)[0]!.costUsd, '0.00575');
      });
    });
  }
});

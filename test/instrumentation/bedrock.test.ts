/**
 * tokenledger's AWS Bedrock instrumentation, run the way users run it: an unmodified app on the real
 * `@aws-sdk/client-bedrock-runtime` in a child process (`--require` for CommonJS, `--import` for
 * ESM) against a fake Bedrock runtime speaking its exact wire format (HTTP/2, JSON, AWS event-stream
 * framing); spans go to a local OTLP JSON sink and are priced by the collector's own pipeline.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import { ConverseCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import {
  BedrockCommand,
  commandKind,
  commandWithInput,
  inputWithVerdict,
  modelVendor,
  requestedMaxTokens,
} from '../../instrumentation/src/instrumentations/bedrock/commands';
import { bodyUsage, headerUsage } from '../../instrumentation/src/instrumentations/bedrock/usage';
import { startFakeBedrock, type BedrockFakeUsage, type FakeBedrock } from '../support/fake-bedrock';
import { type OtlpSink, type PlainValue, type SinkSpan } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';
import {
  APPS_DIR,
  isGenAiSpan,
  matchingSpans,
  runCompared as compareRuns,
  runOk,
  sinkEnv,
  type AppRun,
  type AppVariant,
  type RunOptions,
  assertErrorSpan,
  useServers,
} from './helpers';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const CLAUDE_US = 'us.anthropic.claude-3-5-sonnet-20240620-v1:0';
const CLAUDE_ARN =
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0';
const LLAMA = 'meta.llama3-8b-instruct-v1:0';
const MISTRAL = 'mistral.mistral-7b-instruct-v0:2';

/** Bedrock's own counts: `input` excludes the cache reads and writes. */
const CLAUDE_USAGE: BedrockFakeUsage = { input: 1000, output: 300, cacheRead: 2000, cacheWrite: 500 };
const PLAIN_USAGE: BedrockFakeUsage = { input: 1200, output: 300, cacheRead: 0, cacheWrite: 0 };
/**
 * genai-prices, provider aws: Claude 3.5 Sonnet $3 input, $0.30 cache read, $3.75 cache write,
 * $15 output per Mtok: 1000×3 + 2000×0.3 + 500×3.75 + 300×15 = 9975 µ$.
 */
const CLAUDE_COST = '0.009975';
/** meta.llama3-8b-instruct-v1:0: $0.30 / $0.60 per Mtok: 1200×0.3 + 300×0.6 = 540 µ$. */
const LLAMA_COST = '0.00054';
/** mistral.mistral-7b-instruct-v0:2: $0.15 / $0.20 per Mtok: 1200×0.15 + 300×0.2 = 240 µ$. */
const MISTRAL_COST = '0.00024';

const VARIANTS: AppVariant[] = [
  { label: 'client-bedrock-runtime 3.x CJS', cwd: APPS_DIR, app: 'bedrock-app.cjs', flag: '--require' },
  { label: 'client-bedrock-runtime 3.x ESM', cwd: APPS_DIR, app: 'bedrock-app.mjs', flag: '--import' },
];
const SPAN_KIND_CLIENT = 3;

let fake: FakeBedrock;
let sink: OtlpSink;

function env(): Record<string, string | undefined> {
  return {
    BEDROCK_ENDPOINT: fake.url,
    ...sinkEnv(sink, 'bedrock-app'),
    AWS_PROFILE: undefined,
  };
}

async function run(
  variant: AppVariant,
  scenario: string,
  opts: RunOptions & { claudeUsage?: BedrockFakeUsage } = {},
): Promise<AppRun> {
  fake.reset();
  fake.setUsage(PLAIN_USAGE);
  for (const m of [CLAUDE, CLAUDE_US, CLAUDE_ARN]) fake.setUsage(opts.claudeUsage ?? CLAUDE_USAGE, m);
  sink.reset();
  return runOk(variant, scenario, { ...opts, env: { ...env(), ...opts.env } });
}

/** Runs without, then with tokenledger; the app's output must be byte-identical. */
function runCompared(variant: AppVariant, scenario: string): Promise<AppRun> {
  return compareRuns(variant, scenario, (instrument) => run(variant, scenario, { instrument }));
}

function spans(count: number): Promise<SinkSpan[]> {
  return matchingSpans(sink, isGenAiSpan, count);
}

function claudeUsageAttrs(): Record<string, number> {
  return {
    'gen_ai.usage.input_tokens': 3500, // total: 1000 + 2000 cache reads + 500 cache writes
    'gen_ai.usage.output_tokens': 300,
    'gen_ai.usage.cache_read.input_tokens': 2000,
    'gen_ai.usage.cache_creation.input_tokens': 500,
  };
}

function base(command: string, model: string, stream: boolean): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'aws.bedrock',
    'gen_ai.request.model': model,
    'gen_ai.request.stream': stream,
    'aws.bedrock.command': command,
  };
}

function requestId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

describe('tokenledger AWS Bedrock instrumentation (child processes)', function () {
  this.timeout(90_000);

  useServers(startFakeBedrock, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      it('Converse, ConverseStream, InvokeModel (Anthropic, Llama, Mistral), streamed InvokeModel: exact spans and dollars, app output unchanged', async () => {
        await runCompared(variant, 'all');
        const [converse, converseStream, invoke, invokeStream, llama, mistral] = await spans(6);
        for (const s of [converse, converseStream, invoke, invokeStream, llama, mistral]) {
          assert.equal(s!.kind, SPAN_KIND_CLIENT);
          assert.equal(s!.status.code, 0);
          assert.equal(s!.scope.name, 'tokenledger/instrumentation-bedrock');
          assert.equal(s!.resource['service.name'], 'bedrock-app');
        }
        assert.equal(converse!.name, `chat ${CLAUDE_US}`);
        assert.deepEqual(converse!.attributes, {
          ...base('Converse', CLAUDE_US, false),
          'gen_ai.request.max_tokens': 256,
          'gen_ai.request.temperature': 0.5,
          ...claudeUsageAttrs(),
          'gen_ai.response.finish_reasons': ['end_turn'],
          'aws.request_id': requestId(1),
        });
        assert.deepEqual(converseStream!.attributes, {
          ...base('ConverseStream', CLAUDE_ARN, true),
          ...claudeUsageAttrs(),
          'gen_ai.response.finish_reasons': ['end_turn'],
          'aws.request_id': requestId(2),
        });
        assert.deepEqual(invoke!.attributes, {
          ...base('InvokeModel', CLAUDE, false),
          ...claudeUsageAttrs(),
          'gen_ai.response.finish_reasons': ['end_turn'],
          'gen_ai.response.id': 'msg_bdrk_fake3',
          'aws.request_id': requestId(3),
        });
        assert.deepEqual(invokeStream!.attributes, {
          ...base('InvokeModelWithResponseStream', CLAUDE, true),
          ...claudeUsageAttrs(),
          'gen_ai.response.finish_reasons': ['end_turn'],
          'gen_ai.response.id': 'msg_bdrk_fake4',
          'aws.request_id': requestId(4),
        });
        // Llama: counts in the body; Mistral: counts only in the x-amzn-bedrock-*-token-count headers.
        for (const [s, model, n] of [
          [llama, LLAMA, 5],
          [mistral, MISTRAL, 6],
        ] as const) {
          assert.deepEqual(s!.attributes, {
            ...base('InvokeModel', model, false),
            'gen_ai.usage.input_tokens': 1200,
            'gen_ai.usage.output_tokens': 300,
            'gen_ai.response.finish_reasons': ['stop'],
            'aws.request_id': requestId(n),
          });
        }

        const priced = pricedCallsFrom(sink);
        assert.deepEqual(
          priced
            .map((c) => [c.provider, c.requestModel, c.inputTokens, c.priced, c.pricedProvider, c.costUsd])
            .sort(),
          [
            ['aws.bedrock', CLAUDE_US, 3500, true, 'aws', CLAUDE_COST],
            ['aws.bedrock', CLAUDE_ARN, 3500, true, 'aws', CLAUDE_COST],
            ['aws.bedrock', CLAUDE, 3500, true, 'aws', CLAUDE_COST],
            ['aws.bedrock', CLAUDE, 3500, true, 'aws', CLAUDE_COST],
            ['aws.bedrock', LLAMA, 1200, true, 'aws', LLAMA_COST],
            ['aws.bedrock', MISTRAL, 1200, true, 'aws', MISTRAL_COST],
          ].sort(),
        );
      });

      it('a streamed InvokeModel whose counts come only in amazon-bedrock-invocationMetrics', async () => {
        const r = await runCompared(variant, 'invoke-mistral-stream');
        assert.equal(r.lines.length, 5);
        const [s] = await spans(1);
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], 1200);
        assert.equal(s!.attributes['gen_ai.usage.output_tokens'], 300);
        assert.deepEqual(s!.attributes['gen_ai.response.finish_reasons'], ['stop']);
        assert.equal(pricedCallsFrom(sink)[0]!.costUsd, MISTRAL_COST);
      });

      it('errors: ThrottlingException with its HTTP status', async () => {
        const r = await runCompared(variant, 'error');
        assert.deepEqual(r.lines, [{ error: { name: 'ThrottlingException', status: 429 } }]);
        const [s] = await spans(1);
        assertErrorSpan(s, 'ThrottlingException', 429);
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], undefined);
      });
    });
  }

  describe('CJS only: other ways in and out', () => {
    const v = VARIANTS[0]!;

    it('a ConverseStream the app breaks out of is recorded once, as cancelled', async () => {
      const r = await runCompared(v, 'converse-stream-break');
      assert.deepEqual(r.lines, [{ event: { messageStart: { role: 'assistant' } } }, { done: true }]);
      const [s] = await spans(1);
      assertErrorSpan(s, 'cancelled');
    });

    it('1-hour cache writes from Converse cacheDetails and Anthropic bodies, plain and streamed', async () => {
      // 400 of the 500 cache writes with a 1-hour TTL. The aws catalog has no 1-hour price for
      // Claude 3.5 Sonnet, so they cost what the other cache writes cost, as genai-prices bills them.
      await run(v, 'all', { claudeUsage: { ...CLAUDE_USAGE, cacheWrite1h: 400 } });
      const claude = (await spans(6)).slice(0, 4);
      for (const s of claude) {
        assert.equal(s.attributes['gen_ai.usage.cache_creation.input_tokens'], 500, s.name);
        assert.equal(s.attributes['tokenledger.usage.cache_creation_1h.input_tokens'], 400, s.name);
      }
      const priced = pricedCallsFrom(sink).filter((c) => c.cacheWriteTokens > 0);
      assert.deepEqual(
        priced.map((c) => [c.cacheWriteTokens, c.cacheWrite1hTokens, c.costUsd]),
        Array(4).fill([500, 400, CLAUDE_COST]),
      );
    });

    it('the callback form of send() and the aggregated BedrockRuntime client are metered', async () => {
      await runCompared(v, 'callback');
      const [cb] = await spans(1);
      assert.equal(cb!.attributes['gen_ai.usage.input_tokens'], 3500);
      await runCompared(v, 'aggregated-client');
      const [agg] = await spans(1);
      assert.equal(agg!.attributes['aws.bedrock.command'], 'Converse');
      assert.equal(agg!.attributes['gen_ai.usage.output_tokens'], 300);
    });
  });
});

describe('Bedrock helpers', () => {
  it('model vendor from ids, cross-region profiles and ARNs', () => {
    assert.equal(modelVendor(CLAUDE), 'anthropic');
    assert.equal(modelVendor(CLAUDE_US), 'anthropic');
    assert.equal(modelVendor(CLAUDE_ARN), 'anthropic');
    assert.equal(modelVendor('amazon.nova-lite-v1:0'), 'amazon');
    assert.equal(modelVendor('arn:aws:bedrock:us-east-1:1:application-inference-profile/abc123'), undefined);
  });

  it('usage from each model family body and from the headers', () => {
    assert.deepEqual(
      bodyUsage({ usage: { inputTokens: 10, outputTokens: 5, cacheReadInputTokenCount: 2 } }),
      {
        input: 10,
        output: 5,
        cacheRead: 2,
      },
    );
    assert.deepEqual(bodyUsage({ inputTextTokenCount: 7, results: [{ tokenCount: 3 }, { tokenCount: 4 }] }), {
      input: 7,
      output: 7,
    });
    assert.deepEqual(bodyUsage({ meta: { billed_units: { input_tokens: 8, output_tokens: 2 } } }), {
      input: 8,
      output: 2,
    });
    assert.equal(bodyUsage({ outputs: [{ text: 'x' }] }), undefined);
    assert.deepEqual(
      headerUsage({ 'x-amzn-bedrock-input-token-count': '12', 'x-amzn-bedrock-output-token-count': '3' }),
      { input: 12, output: 3, cacheRead: undefined, cacheWrite: undefined },
    );
  });

  it('guard verdicts: Converse model and inferenceConfig.maxTokens on a copy', () => {
    const input = { modelId: CLAUDE, messages: [], inferenceConfig: { maxTokens: 4000, temperature: 0.2 } };
    const frozen = JSON.stringify(input);
    const out = inputWithVerdict(BedrockCommand.Converse, input, {
      model: 'amazon.nova-lite-v1:0',
      maxTokens: 500,
    });
    assert.deepEqual(out, {
      modelId: 'amazon.nova-lite-v1:0',
      messages: [],
      inferenceConfig: { maxTokens: 500, temperature: 0.2 },
    });
    assert.equal(JSON.stringify(input), frozen);
    assert.equal(inputWithVerdict(BedrockCommand.Converse, input, {}), input);
  });

  it('guard verdicts: InvokeModel body max tokens by family, body type kept', () => {
    const anthropic = JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 4000,
      messages: [],
    });
    const a = inputWithVerdict(
      BedrockCommand.InvokeModel,
      { modelId: CLAUDE, body: anthropic },
      { maxTokens: 100 },
    );
    assert.equal(typeof a.body, 'string');
    assert.equal(JSON.parse(a.body as string).max_tokens, 100);
    assert.equal(requestedMaxTokens(BedrockCommand.InvokeModel, { modelId: CLAUDE, body: anthropic }), 4000);

    const llamaBody = new TextEncoder().encode(JSON.stringify({ prompt: 'hi', max_gen_len: 512 }));
    const l = inputWithVerdict(
      BedrockCommand.InvokeModelWithResponseStream,
      { modelId: LLAMA, body: llamaBody },
      { maxTokens: 64 },
    );
    assert.ok(l.body instanceof Uint8Array);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(l.body as Uint8Array)), {
      prompt: 'hi',
      max_gen_len: 64,
    });
    assert.equal(JSON.parse(new TextDecoder().decode(llamaBody)).max_gen_len, 512);

    const titan = JSON.stringify({ inputText: 'hi', textGenerationConfig: { maxTokenCount: 800, topP: 1 } });
    const t = inputWithVerdict(
      BedrockCommand.InvokeModel,
      { modelId: 'amazon.titan-text-express-v1', body: titan },
      { maxTokens: 80, model: 'amazon.titan-text-lite-v1' },
    );
    assert.equal(t.modelId, 'amazon.titan-text-lite-v1');
    assert.deepEqual(JSON.parse(t.body as string).textGenerationConfig, { maxTokenCount: 80, topP: 1 });
  });

  it('a command with another input keeps its class and leaves the app command as it was', () => {
    const original = new ConverseCommand({ modelId: CLAUDE, messages: [] });
    const sent = commandWithInput(original, { modelId: 'amazon.nova-lite-v1:0', messages: [] });
    assert.equal(commandKind(sent), BedrockCommand.Converse);
    assert.ok(sent instanceof ConverseCommand);
    assert.equal(sent.input.modelId, 'amazon.nova-lite-v1:0');
    assert.equal(original.input.modelId, CLAUDE);
    assert.equal(sent.middlewareStack, original.middlewareStack);
    assert.equal(
      commandKind(new InvokeModelCommand({ modelId: CLAUDE, body: '{}' })),
      BedrockCommand.InvokeModel,
    );
  });
});

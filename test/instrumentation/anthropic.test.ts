/**
 * tokenledger's Anthropic instrumentation, run the way users run it: unmodified fixture apps in child
 * processes with `node --require tokenledger/register` (CommonJS) or `--import` (ESM), on
 * @anthropic-ai/sdk 1.x (root) and 0.x (test/fixtures/sdk-previous), against a fake Anthropic API;
 * spans arrive at a local OTLP/HTTP JSON sink and are priced by the collector's own pipeline.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startFakeAnthropic,
  type AnthropicStep,
  type AnthropicUsage,
  type FakeAnthropic,
} from '../support/fake-anthropic';
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
  STATUS_ERROR,
} from './helpers';

const PREVIOUS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'sdk-previous');
const VARIANTS: AppVariant[] = [
  { label: '@anthropic-ai/sdk 1.x CJS', cwd: APPS_DIR, app: 'anthropic-app.cjs', flag: '--require' },
  { label: '@anthropic-ai/sdk 1.x ESM', cwd: APPS_DIR, app: 'anthropic-app.mjs', flag: '--import' },
  { label: '@anthropic-ai/sdk 0.x CJS', cwd: PREVIOUS_DIR, app: 'anthropic-app.cjs', flag: '--require' },
  { label: '@anthropic-ai/sdk 0.x ESM', cwd: PREVIOUS_DIR, app: 'anthropic-app.mjs', flag: '--import' },
];

const SCOPE = 'tokenledger/instrumentation-anthropic';
const MODEL = 'claude-sonnet-4-20250514';
/** Anthropic's convention: input_tokens excludes the cache reads and writes. */
const USAGE: AnthropicUsage = { input: 1234, output: 567, cacheRead: 20_000, cacheWrite: 3000 };
const TOTAL_INPUT = USAGE.input + USAGE.cacheRead + USAGE.cacheWrite;
/**
 * claude-sonnet-4 list prices in @pydantic/genai-prices (USD per million tokens): input 3,
 * cache write 3.75, cache read 0.30, output 15. For USAGE:
 *   1234 × 3 + 20000 × 0.30 + 3000 × 3.75 + 567 × 15 = 3702 + 6000 + 11250 + 8505 = 29457 µ$
 */
const SONNET_4_COST = '0.029457';

let fake: FakeAnthropic;
let sink: OtlpSink;

function env(): Record<string, string | undefined> {
  return {
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_AUTH_TOKEN: undefined,
    APP_MODEL: MODEL,
    ...sinkEnv(sink, 'anthropic-fixture'),
  };
}

interface RunSetup {
  instrument?: boolean;
  /** One-shot steps for the fake, queued before the run. */
  steps?: AnthropicStep[];
  model?: string;
  usage?: AnthropicUsage;
}

async function run(variant: AppVariant, scenario: string, setup: RunSetup = {}): Promise<AppRun> {
  fake.reset();
  fake.setUsage(setup.usage ?? USAGE);
  fake.setBatchResults(BATCH_RESULTS);
  for (const step of setup.steps ?? []) fake.script(step);
  sink.reset();
  return runOk(variant, scenario, {
    instrument: setup.instrument,
    env: { ...env(), APP_MODEL: setup.model ?? MODEL },
  });
}

/** Runs the scenario without, then with tokenledger; the app's output must be identical. */
function runCompared(variant: AppVariant, scenario: string, steps: AnthropicStep[] = []): Promise<AppRun> {
  return compareRuns(variant, scenario, (instrument) => run(variant, scenario, { instrument, steps }));
}

/** tokenledger's spans (the SDK's own spans, when it emits them, are left aside), in start order. */
function ourSpans(count: number): Promise<SinkSpan[]> {
  return matchingSpans(sink, ofScope(SCOPE), count);
}

function usageAttrs(u: AnthropicUsage = USAGE): Record<string, number> {
  return {
    'gen_ai.usage.input_tokens': u.input + u.cacheRead + u.cacheWrite,
    'gen_ai.usage.cache_read.input_tokens': u.cacheRead,
    'gen_ai.usage.cache_creation.input_tokens': u.cacheWrite,
    'gen_ai.usage.output_tokens': u.output,
  };
}

function chatAttrs(n: number, stream: boolean): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.request.model': MODEL,
    'gen_ai.request.max_tokens': 1024,
    'gen_ai.request.stream': stream,
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'gen_ai.response.id': `msg_fake${n}`,
    'gen_ai.response.model': MODEL,
    'gen_ai.response.finish_reasons': ['end_turn'],
    'anthropic.response.service_tier': 'standard',
    ...usageAttrs(),
  };
}

const BATCH_USAGE: AnthropicUsage = { input: 1000, output: 500, cacheRead: 0, cacheWrite: 0 };
const BATCH_RESULTS = [
  { customId: 'req-1', type: 'succeeded' as const, model: MODEL, usage: BATCH_USAGE },
  { customId: 'req-2', type: 'errored' as const },
  { customId: 'req-3', type: 'succeeded' as const, model: MODEL, usage: { ...BATCH_USAGE, output: 100 } },
  { customId: 'req-4', type: 'expired' as const },
];

describe('tokenledger Anthropic instrumentation (child processes)', function () {
  this.timeout(120_000);

  useServers(startFakeAnthropic, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      it('messages.create: exact span with total input (cache reads + writes), exact dollars, one priced call', async () => {
        await runCompared(variant, 'create');
        const [s] = await ourSpans(1);
        assert.equal(s!.name, `chat ${MODEL}`);
        assert.equal(s!.kind, 3);
        assert.equal(s!.status.code, 0);
        assert.equal(s!.resource['service.name'], 'anthropic-fixture');
        assert.deepEqual(s!.attributes, chatAttrs(1, false));
        // The SDK traces itself through the global tracer provider. tokenledger registers none
        // (decision 0039), so in an app without OpenTelemetry that tracing stays a no-op, as it is
        // without tokenledger: only our span reaches the collector.
        assert.equal(sink.spans.filter((x) => x.name === 'anthropic.messages.create').length, 0);
        const calls = pricedCallsFrom(sink);
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.source, SCOPE);
        assert.equal(calls[0]!.inputTokens, TOTAL_INPUT);
        assert.equal(calls[0]!.cacheReadTokens, USAGE.cacheRead);
        assert.equal(calls[0]!.cacheWriteTokens, USAGE.cacheWrite);
        assert.equal(calls[0]!.costUsd, SONNET_4_COST);
      });

      it('messages.create with stream: true: every event passed through, usage from message_start + message_delta', async () => {
        const r = await runCompared(variant, 'create-stream');
        const types = r.lines.map((l) => (l as { event: { type: string } }).event.type);
        // ping is consumed by the SDK itself, as without tokenledger.
        assert.deepEqual(types, [
          'message_start',
          'content_block_start',
          ...Array(6).fill('content_block_delta'),
          'content_block_stop',
          'message_delta',
          'message_stop',
        ]);
        const [s] = await ourSpans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, true));
        const calls = pricedCallsFrom(sink);
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.costUsd, SONNET_4_COST);
      });

      it('messages.stream() helper: counted once, finalMessage() and text events unchanged', async () => {
        const r = await runCompared(variant, 'stream-helper');
        const final = (r.lines[0] as { final: { usage: Record<string, number> } }).final;
        assert.equal(final.usage.output_tokens, USAGE.output);
        const [s] = await ourSpans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, true));
        assert.equal(fake.requests.length, 1);
        // The helper's own SDK span goes to the global tracer provider, which tokenledger does not
        // register (decision 0039): a no-op here, so nothing but our span is exported.
        assert.deepEqual(
          sink.spans.filter((x) => x.scope.name !== SCOPE).map((x) => x.name),
          [],
        );
        const calls = pricedCallsFrom(sink);
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.source, SCOPE);
        assert.equal(calls[0]!.costUsd, SONNET_4_COST);
      });

      it('messages.stream() iterated: one span, same events', async () => {
        await runCompared(variant, 'stream-helper-iterate');
        const [s] = await ourSpans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, true));
        assert.equal(pricedCallsFrom(sink).length, 1);
      });

      it('HTTP errors: 429 rate_limit_error and 529 overloaded_error', async () => {
        // 1.x has its own class for 529; 0.x reports it as an InternalServerError.
        const overloaded = variant.label.includes('1.x') ? 'OverloadedError' : 'InternalServerError';
        for (const [status, type, cls] of [
          [429, 'rate_limit_error', 'RateLimitError'],
          [529, 'overloaded_error', overloaded],
        ] as const) {
          const r = await runCompared(variant, 'error', [{ error: { status, type } }]);
          const reported = (r.lines[0] as { error: { name: string; status: number; type: string } }).error;
          assert.equal(reported.status, status);
          assert.equal(reported.type, type);
          const [s] = await ourSpans(1);
          assert.equal(s!.status.code, STATUS_ERROR);
          assert.equal(reported.name, cls);
          assert.equal(s!.attributes['error.type'], cls);
          assert.equal(s!.attributes['http.response.status_code'], status);
          assert.equal(s!.attributes['gen_ai.usage.input_tokens'], undefined);
        }
      });

      it('an error event mid-stream (overloaded_error): error recorded, tokens already reported kept', async () => {
        const steps: AnthropicStep[] = [{ streamError: { type: 'overloaded_error', afterEvents: 3 } }];
        const r = await runCompared(variant, 'stream-error', steps);
        assert.equal((r.lines.at(-1) as { error: { type: string } }).error.type, 'overloaded_error');
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'overloaded_error');
        // message_start's input side (and its provisional output count) is what was billed so far.
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], TOTAL_INPUT);
        assert.equal(s!.attributes['gen_ai.usage.output_tokens'], 1);
        assert.equal(s!.attributes['gen_ai.response.id'], 'msg_fake1');
      });

      it('a stream the app leaves early (break) is recorded as cancelled', async () => {
        await runCompared(variant, 'stream-break', [{ stallAfter: 3 }]);
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'cancelled');
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], TOTAL_INPUT);
      });

      it('a stream aborted with its controller is recorded as aborted', async () => {
        const r = await runCompared(variant, 'stream-abort', [{ stallAfter: 3 }]);
        assert.deepEqual(r.lines.at(-1), { done: 2 });
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'aborted');
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], TOTAL_INPUT);
      });

      it('messages.stream() aborted: the app sees APIUserAbortError, the span says aborted', async () => {
        const r = await runCompared(variant, 'stream-helper-abort', [{ stallAfter: 3 }]);
        assert.equal((r.lines[0] as { error: { name: string } }).error.name, 'APIUserAbortError');
        const [s] = await ourSpans(1);
        assertErrorSpan(s, 'aborted');
      });

      it('beta.messages.create is metered like messages.create', async () => {
        await runCompared(variant, 'beta');
        const [s] = await ourSpans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, false));
        assert.equal(pricedCallsFrom(sink).length, 1);
      });

      if (variant.label.includes('1.x')) {
        it('message threads: a sent turn, a streamed turn and a streaming tool runner are each one priced call', async () => {
          // A streamed turn is parsed by the thread itself, from the raw response of our create().
          await runCompared(variant, 'thread');
          const spans = await ourSpans(3);
          assert.deepEqual(
            spans.map((s) => s.attributes),
            [chatAttrs(1, false), chatAttrs(2, true), chatAttrs(3, true)],
          );
          const calls = pricedCallsFrom(sink);
          assert.deepEqual(
            calls.map((c) => [c.source, c.costUsd]),
            [1, 2, 3].map(() => [SCOPE, SONNET_4_COST]),
          );
        });
      }

      it('batch results: one span per succeeded result, marked with the batch id; read twice, counted once', async () => {
        const r = await runCompared(variant, 'batch');
        assert.equal(r.lines.length, 1 + BATCH_RESULTS.length);
        const spans = await ourSpans(2);
        for (const [s, customId, output] of [
          [spans[0]!, 'req-1', 500],
          [spans[1]!, 'req-3', 100],
        ] as const) {
          assert.equal(s.name, `chat ${MODEL}`);
          assert.equal(s.attributes['anthropic.message.batch.id'], 'msgbatch_fake1');
          assert.equal(s.attributes['anthropic.message.batch.custom_id'], customId);
          assert.equal(s.attributes['gen_ai.response.model'], MODEL);
          assert.equal(s.attributes['gen_ai.usage.input_tokens'], 1000);
          assert.equal(s.attributes['gen_ai.usage.output_tokens'], output);
        }
        await runCompared(variant, 'batch-twice');
        await ourSpans(2);
      });
    });
  }

  it('batch results are priced at Anthropic batch rates: 50 % of list', async () => {
    const variant = VARIANTS[0]!;
    await run(variant, 'batch');
    await ourSpans(2);
    const calls = pricedCallsFrom(sink).filter((c) => c.source === SCOPE);
    // List would be 1000 × 3 + 500 × 15 = 10500 µ$ and 1000 × 3 + 100 × 15 = 4500 µ$; the collector
    // sees anthropic.message.batch.id and bills half.
    assert.deepEqual(
      calls.map((c) => c.costUsd),
      ['0.00525', '0.00225'],
    );
  });

  it('1-hour cache writes: recorded on the span and priced at their own rate, plain and streamed', async () => {
    // Of the 3000 cache writes, 2000 go to the 1-hour cache: $6 / M instead of $3.75 / M.
    // 1234 × 3 + 20000 × 0.30 + 1000 × 3.75 + 2000 × 6 + 567 × 15 = 3702 + 6000 + 3750 + 12000 + 8505 = 33957 µ$
    const usage = { ...USAGE, cacheWrite1h: 2000 };
    for (const scenario of ['create', 'create-stream']) {
      await run(VARIANTS[0]!, scenario, { usage });
      const [s] = await ourSpans(1);
      assert.equal(s!.attributes['gen_ai.usage.cache_creation.input_tokens'], 3000, scenario);
      assert.equal(s!.attributes['tokenledger.usage.cache_creation_1h.input_tokens'], 2000, scenario);
      const [call] = pricedCallsFrom(sink);
      assert.deepEqual([call!.cacheWriteTokens, call!.cacheWrite1hTokens], [3000, 2000], scenario);
      assert.equal(call!.costUsd, '0.033957', scenario);
    }
  });

  it('claude-3-5-haiku with cache reads and writes: exact dollars', async () => {
    await run(VARIANTS[0]!, 'create', { model: 'claude-3-5-haiku-20241022' });
    await ourSpans(1);
    const [call] = pricedCallsFrom(sink);
    // input 0.80, cache write 1.00, cache read 0.08, output 4.00 per MTok:
    // 1234 × 0.8 + 20000 × 0.08 + 3000 × 1 + 567 × 4 = 987.2 + 1600 + 3000 + 2268 = 7855.2 µ$
    assert.equal(call!.costUsd, '0.0078552');
  });
});

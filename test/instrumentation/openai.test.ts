/**
 * tokenledger's OpenAI instrumentation, run the way users run it: unmodified fixture apps in child
 * processes with `node --require tokenledger/register` (CommonJS) or `--import` (ESM), on openai
 * 7.x and 4.x, against a fake OpenAI server; spans arrive at a local OTLP/HTTP JSON sink.
 * Build first: `npx tsc -b instrumentation`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  FAKE_BACKGROUND_SECONDS,
  FAKE_CREATED,
  startFakeOpenAI,
  type FakeOpenAI,
  type FakeUsage,
} from '../support/fake-openai';
import { type OtlpSink, type SinkSpan, type PlainValue } from '../support/otlp-sink';
import { startSilentServer } from '../support/silent-server';
import {
  isGenAiSpan,
  matchingSpans,
  REPO_ROOT,
  runCompared as compareRuns,
  runOk,
  sinkEnv,
  VARIANTS,
  type AppRun,
  type AppVariant,
  type RunOptions,
  assertErrorSpan,
  byStartTime,
  useServers,
} from './helpers';

const USAGE: FakeUsage = { input: 1200, output: 300, cached: 1024, reasoning: 64 };
const SPAN_KIND_CLIENT = 3;

let fake: FakeOpenAI;
let sink: OtlpSink;

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-test',
    ...sinkEnv(sink),
    ...extra,
  };
}

function resetAll(): void {
  fake.reset();
  fake.setUsage(USAGE);
  sink.reset();
}

async function run(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  resetAll();
  return runOk(variant, scenario, { ...opts, env: env(opts.env) });
}

/** Runs the scenario without, then with tokenledger; asserts the app's output is identical. */
function runCompared(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  return compareRuns(variant, scenario, (instrument) =>
    run(variant, scenario, instrument ? opts : { ...opts, instrument: false }),
  );
}

function usageAttrs(u: FakeUsage = USAGE): Record<string, number> {
  return {
    'gen_ai.usage.input_tokens': u.input,
    'gen_ai.usage.output_tokens': u.output,
    'gen_ai.usage.cache_read.input_tokens': u.cached,
    'gen_ai.usage.reasoning.output_tokens': u.reasoning,
  };
}

function chatAttrs(n: number, stream: boolean, model = 'gpt-4o-mini'): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': model,
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'openai.api.type': 'chat_completions',
    'gen_ai.request.stream': stream,
    'gen_ai.response.id': `chatcmpl-fake${n}`,
    'gen_ai.response.model': `${model}-2024-08-06`,
    'openai.response.service_tier': 'default',
    'gen_ai.response.finish_reasons': ['stop'],
    ...usageAttrs(),
  };
}

function responsesAttrs(n: number, stream: boolean, model = 'gpt-4o-mini'): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': model,
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'openai.api.type': 'responses',
    'gen_ai.request.stream': stream,
    'gen_ai.response.id': `resp_fake${n}`,
    'gen_ai.response.model': `${model}-2024-08-06`,
    'openai.response.service_tier': 'default',
    'gen_ai.response.finish_reasons': ['completed'],
    ...usageAttrs(),
  };
}

function embeddingsAttrs(): Record<string, PlainValue> {
  return {
    'gen_ai.operation.name': 'embeddings',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'text-embedding-3-small',
    'server.address': '127.0.0.1',
    'server.port': fake.port,
    'gen_ai.response.model': 'text-embedding-3-small-2024-08-06',
    'gen_ai.usage.input_tokens': USAGE.input,
  };
}

/** GenAI spans, in call order. */
function spans(count: number): Promise<SinkSpan[]> {
  return matchingSpans(sink, isGenAiSpan, count);
}

describe('tokenledger OpenAI instrumentation (child processes)', function () {
  this.timeout(60_000);

  useServers(startFakeOpenAI, (f, s) => {
    fake = f;
    sink = s;
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      it('chat, streamed chat, responses, streamed responses, embeddings: exact spans, app output unchanged', async () => {
        await runCompared(variant, 'all');
        const [chat, chatStream, resp, respStream, emb] = await spans(5);
        for (const s of [chat!, chatStream!, resp!, respStream!, emb!]) {
          assert.equal(s.kind, SPAN_KIND_CLIENT);
          assert.equal(s.status.code, 0);
          assert.equal(s.resource['service.name'], 'fixture-app');
          assert.equal(s.scope.name, 'tokenledger/instrumentation-openai');
        }
        assert.equal(chat!.name, 'chat gpt-4o-mini');
        assert.deepEqual(chat!.attributes, chatAttrs(1, false));
        assert.deepEqual(chatStream!.attributes, chatAttrs(2, true));
        assert.equal(resp!.name, 'chat gpt-4o-mini');
        assert.deepEqual(resp!.attributes, responsesAttrs(3, false));
        assert.deepEqual(respStream!.attributes, responsesAttrs(4, true));
        assert.equal(emb!.name, 'embeddings text-embedding-3-small');
        assert.deepEqual(emb!.attributes, embeddingsAttrs());

        // What went on the wire: include_usage injected into the streamed chat only.
        const bodies = fake.requests.map((r) => [r.path, r.body?.stream ?? false, r.body?.stream_options]);
        assert.deepEqual(bodies, [
          ['/v1/chat/completions', false, undefined],
          ['/v1/chat/completions', true, { include_usage: true }],
          ['/v1/responses', false, undefined],
          ['/v1/responses', true, undefined],
          ['/v1/embeddings', false, undefined],
        ]);
      });

      it('streamed chat without include_usage: the app sees exactly the chunks it would see, no usage chunk', async () => {
        const r = await runCompared(variant, 'chat-stream');
        const chunks = r.lines.map((l) => (l as { chunk: Record<string, unknown> }).chunk);
        assert.equal(chunks.length, 8); // role, 6 content deltas, finish
        for (const c of chunks) assert.equal('usage' in c, false);
        assert.deepEqual(fake.requests[0]!.body!.stream_options, { include_usage: true });
        const [s] = await spans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, true));
      });

      it('an app that asked for usage gets everything passed through', async () => {
        const r = await runCompared(variant, 'chat-stream-usage');
        const chunks = r.lines.map((l) => (l as { chunk: Record<string, unknown> }).chunk);
        assert.equal(chunks.length, 9);
        assert.deepEqual(chunks.at(-1)!.choices, []);
        assert.equal((chunks.at(-1)!.usage as Record<string, number>).prompt_tokens, USAGE.input);
        assert.equal(chunks[0]!.usage, null);
        const [s] = await spans(1);
        assert.deepEqual(s!.attributes, chatAttrs(1, true));
      });

      it('the SDK helpers (parse, stream, runTools, responses.parse / .stream) are each one exact span', async () => {
        const r = await runCompared(variant, 'helpers');
        const printed = r.lines.map((l) => Object.keys(l as object)[0]);
        assert.equal(
          printed.filter((k) => k === 'stream-chunk').length,
          8,
          'no usage chunk in the helper stream',
        );
        const final = (
          r.lines.find((l) => 'stream-final' in (l as object)) as { 'stream-final': Record<string, unknown> }
        )['stream-final'];
        assert.equal(
          final.usage,
          undefined,
          'the helper stream never asked for usage, so its result has none',
        );

        // Exactly 7 (spans() checks the count, in start order): each call one span, none twice.
        const [parse, withResponse, raw, stream, runTools, respParse, respStream] = await spans(7);
        assert.deepEqual(parse!.attributes, chatAttrs(1, false));
        assert.deepEqual(withResponse!.attributes, chatAttrs(2, false));
        // The raw body belongs to the app: the span ends with what the request said.
        assert.equal(raw!.attributes['gen_ai.usage.input_tokens'], undefined);
        assert.equal(raw!.status.code, 0);
        assert.deepEqual(stream!.attributes, chatAttrs(4, true));
        assert.deepEqual(runTools!.attributes, chatAttrs(5, false));
        assert.deepEqual(respParse!.attributes, responsesAttrs(6, false));
        assert.deepEqual(respStream!.attributes, responsesAttrs(7, true));
        assert.deepEqual(fake.requests[3]!.body!.stream_options, { include_usage: true });
      });

      it('background responses: the create is deferred, the read that finds it finished is the call, once', async () => {
        const r = await runCompared(variant, 'background');
        const [queued, polled, again] = r.lines as [
          { queued: unknown },
          { polled: { status: string; usage: { input_tokens: number } } },
          { 'read-again': string },
        ];
        assert.deepEqual(queued.queued, { id: 'resp_fake1', status: 'queued', usage: null });
        assert.deepEqual(
          [polled.polled.status, polled.polled.usage.input_tokens],
          ['completed', USAGE.input],
        );
        assert.equal(again['read-again'], 'completed');
        assert.deepEqual(r.lines.slice(-2), [
          { cancelled: 'cancelled' },
          { 'foreground-read-back': 'completed' },
        ]);

        // Exactly 8: three deferred creates, the stream that finished, three reads that found a finished
        // background response, the foreground create (its read adds nothing).
        const all = await spans(8);
        const deferred = all.filter((s) => s.attributes['tokenledger.usage.deferred'] === true);
        const keyed = all.filter((s) => s.attributes['tokenledger.call.key'] !== undefined);
        const ids = (list: SinkSpan[]): unknown[] =>
          list.map((s) => s.attributes['gen_ai.response.id']).sort();
        assert.deepEqual(ids(deferred), ['resp_fake1', 'resp_fake3', 'resp_fake4']);
        assert.deepEqual(ids(keyed), ['resp_fake1', 'resp_fake2', 'resp_fake3', 'resp_fake4']);
        for (const s of deferred) {
          assert.equal(s.attributes['gen_ai.usage.input_tokens'], undefined);
          assert.equal(s.attributes['gen_ai.response.finish_reasons'], undefined);
        }
        const byId = (list: SinkSpan[], id: string): SinkSpan =>
          list.find((s) => s.attributes['gen_ai.response.id'] === id)!;
        const finished = (n: number, model = 'gpt-4o-mini-2024-08-06'): Record<string, PlainValue> => {
          const { 'gen_ai.request.stream': _stream, ...rest } = responsesAttrs(n, false);
          return {
            ...rest,
            'gen_ai.request.model': model,
            'tokenledger.call.key': `openai.response:resp_fake${n}`,
            'tokenledger.call.created_at': FAKE_CREATED,
          };
        };
        // Polled until finished: the read's span runs from the response's creation to its completion.
        const read = byId(keyed, 'resp_fake1');
        assert.deepEqual(read.attributes, finished(1));
        assert.equal(read.startTimeUnixNano, String(BigInt(FAKE_CREATED) * 1_000_000_000n));
        assert.equal(
          read.endTimeUnixNano,
          String(BigInt(FAKE_CREATED + FAKE_BACKGROUND_SECONDS) * 1_000_000_000n),
        );
        // Streamed to its end: the create span has the usage, keyed; reading it back adds nothing.
        assert.deepEqual(byId(keyed, 'resp_fake2').attributes, {
          ...responsesAttrs(2, true),
          'tokenledger.call.key': 'openai.response:resp_fake2',
          'tokenledger.call.created_at': FAKE_CREATED,
        });
        // Dropped, then resumed: the create span is deferred (cancelled by the app), the resumed read is the call.
        assert.equal(byId(deferred, 'resp_fake3').attributes['error.type'], 'cancelled');
        assert.deepEqual(byId(keyed, 'resp_fake3').attributes, finished(3));
        // Cancelled: kept with no usage, its cost unknown.
        const cancelled = byId(keyed, 'resp_fake4');
        assert.equal(cancelled.attributes['error.type'], 'cancelled');
        assert.equal(cancelled.attributes['gen_ai.usage.input_tokens'], undefined);

        assert.deepEqual(byId(all, 'resp_fake5').attributes, responsesAttrs(5, false));
        const reads = fake.requests.filter((q) => q.method === 'GET').map((q) => q.path);
        assert.deepEqual(reads, [
          '/v1/responses/resp_fake1',
          '/v1/responses/resp_fake1',
          '/v1/responses/resp_fake1',
          '/v1/responses/resp_fake2',
          '/v1/responses/resp_fake3',
          '/v1/responses/resp_fake5',
        ]);
      });

      it('records errors: HTTP 429 and network errors', async () => {
        await runCompared(variant, 'chat-error');
        const [s] = await spans(1);
        assertErrorSpan(s, 'RateLimitError', 429);
        assert.equal(s!.attributes['gen_ai.request.model'], 'fail-429');

        await runCompared(variant, 'chat-network-error', {
          env: { CLOSED_BASE_URL: 'http://127.0.0.1:9/v1' },
        });
        const [n] = await spans(1);
        assertErrorSpan(n, 'APIConnectionError');
        assert.equal(n!.attributes['server.port'], 9);

        await runCompared(variant, 'other-errors');
        const [responsesError, embeddingsError] = byStartTime(await spans(2));
        assertErrorSpan(responsesError, 'RateLimitError', 429);
        assert.equal(responsesError!.attributes['openai.api.type'], 'responses');
        assertErrorSpan(embeddingsError, 'BadRequestError', 400);
        assert.equal(embeddingsError!.attributes['gen_ai.operation.name'], 'embeddings');
      });

      it('streamed responses that end incomplete or failed: the reason, the usage billed, a failure marked', async () => {
        const r = await runCompared(variant, 'responses-stream-endings');
        const last = (r.lines as Array<{ event?: { type: string } }>)
          .filter((l) => l.event)
          .map((l) => l.event!.type);
        assert.deepEqual([last.indexOf('response.incomplete') >= 0, last.at(-1)], [true, 'response.failed']);
        const [incomplete, failed] = byStartTime(await spans(2));
        assert.deepEqual(incomplete!.attributes, {
          ...responsesAttrs(1, true),
          'gen_ai.response.finish_reasons': ['max_output_tokens'],
        });
        assert.equal(
          incomplete!.status.code,
          0,
          'incomplete is not an error: the tokens were produced and billed',
        );
        assert.deepEqual(failed!.attributes, {
          ...responsesAttrs(2, true),
          'gen_ai.response.finish_reasons': ['failed'],
          'error.type': 'server_error',
        });
        assert.equal(failed!.status.code, 2);
      });
    });
  }

  // Every major, CommonJS: the SDK's APIPromise and Stream internals differ from one major to the next.
  for (const v of VARIANTS.filter((x) => x.flag === '--require')) {
    describe(`${v.label}: streams and promises stay what they were`, () => {
      it('leaves the app params object untouched and hides injected usage from tee() and toReadableStream()', async () => {
        const r = await runCompared(v, 'chat-stream-options');
        const params = (r.lines.at(-1) as { params: Record<string, unknown> }).params;
        assert.deepEqual(params.stream_options, { include_obfuscation: false });
        assert.deepEqual(fake.requests[0]!.body!.stream_options, {
          include_obfuscation: false,
          include_usage: true,
        });
        assert.deepEqual((await spans(1))[0]!.attributes, chatAttrs(1, true));

        await runCompared(v, 'chat-stream-tee');
        assert.deepEqual((await spans(1))[0]!.attributes, chatAttrs(1, true));

        const readable = await runCompared(v, 'chat-stream-readable');
        assert.ok(!(readable.lines[0] as { ndjson: string }).ndjson.includes('usage'));
        assert.deepEqual((await spans(1))[0]!.attributes, chatAttrs(1, true));
      });

      it('.withResponse() and .asResponse() keep working', async () => {
        const r = await runCompared(v, 'chat-with-response');
        assert.deepEqual(r.lines, [
          { data: 'chatcmpl-fake1' },
          { status: 200 },
          { request_id: 'req_fake_1' },
          { raw: 'chatcmpl-fake2' },
        ]);
        const [withResponse, asResponse] = await spans(2);
        assert.deepEqual(withResponse!.attributes, chatAttrs(1, false));
        // The raw body belongs to the app: the span ends with what the request said.
        assert.equal(asResponse!.attributes['gen_ai.usage.input_tokens'], undefined);
        assert.equal(asResponse!.status.code, 0);
      });
    });
  }

  // Aborting changed with the majors (7.x races each read against the signal): one app per major.
  const earlyEnds = ['openai 7.x CJS', 'openai 4.x ESM', 'openai 5.x CJS', 'openai 6.x ESM'];
  for (const v of VARIANTS.filter((x) => earlyEnds.includes(x.label))) {
    describe(`${v.label}: early ends`, () => {
      it('a stream the app breaks out of is recorded once as cancelled', async () => {
        await runCompared(v, 'chat-stream-break');
        const [s] = await spans(1);
        assertErrorSpan(s, 'cancelled');
        assert.equal(s!.attributes['gen_ai.response.id'], 'chatcmpl-fake1');
      });

      it('a stream aborted with an AbortController is recorded once as aborted', async () => {
        const r = await runCompared(v, 'chat-stream-abort');
        assert.equal(r.lines.filter((l) => (l as { chunk?: unknown }).chunk).length, 2);
        const [s] = await spans(1);
        assertErrorSpan(s, 'aborted');
        assert.equal(s!.attributes['gen_ai.usage.input_tokens'], undefined);
      });
    });
  }

  describe('attribution', () => {
    for (const v of [VARIANTS[0]!, VARIANTS[1]!]) {
      it(`${v.label}: withAttribution across async code, W3C baggage, resource attributes`, async () => {
        const r = await run(v, 'attribution', {
          env: { OTEL_RESOURCE_ATTRIBUTES: 'tokenledger.department=eng,deployment.environment.name=prod' },
        });
        assert.deepEqual(r.lines, [
          {
            attribution: {
              department: 'eng',
              environment: 'prod',
              team: 'search-inner',
              customer: 'acme',
              costCenter: 'product:search',
              feature: 'summarizer',
            },
          },
        ]);
        const [baggageOnly, nested, outer, none] = await spans(4);
        const tl = (s: SinkSpan): Record<string, PlainValue> =>
          Object.fromEntries(
            Object.entries(s.attributes).filter(([k]) => k.startsWith('tokenledger.') || k === 'enduser.id'),
          );
        assert.deepEqual(tl(baggageOnly!), {
          'tokenledger.team': 'from-baggage',
          'tokenledger.customer': 'acme',
        });
        assert.deepEqual(tl(nested!), {
          'tokenledger.team': 'search-inner',
          'tokenledger.customer': 'acme',
          'tokenledger.cost_center': 'product:search',
          'tokenledger.feature': 'summarizer',
        });
        assert.deepEqual(tl(outer!), {
          'tokenledger.team': 'search',
          'tokenledger.customer': 'acme',
          'tokenledger.cost_center': 'product:search',
        });
        assert.equal(outer!.attributes['gen_ai.usage.input_tokens'], USAGE.input);
        assert.deepEqual(tl(none!), {});
        // Resource attributes stay on the resource.
        assert.equal(none!.resource['tokenledger.department'], 'eng');
        assert.equal(none!.resource['deployment.environment.name'], 'prod');
        assert.equal(none!.resource['service.name'], 'fixture-app');
        assert.equal(nested!.attributes['tokenledger.department'], undefined);
      });
    }
  });

  describe('export and providers', () => {
    const v = VARIANTS[0]!;

    it('OTLP over gRPC or another exporter, which tokenledger does not ship, still exports over OTLP/HTTP and says so once', async () => {
      const plain = await run(v, 'chat', { instrument: false });
      const r = await run(v, 'chat', {
        env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'console' },
      });
      assert.equal(r.stdout, plain.stdout);
      const endpoint = `${sink.url}/v1/traces`;
      assert.deepEqual(r.stderr.match(/\[TOKENLEDGER_SETTING_UNSUPPORTED\] TokenledgerWarning: .*/g), [
        "[TOKENLEDGER_SETTING_UNSUPPORTED] TokenledgerWarning: tokenledger: OTEL_TRACES_EXPORTER 'console' is not " +
          'supported (otlp, none): ignored, spans go to OTLP',
        "[TOKENLEDGER_SETTING_UNSUPPORTED] TokenledgerWarning: tokenledger: OTLP protocol 'grpc' is not supported: " +
          `spans are sent as http/protobuf to ${endpoint}, which must be an OTLP/HTTP endpoint (port 4318, not gRPC's 4317)`,
      ]);
      await new Promise((ok) => setTimeout(ok, 300));
      const traces = sink.requests.filter((q) => q.path === '/v1/traces');
      assert.equal(traces.length, 1);
      assert.equal(traces[0]!.contentType, 'application/x-protobuf');
    });

    it('an openai major tokenledger does not patch (3.x) runs unchanged and is named once on stderr, CJS and ESM', async () => {
      const V3_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'openai-v3');
      for (const variant of [
        { label: 'openai 3.x CJS', cwd: V3_DIR, app: 'app.cjs', flag: '--require' },
        { label: 'openai 3.x ESM', cwd: V3_DIR, app: 'app.mjs', flag: '--import' },
      ] as const) {
        const plain = await run(variant, '', { instrument: false });
        const instrumented = await run(variant, '');
        assert.equal(instrumented.stdout, plain.stdout, variant.label);
        assert.equal(fake.requests.length, 1, `${variant.label}: the call went through`);
        const warnings = instrumented.stderr.match(/TokenledgerWarning: .*/g) ?? [];
        assert.deepEqual(
          warnings,
          [
            'TokenledgerWarning: tokenledger: openai 3.3.0 is loaded but not instrumented (tokenledger ' +
              'instruments >=4 <8): its calls are not recorded and no policy applies to them; use a supported ' +
              'version, or a tokenledger release that supports this one',
          ],
          variant.label,
        );
        assert.match(instrumented.stderr, /\[TOKENLEDGER_SDK_NOT_INSTRUMENTED\]/);
        assert.equal(plain.stderr, '');
      }
      await new Promise((ok) => setTimeout(ok, 300));
      assert.equal(sink.spans.filter(isGenAiSpan).length, 0, 'no span for an SDK that was not patched');
    });

    it('sends TOKENLEDGER_API_KEY as a bearer token, unless an Authorization header is configured', async () => {
      await run(v, 'chat', { env: { TOKENLEDGER_API_KEY: 'tl-key-123' } });
      await spans(1);
      assert.equal(sink.requests[0]!.headers.authorization, 'Bearer tl-key-123');

      await run(v, 'chat', {
        env: { TOKENLEDGER_API_KEY: 'tl-key-123', OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20abc' },
      });
      await spans(1);
      assert.equal(sink.requests[0]!.headers.authorization, 'Basic abc');
    });

    it('the app works unchanged and exits promptly when the OTLP endpoint is down', async () => {
      for (const protocol of ['http/json', 'http/protobuf']) {
        const plain = await run(v, 'all', { instrument: false });
        const down = await run(v, 'all', {
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: protocol },
        });
        assert.equal(down.stdout, plain.stdout);
        assert.equal(down.stderr, '');
        assert.ok(down.ms < plain.ms + 2_000, `exit took ${down.ms} ms (plain ${plain.ms} ms)`);
      }
    });

    it('a collector that is down or hangs never holds the exit: an app past its first export, and one that awaits flush()', async () => {
      // Refused at once (port 9), or accepted and never answered: the exporter's retries and open
      // request must not keep the process alive once the app is done.
      const hanging = await startSilentServer();
      try {
        const endpoints = { refused: 'http://127.0.0.1:9', hanging: `http://127.0.0.1:${hanging.port}` };
        for (const scenario of ['chat-linger', 'chat-flush-exit']) {
          const plain = await run(v, scenario, { instrument: false });
          for (const [label, endpoint] of Object.entries(endpoints)) {
            const r = await run(v, scenario, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
            assert.equal(r.stdout, plain.stdout);
            assert.equal(r.stderr, '');
            // At most ~1 s (the batch processor's wait for an export, BSP_EXPORT_TIMEOUT_MS) is
            // measured; it was ~8 s before the exporter's retries and sockets stopped holding the process.
            assert.ok(
              r.ms < plain.ms + 2_000,
              `${scenario}, ${label}: exit took ${r.ms} ms (plain ${plain.ms} ms)`,
            );
          }
        }
      } finally {
        await hanging.close();
      }
    });

    it('an app still running at the first export, with a collector that answers, loses no span', async () => {
      await runCompared(v, 'chat-linger');
      const [s] = await spans(1);
      assert.deepEqual(s!.attributes, chatAttrs(1, false));
    });

    it('an app that awaits flush() and calls process.exit() right after its call loses no span', async () => {
      // The call's span is still deferred then: the flush must build it before exporting.
      await runCompared(v, 'chat-flush-exit');
      const [s] = await spans(1);
      assert.deepEqual(s!.attributes, chatAttrs(1, false));
    });

    it('OTEL_PROPAGATORS and OTEL_TRACES_EXPORTER=none are honoured', async () => {
      const fields = async (value: string | undefined) =>
        (await run(v, 'propagation-fields', { env: { OTEL_PROPAGATORS: value } })).lines[0];
      assert.deepEqual(await fields(undefined), { fields: ['traceparent', 'tracestate', 'baggage'] });
      assert.deepEqual(await fields('tracecontext'), { fields: ['traceparent', 'tracestate'] });
      assert.deepEqual(await fields('baggage, b3'), { fields: ['baggage'] }, 'an unsupported one is ignored');
      assert.deepEqual(await fields('none'), { fields: [] });
      await spans(1); // each run above exported its call

      const none = await run(v, 'chat', { env: { OTEL_TRACES_EXPORTER: 'none' } });
      assert.equal(none.stderr, '');
      assert.equal(fake.requests.length, 1, 'the call itself went through');
      await new Promise((ok) => setTimeout(ok, 1_500));
      assert.equal(sink.requests.filter((r) => r.path === '/v1/traces').length, 0, 'nothing exported');
    });

    it('OTEL_SDK_DISABLED=true: nothing is patched or exported', async () => {
      await runCompared(v, 'chat-stream', { env: { OTEL_SDK_DISABLED: 'true' } });
      assert.equal(fake.requests[0]!.body!.stream_options, undefined);
      await new Promise((ok) => setTimeout(ok, 300));
      assert.equal(sink.spans.length, 0);
    });

    // The app's own provider, registered before or after tokenledger, keeps its registration; the
    // cost spans go through tokenledger's pipeline with tokenledger's resource either way.
    for (const [label, scenario, preArgs] of [
      ['earlier (--require)', 'chat', ['--require', './own-provider-setup.cjs']],
      ['later, in its code, with no setting', 'own-provider-late', []],
    ] as const) {
      it(`a provider the app registers ${label} is kept; our spans keep tokenledger's pipeline`, async () => {
        const r = await run(v, scenario, { preArgs: [...preArgs] });
        assert.deepEqual(r.lines[0], { ownProviderRegistered: true });
        const [s] = await spans(1);
        assert.equal(s!.scope.name, 'tokenledger/instrumentation-openai');
        assert.equal(s!.resource['app.provider'], undefined);
        assert.equal(s!.resource['service.name'], 'fixture-app');
        assert.deepEqual(s!.attributes, chatAttrs(1, false));
      });
    }

    it("TOKENLEDGER_TRACER_PROVIDER=app: the cost-center attributes of OTEL_RESOURCE_ATTRIBUTES go on the span, the app's resource lacks them", async () => {
      await run(v, 'own-provider-late', {
        env: { TOKENLEDGER_TRACER_PROVIDER: 'app', OTEL_RESOURCE_ATTRIBUTES: 'tokenledger.team=platform' },
      });
      const [s] = await spans(1);
      assert.equal(s!.resource['app.provider'], 'own');
      assert.equal(s!.resource['tokenledger.team'], undefined);
      assert.deepEqual(s!.attributes, { ...chatAttrs(1, false), 'tokenledger.team': 'platform' });
    });

    it('TOKENLEDGER_TRACER_PROVIDER=app: the app registers its provider later and gets our spans', async () => {
      const r = await run(v, 'own-provider-late', { env: { TOKENLEDGER_TRACER_PROVIDER: 'app' } });
      assert.deepEqual(r.lines[0], { ownProviderRegistered: true });
      const [s] = await spans(1);
      assert.equal(s!.resource['app.provider'], 'own');
      assert.deepEqual(s!.attributes, chatAttrs(1, false));
    });
  });
});

import assert from 'node:assert/strict';
import { extractCalls } from '../../collector/src/ingest/extract/extract';
import { normaliseProvider, providerFromHost } from '../../collector/src/core/providers';
import { type UsageFlag } from '../../collector/src/ingest/extract/usage';
import { TraceWindow } from '../../collector/src/ingest/trace-window';
import { Pricer } from '../../collector/src/pricing/pricer';
import type { ExtractedCall } from '../../collector/src/core/call';
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import type { Attributes } from '@opentelemetry/api';
import { nanos } from '../support/calls';
import { protobufBody, recordSpans, type SpanSpec } from './otlp-helpers';

/** Round-trips spans through the real OTLP protobuf encoder and our decoder, then extracts. */
function extract(resource: Attributes, specs: SpanSpec[]) {
  const body = protobufBody(recordSpans(resource, specs));
  return extractCalls(decodeTraceRequest(body, 'application/x-protobuf'));
}

function one(resource: Attributes, spec: SpanSpec): ExtractedCall {
  const r = extract(resource, [spec]);
  assert.equal(r.calls.length, 1, 'expected exactly one call');
  return r.calls[0]!;
}

function tokens(c: ExtractedCall) {
  return {
    input: c.inputTokens,
    output: c.outputTokens,
    cacheRead: c.cacheReadTokens,
    cacheWrite: c.cacheWriteTokens,
    reasoning: c.reasoningTokens,
  };
}

describe('GenAI call extraction', () => {
  it('reads the service tier the provider served the call on (OpenAI, Anthropic), lower case; absent when unsaid', () => {
    const span = (attributes: Record<string, string | number>) => ({
      name: 'chat m',
      scope: 'tokenledger',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'm',
        'gen_ai.usage.input_tokens': 1,
        'gen_ai.usage.output_tokens': 1,
        ...attributes,
      },
    });
    const tiers = extract({}, [
      span({ 'gen_ai.provider.name': 'openai', 'openai.response.service_tier': 'flex' }),
      span({ 'gen_ai.provider.name': 'openai', 'openai.response.service_tier': 'Priority' }),
      span({ 'gen_ai.provider.name': 'anthropic', 'anthropic.response.service_tier': 'priority' }),
      span({ 'gen_ai.provider.name': 'openai', 'openai.response.service_tier': 'x'.repeat(100) }),
      span({ 'gen_ai.provider.name': 'openai' }),
    ]).calls.map((c) => c.serviceTier);
    assert.deepEqual(tiers, ['flex', 'priority', 'priority', 'x'.repeat(32), undefined]);
  });

  it('reads our own spans (current semantic-convention names) and attributes them', () => {
    const c = one(
      {
        'service.name': 'summarizer-api',
        'deployment.environment.name': 'production',
        'tokenledger.team': 'platform',
        'tokenledger.cost_center': 'product:summarizer',
      },
      {
        name: 'chat gpt-4o',
        scope: 'tokenledger',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.usage.input_tokens': 10000,
          'gen_ai.usage.output_tokens': 150,
          'gen_ai.usage.cache_read.input_tokens': 8000,
          'gen_ai.usage.reasoning.output_tokens': 20,
          'gen_ai.request.stream': true,
          'server.address': 'api.openai.com',
          'tokenledger.team': 'search', // span wins over resource
          'tokenledger.feature': 'summarizer',
          'tokenledger.customer': 'acme',
          'tokenledger.user_tier': 'pro',
          'tokenledger.approval_id': 'apr_1',
          'tokenledger.enforcement': 'downgraded',
          'enduser.id': 'u-42',
        },
      },
    );
    assert.equal(c.provider, 'openai');
    assert.equal(c.operation, 'chat');
    assert.equal(c.requestModel, 'gpt-4o');
    assert.equal(c.responseModel, 'gpt-4o-2024-08-06');
    assert.deepEqual(tokens(c), { input: 10000, output: 150, cacheRead: 8000, cacheWrite: 0, reasoning: 20 });
    assert.equal(c.streaming, true);
    assert.equal(c.durationMs, 1500);
    assert.equal(c.startTimeUnixNano, '1748779200123000000');
    assert.match(c.traceId, /^[0-9a-f]{32}$/);
    assert.match(c.spanId, /^[0-9a-f]{16}$/);
    assert.equal(c.serverAddress, 'api.openai.com');
    assert.equal(c.enforcement, 'downgraded');
    assert.equal(c.errorType, '');
    assert.equal(c.source, 'tokenledger');
    assert.deepEqual(c.attribution, {
      team: 'search',
      department: '',
      costCenter: 'product:summarizer',
      feature: 'summarizer',
      workflow: '',
      customer: 'acme',
      userTier: 'pro',
      environment: 'production',
      service: 'summarizer-api',
      endUser: 'u-42',
      approvalId: 'apr_1',
    });
  });

  /** Our Anthropic span: 1000 tokens in (total), 100 out, with the given cache attributes. */
  const ourClaudeSpan = (cache: Attributes): SpanSpec => ({
    name: 'chat claude',
    scope: 'tokenledger',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 100,
      ...cache,
    },
  });

  it('takes our Anthropic spans as totals, even when the input looks small', () => {
    const c = one(
      {},
      ourClaudeSpan({
        'gen_ai.usage.cache_read.input_tokens': 100,
        'gen_ai.usage.cache_creation.input_tokens': 200,
      }),
    );
    assert.deepEqual(tokens(c), { input: 1000, output: 100, cacheRead: 100, cacheWrite: 200, reasoning: 0 });
  });

  it('reads the 1-hour share of the cache writes, never more than the writes', () => {
    const writes = { 'gen_ai.usage.cache_creation.input_tokens': 800 };
    const span = (oneHour: number) =>
      ourClaudeSpan({ ...writes, 'tokenledger.usage.cache_creation_1h.input_tokens': oneHour });
    const c = one({}, span(600));
    assert.deepEqual([c.cacheWriteTokens, c.cacheWrite1hTokens], [800, 600]);
    // An inconsistent span: the part is capped at its whole (priced as all 1-hour writes).
    const capped = one({}, span(5000));
    assert.deepEqual([capped.cacheWriteTokens, capped.cacheWrite1hTokens], [800, 800]);
    // Without the attribute (every other producer) there are no 1-hour writes.
    const none = one({}, ourClaudeSpan(writes));
    assert.deepEqual([none.cacheWriteTokens, none.cacheWrite1hTokens], [800, 0]);
  });

  it('reads the older names (gen_ai.system, prompt/completion tokens, legacy cache names) as OpenLLMetry writes them', () => {
    // OpenLLMetry's Anthropic instrumentation: gen_ai.system "Anthropic", llm.request.type, totals including cache.
    const c = one(
      { 'service.name': 'py-worker', 'deployment.environment': 'staging' },
      {
        name: 'anthropic.chat',
        scope: 'opentelemetry.instrumentation.anthropic',
        attributes: {
          'gen_ai.system': 'Anthropic',
          'llm.request.type': 'completion',
          'gen_ai.request.model': 'claude-3-5-sonnet-20241022',
          'gen_ai.response.model': 'claude-3-5-sonnet-20241022',
          'gen_ai.usage.prompt_tokens': 1300,
          'gen_ai.usage.completion_tokens': 90,
          'gen_ai.usage.cache_read_input_tokens': 1000,
          'gen_ai.usage.cache_creation_input_tokens': 0,
          'llm.usage.total_tokens': 1390,
          'llm.is_streaming': false,
        },
      },
    );
    assert.equal(c.provider, 'anthropic');
    assert.equal(c.operation, 'text_completion');
    assert.deepEqual(tokens(c), { input: 1300, output: 90, cacheRead: 1000, cacheWrite: 0, reasoning: 0 });
    assert.equal(c.attribution.environment, 'staging');
    assert.equal(c.attribution.service, 'py-worker');
  });

  it("adds the cache tokens to OpenLIT's raw Anthropic input_tokens", () => {
    const c = one(
      { 'service.name': 'bot', 'telemetry.sdk.name': 'openlit' },
      {
        name: 'chat claude-3-5-haiku-latest',
        scope: 'openlit.otel.tracing',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.system': 'anthropic',
          'gen_ai.request.model': 'claude-3-5-haiku-latest',
          'gen_ai.usage.input_tokens': 500, // Anthropic's input_tokens: cache excluded
          'gen_ai.usage.output_tokens': 40,
          'gen_ai.usage.cache_read.input_tokens': 300,
          'gen_ai.usage.cache_creation.input_tokens': 100,
          'gen_ai.request.is_stream': true,
          'server.address': 'api.anthropic.com',
        },
      },
    );
    assert.deepEqual(tokens(c), { input: 900, output: 40, cacheRead: 300, cacheWrite: 100, reasoning: 0 });
    assert.equal(c.streaming, true);
  });

  it('repairs an input count smaller than its cached parts from any other producer', () => {
    const c = one(
      {},
      {
        name: 'chat',
        scope: 'some.other.instrumentation',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': 'claude-sonnet-4-5',
          'gen_ai.usage.input_tokens': 50,
          'gen_ai.usage.output_tokens': 10,
          'gen_ai.usage.cache_read.input_tokens': 4000,
        },
      },
    );
    assert.equal(c.inputTokens, 4050);
  });

  it('reads OpenInference LLM spans and skips its chain spans', () => {
    const r = extract({ 'service.name': 'rag' }, [
      {
        name: 'ChatOpenAI',
        scope: 'openinference.instrumentation.langchain',
        kind: 0,
        attributes: {
          'openinference.span.kind': 'LLM',
          'llm.model_name': 'gpt-4o-mini',
          'llm.provider': 'openai',
          'llm.system': 'openai',
          'llm.token_count.prompt': 2000,
          'llm.token_count.completion': 300,
          'llm.token_count.total': 2300,
          'llm.token_count.prompt_details.cache_read': 1024,
          'llm.token_count.completion_details.reasoning': 0,
        },
      },
      {
        name: 'RunnableSequence',
        scope: 'openinference.instrumentation.langchain',
        attributes: {
          'openinference.span.kind': 'CHAIN',
          'llm.token_count.prompt': 2000,
          'llm.token_count.completion': 300,
        },
      },
    ]);
    assert.equal(r.calls.length, 1);
    assert.equal(r.skippedGenaiSpans, 1);
    const c = r.calls[0]!;
    assert.equal(c.provider, 'openai');
    assert.equal(c.requestModel, 'gpt-4o-mini');
    assert.deepEqual(tokens(c), { input: 2000, output: 300, cacheRead: 1024, cacheWrite: 0, reasoning: 0 });
    assert.equal(c.source, 'openinference.instrumentation.langchain');
  });

  it('maps OpenInference llm.system when llm.provider is absent', () => {
    const c = one(
      {},
      {
        name: 'Anthropic.messages',
        scope: 'openinference.instrumentation.anthropic',
        attributes: {
          'openinference.span.kind': 'LLM',
          'llm.model_name': 'claude-3-5-haiku-latest',
          'llm.system': 'anthropic',
          'llm.token_count.prompt': 800,
          'llm.token_count.completion': 20,
          'llm.token_count.prompt_details.cache_write': 700,
        },
      },
    );
    assert.equal(c.provider, 'anthropic');
    assert.deepEqual(tokens(c), { input: 800, output: 20, cacheRead: 0, cacheWrite: 700, reasoning: 0 });
  });

  describe('Vercel AI SDK', () => {
    const outerV5 = {
      'operation.name': 'ai.generateText',
      'ai.operationId': 'ai.generateText',
      'ai.model.id': 'gpt-4o',
      'ai.model.provider': 'openai.chat',
      'ai.usage.inputTokens': 2400,
      'ai.usage.outputTokens': 300,
      'ai.usage.totalTokens': 2700,
    };

    it('counts only the inner doGenerate spans of a multi-step generateText (v5 names)', () => {
      const step = (input: number, output: number) => ({
        name: 'ai.generateText.doGenerate',
        scope: 'ai',
        attributes: {
          'operation.name': 'ai.generateText.doGenerate',
          'ai.operationId': 'ai.generateText.doGenerate',
          'ai.model.id': 'gpt-4o',
          'ai.model.provider': 'openai.chat',
          'ai.response.model': 'gpt-4o-2024-08-06',
          'ai.usage.inputTokens': input,
          'ai.usage.outputTokens': output,
          'ai.usage.cachedInputTokens': 0,
          'gen_ai.system': 'openai.chat',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.usage.input_tokens': input,
          'gen_ai.usage.output_tokens': output,
        },
      });
      const r = extract({ 'service.name': 'next-app' }, [
        step(1000, 100),
        step(1400, 200),
        {
          name: 'ai.toolCall',
          scope: 'ai',
          attributes: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'x' },
        },
        { name: 'ai.generateText', scope: 'ai', attributes: outerV5 },
      ]);
      assert.equal(r.calls.length, 2);
      assert.equal(r.skippedGenaiSpans, 2);
      assert.equal(r.nonGenaiSpans, 0);
      assert.deepEqual(
        r.calls.map((c) => c.inputTokens),
        [1000, 1400],
      );
      assert.equal(r.calls[0]!.provider, 'openai');
      assert.equal(r.calls[0]!.responseModel, 'gpt-4o-2024-08-06');
      assert.equal(r.calls[0]!.source, 'ai');
    });

    it('reads v3/v4 promptTokens / completionTokens on doStream spans', () => {
      const c = one(
        {},
        {
          name: 'ai.streamText.doStream',
          scope: 'ai',
          attributes: {
            'ai.operationId': 'ai.streamText.doStream',
            'ai.model.id': 'mistral-large-latest',
            'ai.model.provider': 'mistral.chat',
            'ai.usage.promptTokens': 640,
            'ai.usage.completionTokens': 128,
          },
        },
      );
      assert.equal(c.provider, 'mistral_ai');
      assert.equal(c.streaming, true);
      assert.deepEqual(tokens(c), { input: 640, output: 128, cacheRead: 0, cacheWrite: 0, reasoning: 0 });
    });

    it('adds cache tokens to the raw Anthropic inputTokens of SDK v5 (cache writes from providerMetadata)', () => {
      const c = one(
        {},
        {
          name: 'ai.generateText.doGenerate',
          scope: 'ai',
          attributes: {
            'ai.operationId': 'ai.generateText.doGenerate',
            'ai.model.id': 'claude-sonnet-4-5',
            'ai.model.provider': 'anthropic.messages',
            'ai.usage.inputTokens': 700,
            'ai.usage.outputTokens': 100,
            'ai.usage.cachedInputTokens': 100,
            'ai.response.providerMetadata': JSON.stringify({
              anthropic: { cacheCreationInputTokens: 200, usage: { input_tokens: 700 } },
            }),
          },
        },
      );
      assert.equal(c.provider, 'anthropic');
      assert.deepEqual(tokens(c), {
        input: 1000,
        output: 100,
        cacheRead: 100,
        cacheWrite: 200,
        reasoning: 0,
      });
    });

    it('takes SDK v6 inputTokens as the total and reads its token details', () => {
      const c = one(
        {},
        {
          name: 'ai.generateText.doGenerate',
          scope: 'ai',
          attributes: {
            'ai.operationId': 'ai.generateText.doGenerate',
            'ai.model.id': 'claude-sonnet-4-5',
            'ai.model.provider': 'anthropic.messages',
            'ai.usage.inputTokens': 1000,
            'ai.usage.outputTokens': 100,
            'ai.usage.inputTokenDetails.noCacheTokens': 700,
            'ai.usage.inputTokenDetails.cacheReadTokens': 100,
            'ai.usage.inputTokenDetails.cacheWriteTokens': 200,
            'ai.usage.outputTokenDetails.reasoningTokens': 30,
          },
        },
      );
      assert.deepEqual(tokens(c), {
        input: 1000,
        output: 100,
        cacheRead: 100,
        cacheWrite: 200,
        reasoning: 30,
      });
    });

    it('reads embedding calls from doEmbed spans', () => {
      const r = extract({}, [
        {
          name: 'ai.embedMany.doEmbed',
          scope: 'ai',
          attributes: {
            'ai.operationId': 'ai.embedMany.doEmbed',
            'ai.model.id': 'text-embedding-3-small',
            'ai.model.provider': 'openai.embedding',
            'ai.usage.tokens': 5120,
          },
        },
        {
          name: 'ai.embedMany',
          scope: 'ai',
          attributes: { 'ai.operationId': 'ai.embedMany', 'ai.usage.tokens': 5120 },
        },
      ]);
      assert.equal(r.calls.length, 1);
      assert.equal(r.calls[0]!.operation, 'embeddings');
      assert.equal(r.calls[0]!.inputTokens, 5120);
    });
  });

  it('ignores non-GenAI spans and GenAI spans that are not calls, and counts them', () => {
    const r = extract({}, [
      {
        name: 'GET /v1/chat/completions',
        scope: '@opentelemetry/instrumentation-undici',
        attributes: { 'server.address': 'api.openai.com' },
      },
      { name: 'SELECT', scope: 'pg', attributes: { 'db.system': 'postgresql' } },
      {
        name: 'execute_tool search',
        scope: 'tokenledger',
        attributes: { 'gen_ai.operation.name': 'execute_tool' },
      },
      { name: 'weird', scope: 'x', attributes: { 'gen_ai.system': 'openai' } }, // provider but no model or usage
    ]);
    assert.equal(r.calls.length, 0);
    assert.equal(r.spans, 4);
    assert.equal(r.skippedGenaiSpans, 1);
    assert.equal(r.nonGenaiSpans, 3);
  });

  it('infers the provider from server.address and marks failed calls', () => {
    const c = one(
      {},
      {
        name: 'chat',
        scope: 'custom',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'llama-3.3-70b-versatile',
          'server.address': 'api.groq.com',
          'error.type': 'RateLimitError',
        },
      },
    );
    assert.equal(c.provider, 'groq');
    assert.equal(c.errorType, 'RateLimitError');
    assert.equal(c.inputTokens, 0);
  });

  it('normalises provider spellings to one canonical set', () => {
    const cases: [string, string][] = [
      ['openai', 'openai'],
      ['OpenAI', 'openai'],
      ['az.ai.openai', 'azure.ai.openai'],
      ['azure.ai.openai', 'azure.ai.openai'],
      ['az.ai.inference', 'azure.ai.inference'],
      ['vertex_ai', 'gcp.vertex_ai'],
      ['gcp.vertex_ai', 'gcp.vertex_ai'],
      ['gemini', 'gcp.gemini'],
      ['google.generative-ai', 'gcp.gemini'],
      ['google.vertex.chat', 'gcp.vertex_ai'],
      ['aws.bedrock', 'aws.bedrock'],
      ['amazon-bedrock', 'aws.bedrock'],
      ['mistralai', 'mistral_ai'],
      ['mistral_ai', 'mistral_ai'],
      ['xai', 'x_ai'],
      ['x_ai', 'x_ai'],
      ['xai.chat', 'x_ai'],
      ['anthropic.messages', 'anthropic'],
      ['Anthropic', 'anthropic'],
      ['deepseek', 'deepseek'],
      ['groq', 'groq'],
      ['ollama', 'ollama'],
    ];
    for (const [raw, want] of cases) assert.equal(normaliseProvider(raw), want, raw);
    assert.equal(providerFromHost('api.openai.com'), 'openai');
    assert.equal(providerFromHost('api.anthropic.com'), 'anthropic');
    assert.equal(providerFromHost('my-res.openai.azure.com'), 'azure.ai.openai');
    assert.equal(providerFromHost('bedrock-runtime.us-east-1.amazonaws.com'), 'aws.bedrock');
    assert.equal(providerFromHost('generativelanguage.googleapis.com'), 'gcp.gemini');
    assert.equal(providerFromHost('example.com'), '');
  });
});

describe('calls without reported usage', () => {
  const chat = (attributes: Attributes, startTime?: Date): SpanSpec => ({
    name: 'chat gpt-4o-mini',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      ...attributes,
    },
    startTime,
  });
  const flagOf = (spec: SpanSpec): boolean | undefined =>
    (one({}, spec) as ExtractedCall & UsageFlag).usageMissing;

  it('flags a successful, cancelled or aborted call with no token counts, and only those', () => {
    assert.equal(flagOf(chat({})), true);
    assert.equal(flagOf(chat({ 'gen_ai.usage.input_tokens': 0, 'gen_ai.usage.output_tokens': 0 })), true);
    assert.equal(flagOf(chat({ 'gen_ai.usage.input_tokens': 12 })), undefined);
    // A failed or blocked call bills nothing: $0 is its true cost.
    assert.equal(flagOf(chat({ 'error.type': 'rate_limit_exceeded' })), undefined);
    assert.equal(flagOf(chat({ 'tokenledger.enforcement': 'blocked' })), undefined);
    // A stream the app broke out of or aborted was billed for what the model generated until then.
    assert.equal(flagOf(chat({ 'error.type': 'cancelled' })), true);
    assert.equal(flagOf(chat({ 'error.type': 'aborted' })), true);
    assert.equal(flagOf(chat({ 'error.type': 'cancelled', 'gen_ai.usage.output_tokens': 3 })), undefined);
  });

  it('keeps a call whose usage holds no token count, flagged with why; a valid count under another name wins', () => {
    const r = extract({}, [
      chat({ 'gen_ai.usage.input_tokens': -5, 'gen_ai.usage.output_tokens': 10 }),
      chat({ 'gen_ai.usage.input_tokens': 2 ** 60, 'gen_ai.usage.output_tokens': 10 }), // int64, not exact
      chat({ 'gen_ai.usage.input_tokens': 10.5 }),
      chat({ 'gen_ai.usage.output_tokens': Infinity }),
      chat({ 'gen_ai.usage.input_tokens': 'many' }),
      chat({ 'gen_ai.usage.input_tokens': '12', 'gen_ai.usage.output_tokens': 3 }),
      chat({
        'gen_ai.usage.input_tokens': 'n/a',
        'gen_ai.usage.prompt_tokens': 12,
        'gen_ai.usage.output_tokens': 3,
      }),
    ]);
    const calls = r.calls as (ExtractedCall & UsageFlag)[];
    assert.deepEqual(
      calls.map((c) => [c.usageMissing, c.invalidUsage?.replace(/^.*\): /, '').replace(/: not a .*/, '')]),
      [
        [true, 'gen_ai.usage.input_tokens=-5'],
        [true, 'gen_ai.usage.input_tokens="1152921504606846976"'],
        [true, 'gen_ai.usage.input_tokens=10.5'],
        [true, 'gen_ai.usage.output_tokens=Infinity'],
        [true, 'gen_ai.usage.input_tokens="many"'],
        [undefined, undefined],
        [undefined, undefined],
      ],
    );
    assert.deepEqual(calls.slice(5).map(tokens), [
      { input: 12, output: 3, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
      { input: 12, output: 3, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
    ]);
    assert.equal(r.invalidUsage.calls, 5);
    assert.match(
      r.invalidUsage.message,
      /^span 'chat gpt-4o-mini' \(trace [0-9a-f]{32}, span [0-9a-f]{16}\): gen_ai\.usage\.input_tokens=-5: not a token count \(an integer from 0 to 2\^53 - 1\); the call is stored unpriced \(and 4 more such call\(s\)\)$/,
    );
    const priced = new Pricer().price(calls[0]!);
    assert.deepEqual([priced.priced, priced.costUsd], [false, '0']);
  });

  describe('background responses (deferred and keyed spans)', () => {
    const CREATED = 1_790_000_000; // 2026-09-21T…Z, Unix seconds
    const read = (startTime: Date, createdAt?: number): SpanSpec =>
      chat(
        {
          'gen_ai.response.id': 'resp_1',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 200,
          'tokenledger.call.key': 'openai.response:resp_1',
          ...(createdAt === undefined ? {} : { 'tokenledger.call.created_at': createdAt }),
        },
        startTime,
      );

    it('skips a deferred create span: no row, no unpriced flag', () => {
      const r = extract({}, [chat({ 'gen_ai.response.id': 'resp_1', 'tokenledger.usage.deferred': true })]);
      assert.deepEqual([r.calls.length, r.skippedGenaiSpans, r.genaiSpans.length], [0, 1, 1]);
    });

    it('gives every span of one key the same row identity, whatever its trace and start', () => {
      // Two processes read the finished response, each in a trace of its own, minutes apart.
      const r = extract({}, [
        read(new Date('2026-11-20T10:00:00Z'), CREATED),
        read(new Date('2026-11-20T10:07:30Z'), CREATED),
      ]);
      const [a, b] = r.calls;
      assert.ok(a && b);
      assert.deepEqual(
        [a.traceId, a.spanId, a.startTimeUnixNano],
        [b.traceId, b.spanId, b.startTimeUnixNano],
      );
      assert.match(a.traceId, /^[0-9a-f]{32}$/);
      assert.match(a.spanId, /^[0-9a-f]{16}$/);
      assert.equal(a.startTimeUnixNano, `${CREATED}000000000`);
      assert.deepEqual(tokens(a), { input: 1000, output: 200, cacheRead: 0, cacheWrite: 0, reasoning: 0 });
      // Their real traces still stand for the inventory.
      assert.notEqual(r.genaiSpans[0]!.traceId, r.genaiSpans[1]!.traceId);
    });

    it('keeps the span start when the key has no usable creation time', () => {
      const start = new Date('2026-11-20T10:00:00Z');
      for (const createdAt of [undefined, 0, -1, 2 ** 32]) {
        const c = one({}, read(start, createdAt));
        assert.equal(c.startTimeUnixNano, nanos(start), String(createdAt));
      }
    });
  });

  it('the pricer stores a flagged call unpriced, its catalog model still named', () => {
    const c = new Pricer().price(one({}, chat({})));
    assert.deepEqual([c.priced, c.costUsd, c.pricedModel], [false, '0', 'gpt-4o-mini']);
  });
});

describe('trace window bounds', () => {
  const call = (traceId: string, spanId: string) => ({
    traceId,
    spanId,
    parentSpanId: '',
    provider: 'openai',
    responseId: '',
    stored: true,
    rank: 0,
  });

  it('forgets a trace once it has been quiet longer than the window', () => {
    let now = 0;
    const window = new TraceWindow({ ttlMs: 1000, now: () => now });
    window.rememberCalls([call('t1', 's1')]);
    now = 900;
    assert.equal([...window.priorCalls('t1')].length, 1);
    now = 1901;
    assert.equal([...window.priorCalls('t1')].length, 0);
    window.rememberCalls([call('t2', 's1')]);
    assert.equal(window.size, 1, 'the expired trace is evicted');
  });

  it('keeps at most maxSpans spans, dropping the least recently touched traces', () => {
    const window = new TraceWindow({ maxSpans: 3, maxSpansPerTrace: 2 });
    window.rememberCalls([call('t1', 'a'), call('t1', 'b'), call('t1', 'c')]);
    assert.deepEqual(
      [...window.priorCalls('t1')].map((c) => c.spanId),
      ['b', 'c'],
      'a trace keeps its newest spans',
    );
    window.rememberCalls([call('t2', 'a'), call('t2', 'b')]);
    assert.equal(window.size, 1);
    assert.deepEqual([...window.priorCalls('t1')], []);
    assert.equal([...window.priorCalls('t2')].length, 2);
  });
});

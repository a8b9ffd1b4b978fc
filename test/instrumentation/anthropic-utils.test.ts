/**
 * The Anthropic instrumentation's pure helpers, and the policy guard around the real SDK in-process:
 * a blocked call never reaches the (fake) API and surfaces the guard's error the SDK's way; a
 * verdict rewrites `model` / `max_tokens` on the wire without touching the app's object.
 */
import assert from 'node:assert/strict';
import type { Attributes } from '@opentelemetry/api';
import { BudgetExceededError } from '../../instrumentation/src/errors';
import { setGuard, type GuardedCall } from '../../instrumentation/src/guard/hook';
import { AnthropicInstrumentation } from '../../instrumentation/src/instrumentations/anthropic/instrumentation';
import {
  bodyWithVerdict,
  errorType,
  mergeUsage,
  setUsageAttributes,
} from '../../instrumentation/src/instrumentations/anthropic/usage';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { useInProcessInstrumentation } from './in-process';

describe('Anthropic instrumentation helpers', () => {
  it('bodyWithVerdict: model and max_tokens on a shallow copy, the app object untouched', () => {
    const body = {
      model: 'claude-sonnet-4-20250514',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'x' }],
    };
    const frozen = structuredClone(body);
    const sent = bodyWithVerdict(body, { model: 'claude-3-5-haiku-20241022', maxTokens: 500 });
    assert.deepEqual(sent, { ...frozen, model: 'claude-3-5-haiku-20241022', max_tokens: 500 });
    assert.equal(sent.messages, body.messages);
    assert.deepEqual(body, frozen);
    assert.deepEqual(bodyWithVerdict(body, { maxTokens: 100 }), { ...frozen, max_tokens: 100 });
    assert.equal(bodyWithVerdict(body, undefined), body);
    assert.equal(bodyWithVerdict(body, { attributes: { a: 1 } }), body);
  });

  it('usage: input is the total (uncached + cache reads + cache writes)', () => {
    const attrs: Attributes = {};
    setUsageAttributes(attrs, {
      input_tokens: 10,
      cache_read_input_tokens: 300,
      cache_creation_input_tokens: 40,
      output_tokens: 7,
      service_tier: 'batch',
    });
    assert.deepEqual(attrs, {
      'gen_ai.usage.input_tokens': 350,
      'gen_ai.usage.cache_read.input_tokens': 300,
      'gen_ai.usage.cache_creation.input_tokens': 40,
      'gen_ai.usage.output_tokens': 7,
      'anthropic.response.service_tier': 'batch',
    });
    const noCache: Attributes = {};
    setUsageAttributes(noCache, { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: null });
    assert.deepEqual(noCache, { 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.output_tokens': 2 });
  });

  it('stream usage: message_delta totals replace message_start values, nulls do not erase them', () => {
    const start = mergeUsage(undefined, { input_tokens: 25, cache_read_input_tokens: 100, output_tokens: 1 });
    const end = mergeUsage(start, { output_tokens: 40, input_tokens: null });
    assert.deepEqual(end, { input_tokens: 25, cache_read_input_tokens: 100, output_tokens: 40 });
  });

  it('error.type: the SDK class, Anthropic error type for a generic stream error, aborted for aborts', () => {
    class APIError extends Error {
      error = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    }
    class RateLimitError extends APIError {}
    class APIUserAbortError extends Error {}
    assert.equal(errorType(new APIError('x')), 'overloaded_error');
    assert.equal(errorType(new RateLimitError('x')), 'RateLimitError');
    assert.equal(errorType(new APIUserAbortError('x')), 'aborted');
    assert.equal(errorType('weird'), '_OTHER');
  });
});

describe('Anthropic instrumentation and the policy guard (real SDK, in-process)', function () {
  this.timeout(30_000);
  /* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
  const sdk = require('@anthropic-ai/sdk') as any;
  const Anthropic = sdk.Anthropic;
  const { finishedSpans } = useInProcessInstrumentation(
    new AnthropicInstrumentation({ enabled: false }),
    sdk,
    sdk.VERSION,
  );
  const params = {
    model: 'claude-sonnet-4-20250514',
    max_tokens: 4096,
    messages: [{ role: 'user', content: 'hi' }],
  };
  let fake: FakeAnthropic;
  let client: any;
  let guarded: GuardedCall[];

  before(async () => {
    fake = await startFakeAnthropic();
    client = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-test', maxRetries: 0, openTelemetry: false });
  });
  beforeEach(() => {
    fake.reset();
    guarded = [];
  });
  afterEach(() => setGuard(undefined));
  after(async () => {
    await fake?.close();
  });

  it('patches messages.create and batches.results on the prototypes', () => {
    assert.equal(typeof Anthropic.Messages.prototype.create.__wrapped, 'boolean');
    assert.equal(typeof Anthropic.Messages.Batches.prototype.results.__wrapped, 'boolean');
  });

  it('blocked: create() rejects with the policy error, nothing is sent, the span says blocked', async () => {
    setGuard({
      check(call) {
        guarded.push(call);
        throw new BudgetExceededError('team budget spent', 'search-monthly');
      },
    });
    await assert.rejects(client.messages.create(params), BudgetExceededError);
    assert.equal(fake.requests.length, 0);
    assert.equal(guarded.length, 1);
    assert.deepEqual(
      [guarded[0]!.provider, guarded[0]!.operation, guarded[0]!.model, guarded[0]!.maxTokens],
      ['anthropic', 'chat', 'claude-sonnet-4-20250514', 4096],
    );
    const [span] = await finishedSpans();
    assert.equal(span!.attributes['tokenledger.enforcement'], 'blocked');
    assert.equal(span!.attributes['tokenledger.policy'], 'search-monthly');
    assert.equal(span!.attributes['error.type'], 'BudgetExceededError');
  });

  it('blocked: the messages.stream() helper fails with the policy error (wrapped by the SDK as the cause)', async () => {
    setGuard({
      check() {
        throw new BudgetExceededError('team budget spent', 'search-monthly');
      },
    });
    // MessageStream reports any non-SDK error as an AnthropicError whose cause is the original.
    await assert.rejects(client.messages.stream(params).finalMessage(), (err: any) => {
      assert.ok(err.cause instanceof BudgetExceededError);
      assert.equal(err.message, 'team budget spent');
      return true;
    });
    assert.equal(fake.requests.length, 0);
  });

  it('verdict: model downgraded and max_tokens clamped on the wire; the app object is untouched', async () => {
    setGuard({
      check: () => ({
        model: 'claude-3-5-haiku-20241022',
        maxTokens: 256,
        attributes: { 'tokenledger.enforcement': 'downgraded', 'tokenledger.original_model': params.model },
      }),
    });
    const before = structuredClone(params);
    const message = await client.messages.create(params);
    assert.equal(message.model, 'claude-3-5-haiku-20241022');
    assert.deepEqual(params, before);
    assert.equal(fake.requests[0]!.body!.model, 'claude-3-5-haiku-20241022');
    assert.equal(fake.requests[0]!.body!.max_tokens, 256);
    const [span] = await finishedSpans();
    assert.equal(span!.attributes['tokenledger.enforcement'], 'downgraded');
    assert.equal(span!.attributes['gen_ai.request.model'], 'claude-sonnet-4-20250514');
    assert.equal(span!.attributes['gen_ai.response.model'], 'claude-3-5-haiku-20241022');
  });
  /* eslint-enable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
});

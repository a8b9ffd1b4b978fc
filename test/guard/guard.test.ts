/**
 * The in-app policy guard end to end: an app started with `node --require tokenledger/register`
 * calls the real `openai` SDK against the fake OpenAI server; a real collector process (embedded
 * ClickHouse) serves the policy written here through GET /v1/budgets and leases. Blocked calls must
 * never reach the provider; changed calls must reach it changed; spans must say what happened.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { startOtlpSink, type OtlpSink } from '../support/otlp-sink';
import {
  collectorKey,
  runCli,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { eventually, getJson, runApp, writePolicy, type AppRun, type PlanStep } from './helpers';

const POLICY = `
version: 1
fail: open
attribution: { required: [team], on_missing: block }
policies:
  - name: capped
    match: { feature: budgeted }
    models: { allow: [gpt-4o, gpt-4o-mini] }
    budget: { usd: 0.05, period: monthly }
    on_exceeded: block
  - name: cheaper
    match: { feature: downgrade }
    models: { allow: [gpt-4o, gpt-4o-mini] }
    budget: { usd: 0.02, period: monthly }
    on_exceeded: downgrade
    downgrade_to: gpt-4o-mini
  - name: cheaper-reported
    match: { feature: downgrade-report }
    models: { allow: [gpt-4o, gpt-4o-mini] }
    budget: { usd: 0.02, period: monthly }
    on_exceeded: downgrade
    downgrade_to: gpt-4o-mini
  - name: short-answers
    match: { feature: clamp }
    max_tokens_per_call: 50
  - name: strict-answers
    match: { feature: reject }
    max_tokens_per_call: 50
    on_max_tokens: reject
  - name: three-a-minute
    match: { feature: ratelimited }
    rate_limit: { calls_per_minute: 3 }
  - name: mini-only
    match: { feature: allowlist }
    models: { allow: [gpt-4o-mini] }
  - name: switched-off
    match: { feature: killed }
    disabled: true
`;

/** gpt-4o list price: $2.50 / M input, $10 / M output: 1000 + 1000 tokens = $0.0125 a call. */
const USAGE = { input: 1000, output: 1000, cached: 0, reasoning: 0 };

describe('policy guard, end to end (real openai SDK, real collector)', function () {
  this.timeout(120_000);
  let openai: FakeOpenAI;
  let collector: CollectorProcess;
  let sink: OtlpSink;
  let ingestKey: string;
  let adminKey: string;
  let policyFile: string;

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    OPENAI_BASE_URL: openai.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    TOKENLEDGER_API_KEY: ingestKey,
    ...extra,
  });
  /** Spans to the sink (to read every attribute), budgets and leases from the collector. */
  const sinkEnv = (extra: Record<string, string> = {}): Record<string, string> =>
    env({
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      TOKENLEDGER_URL: collector.url,
      ...extra,
    });
  const modelsSent = (): unknown[] => openai.requests.map((r) => r.body?.model);
  const step = (s: Partial<PlanStep> & { feature: string }): PlanStep => ({
    name: s.feature,
    model: 'gpt-4o',
    attribution: { team: 'search', feature: s.feature },
    ...s,
  });
  const ok = (run: AppRun): void => assert.equal(run.code, 0, run.stderr);

  before(async () => {
    openai = await startFakeOpenAI();
    sink = await startOtlpSink();
    const dir = tempDataDir('tl-guard-');
    policyFile = path.join(dir, 'policy.yaml');
    writePolicy(policyFile, POLICY);
    collector = await startCollectorProcess({
      dataDir: dir,
      env: { TOKENLEDGER_POLICY_FILE: policyFile, TOKENLEDGER_POLICY_POLL_MS: '200' },
    });
    ingestKey = await collectorKey(collector, 'ingest');
    adminKey = await collectorKey(collector, 'admin');
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
    await sink?.close();
  });
  beforeEach(() => {
    openai.reset();
    openai.setUsage(USAGE);
    sink.reset();
  });

  it('blocks before the wire once the budget is spent: the provider sees no request, the app gets BudgetExceededError with the numbers', async () => {
    // The app stops at BudgetExceededError and retries BudgetBusyError (the budget is not spent yet).
    const first = await runApp(
      [step({ feature: 'budgeted', max_tokens: 1000, untilBlocked: true, retryBusy: 300, max: 40 })],
      { env: env() },
    );
    ok(first);
    const allowed = first.calls.filter((c) => c.ok);
    const refused = first.calls.filter((c) => !c.ok);
    // $0.05 is exactly 4 calls of $0.0125: all of it is used, and no more.
    assert.equal(allowed.length, 4, JSON.stringify(first.calls));
    const last = refused[refused.length - 1]!;
    assert.equal(last.error!.name, 'BudgetExceededError');
    assert.equal(last.error!.policy, 'capped');
    assert.equal(last.error!.budget!.limitUsd, '0.05');
    assert.equal(last.error!.budget!.period, 'monthly');
    // "Exceeded" means spent: the figure is the collector's stored spend, at the limit.
    assert.equal(last.error!.budget!.spentUsd, '0.05');
    assert.match(last.error!.message, /policy "capped": monthly budget exceeded: \$0\.05 spent of \$0\.05/);
    assert.match(last.error!.message, /Raise budget\.usd/);
    // Before that, only BudgetBusyError (spend not stored yet), each with when to retry.
    for (const c of refused.slice(0, -1)) {
      assert.equal(c.error!.name, 'BudgetBusyError', JSON.stringify(c));
      assert.ok(c.error!.retryAfterSeconds! >= 1);
      assert.match(c.error!.message, /budget busy: .* Retry in ~\d+ s: the budget is not exceeded/);
    }
    // Each allowed call reached the provider; no refused one did.
    assert.equal(openai.requests.length, allowed.length);

    // The collector has the spend; a new process is blocked on its first call, with the stored numbers.
    const expected = (allowed.length * 125) / 10_000;
    const budgets = await eventually(async () => {
      const b = await getJson<{ policies: Array<{ name: string; budget: { spent_usd: string } | null }> }>(
        `${collector.url}/v1/budgets`,
        ingestKey,
      );
      const capped = b.policies.find((p) => p.name === 'capped')!;
      return Number(capped.budget!.spent_usd) === expected ? capped : undefined;
    });
    openai.reset();
    const second = await runApp([step({ feature: 'budgeted', max_tokens: 1000 })], { env: env() });
    ok(second);
    assert.equal(second.calls.length, 1);
    assert.equal(second.calls[0]!.error?.name, 'BudgetExceededError');
    assert.equal(second.calls[0]!.error!.budget!.spentUsd, budgets.budget!.spent_usd);
    assert.ok(second.calls[0]!.error!.message.includes(`$${budgets.budget!.spent_usd} spent of $0.05`));
    assert.equal(openai.requests.length, 0);
  });

  it('downgrades once the budget is spent: the provider sees the cheaper model, the span records both', async () => {
    const run = await runApp([step({ feature: 'downgrade', max_tokens: 1000, count: 3 })], {
      env: sinkEnv(),
    });
    ok(run);
    assert.ok(
      run.calls.every((c) => c.ok),
      JSON.stringify(run.calls),
    );
    // $0.02: the first call (up to $0.0151) fits, then what is left does not.
    assert.deepEqual(modelsSent(), ['gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini']);
    await sink.waitForSpans(3);
    const downgraded = sink.spans.filter((s) => s.attributes['tokenledger.enforcement'] === 'downgraded');
    assert.equal(downgraded.length, 2);
    for (const s of downgraded) {
      assert.equal(s.attributes['gen_ai.request.model'], 'gpt-4o-mini');
      assert.equal(s.attributes['tokenledger.original_model'], 'gpt-4o');
      assert.equal(s.attributes['tokenledger.policy'], 'cheaper');
    }
  });

  it('stores the model a downgraded call asked for: `report --by asked_model` shows what was downgraded', async () => {
    const run = await runApp([step({ feature: 'downgrade-report', max_tokens: 1000, count: 3 })], {
      env: env(),
    });
    ok(run);
    assert.deepEqual(modelsSent(), ['gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini']);
    const query = `${collector.url}/v1/reports/spend?period=current_month&groupBy=asked_model,model&feature=downgrade-report`;
    type Row = { asked_model: string; model: string; calls: number };
    const report = await eventually(async () => {
      const r = await getJson<{ breakdown: Row[] }>(query, adminKey);
      return r.breakdown.reduce((n, b) => n + b.calls, 0) === 3 ? r : undefined;
    });
    const rows = report.breakdown.map((b) => [b.asked_model, b.model, b.calls]).sort();
    // The call that was not downgraded reads asked = model.
    assert.deepEqual(rows, [
      ['gpt-4o', 'gpt-4o', 1],
      ['gpt-4o', 'gpt-4o-mini', 2],
    ]);
    // The CLI, as a team lead runs it.
    const { stdout } = await runCli(
      [
        'report',
        '--period',
        'current_month',
        '--by',
        'asked_model,model',
        '--filter',
        'feature=downgrade-report',
        '--json',
      ],
      { ...process.env, TOKENLEDGER_URL: collector.url, TOKENLEDGER_API_KEY: adminKey },
    );
    const cliRows = (JSON.parse(stdout) as { breakdown: Row[] }).breakdown.map((b) => [
      b.asked_model,
      b.model,
      b.calls,
    ]);
    assert.deepEqual(cliRows.sort(), rows);
  });

  it('clamps max tokens (also when the app set none), or rejects when the policy says so', async () => {
    const run = await runApp(
      [
        step({ feature: 'clamp', max_tokens: 500 }),
        step({ feature: 'clamp' }),
        step({ feature: 'clamp', max_tokens: 20 }),
        step({ feature: 'reject', max_tokens: 500 }),
      ],
      { env: sinkEnv() },
    );
    ok(run);
    assert.deepEqual(
      run.calls.map((c) => c.ok),
      [true, true, true, false],
    );
    assert.deepEqual(
      openai.requests.map((r) => [r.body?.max_tokens, r.body?.max_completion_tokens]),
      [
        [50, undefined],
        [undefined, 50],
        [20, undefined],
      ],
    );
    const rejected = run.calls[3]!.error!;
    assert.equal(rejected.name, 'MaxTokensExceededError');
    assert.match(
      rejected.message,
      /policy "strict-answers": the call asks for 500 max output tokens, the limit is 50/,
    );
    await sink.waitForSpans(4);
    const clamped = sink.spans.filter((s) => s.attributes['tokenledger.enforcement'] === 'clamped');
    assert.equal(clamped.length, 2);
    assert.ok(clamped.every((s) => s.attributes['gen_ai.request.max_tokens'] === 50));
  });

  it('rate-limits calls per minute, per process', async () => {
    const run = await runApp([step({ feature: 'ratelimited', count: 5 })], { env: env() });
    ok(run);
    assert.deepEqual(
      run.calls.map((c) => c.ok),
      [true, true, true, false, false],
    );
    assert.equal(openai.requests.length, 3);
    const e = run.calls[3]!.error!;
    assert.equal(e.name, 'RateLimitedError');
    assert.match(
      e.message,
      /policy "three-a-minute": rate limit of 3 calls per minute \(per process\) reached/,
    );
  });

  it('no tag, no call: a call without the required attribution never leaves; the resource can supply it', async () => {
    const untagged: PlanStep = { name: 'untagged', model: 'gpt-4o', attribution: { feature: 'misc' } };
    const run = await runApp([untagged], { env: env() });
    ok(run);
    assert.equal(run.calls[0]!.error?.name, 'AttributionRequiredError');
    assert.deepEqual(run.calls[0]!.error!.missing, ['team']);
    assert.match(run.calls[0]!.error!.message, /this call has no team .*withAttribution\(\{ team: '…' \}/);
    assert.equal(openai.requests.length, 0);

    const fromResource = await runApp([untagged], {
      env: env({ OTEL_RESOURCE_ATTRIBUTES: 'tokenledger.team=platform' }),
    });
    ok(fromResource);
    assert.equal(fromResource.calls[0]!.ok, true);
    assert.equal(openai.requests.length, 1);
  });

  it('enforces a model allow-list', async () => {
    const run = await runApp(
      [
        step({ feature: 'allowlist', model: 'gpt-4o' }),
        step({ feature: 'allowlist', model: 'gpt-4o-mini' }),
        step({ feature: 'allowlist', model: 'gpt-4o', withResponse: true }),
      ],
      { env: env() },
    );
    ok(run);
    assert.equal(run.calls[0]!.error?.name, 'ModelNotAllowedError');
    assert.equal(run.calls[2]!.error?.name, 'ModelNotAllowedError', 'create().withResponse() gets it too');
    assert.match(
      run.calls[0]!.error!.message,
      /policy "mini-only": model gpt-4o is not on its allow list \(gpt-4o-mini\)/,
    );
    assert.equal(run.calls[1]!.ok, true);
    assert.deepEqual(modelsSent(), ['gpt-4o-mini']);
  });

  it('kill switch: a disabled policy, then the global switch (hot-reloaded), block before the wire', async () => {
    const run = await runApp([step({ feature: 'killed' }), step({ feature: 'clamp' })], { env: env() });
    ok(run);
    assert.equal(run.calls[0]!.error?.name, 'KillSwitchError');
    assert.match(run.calls[0]!.error!.message, /policy "switched-off" is disabled/);
    assert.equal(run.calls[1]!.ok, true);
    assert.equal(openai.requests.length, 1);

    writePolicy(policyFile, POLICY.replace('fail: open', 'kill_switch: true\nfail: open'));
    await eventually(async () => {
      const b = await getJson<{ kill_switch: boolean }>(`${collector.url}/v1/budgets`, ingestKey);
      return b.kill_switch ? true : undefined;
    });
    openai.reset();
    const killed = await runApp([step({ feature: 'clamp' })], { env: env() });
    ok(killed);
    assert.equal(killed.calls[0]!.error?.name, 'KillSwitchError');
    assert.match(killed.calls[0]!.error!.message, /global kill switch is on/);
    assert.equal(openai.requests.length, 0);
    writePolicy(policyFile, POLICY);
  });

  it('fail open (default): with the collector down the app works, without delay, and exits promptly', async () => {
    for (const url of ['http://127.0.0.1:9', 'http://10.255.255.1:4318']) {
      const run = await runApp([step({ feature: 'budgeted', count: 3 })], {
        env: env({ TOKENLEDGER_URL: url, OTEL_EXPORTER_OTLP_ENDPOINT: url, GUARD_WAIT: '300' }),
      });
      ok(run);
      assert.ok(
        run.calls.every((c) => c.ok),
        JSON.stringify(run.calls),
      );
      assert.equal(openai.requests.length, 3);
      // Nothing waits for the collector: a refresh to the black-holed address would take its 1.5 s
      // timeout; the bound leaves room for a loaded machine (the first call includes the SDK's warm-up).
      assert.ok(Math.max(...run.calls.map((c) => c.ms)) < 1_000, JSON.stringify(run.calls));
      // Its requests never hold the process: it exits (a kept-alive process would hit the test timeout).
      assert.ok(run.wallMs < 30_000, `process took ${run.wallMs} ms`);
      openai.reset();
    }
  });

  it('fail closed: once the collector is unreachable, calls are blocked with a clear error', async () => {
    writePolicy(policyFile, POLICY.replace('fail: open', 'fail: closed'));
    await eventually(async () => {
      const b = await getJson<{ fail: string }>(`${collector.url}/v1/budgets`, ingestKey);
      return b.fail === 'closed' ? true : undefined;
    });
    const run = await runApp(
      [step({ feature: 'clamp', name: 'before' }), step({ feature: 'clamp', name: 'after', waitMs: 3_000 })],
      {
        env: env({ TOKENLEDGER_GUARD_FAIL_AFTER_MS: '1500', TOKENLEDGER_GUARD_REFRESH_MS: '250' }),
        onLine: (l) => {
          if (l.step === 'before') void collector.stop();
        },
      },
    );
    ok(run);
    assert.equal(run.calls[0]!.ok, true);
    assert.equal(run.calls[1]!.error?.name, 'CollectorUnreachableError');
    assert.match(
      run.calls[1]!.error!.message,
      /has not answered for \d+ s and the policy file says fail: closed/,
    );
    assert.equal(openai.requests.length, 1);
  });
});

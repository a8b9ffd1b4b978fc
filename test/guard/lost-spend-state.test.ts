/**
 * The state a guard reads (GET /v1/budgets) agrees with the lease answers (decision 0104): spend a
 * holder reported and the collector never stored counts as spent a minute after the report — in the
 * lease answers (decision 0094) and in the state — while the holder lives, after it returned its
 * lease and after its lease expired; so a one-shot process started once the cap is spent gets
 * `BudgetExceededError` from its first state, not `BudgetBusyError` below the limit. When the late
 * span is stored after all it counts once, however often it is sent. The collector's app runs on
 * the embedded engine with a fake clock for its budgets and leases; the guard is the real one,
 * in-process, over HTTP.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { BudgetEngine } from '../../collector/src/govern/budgets/engine';
import { LeaseBook } from '../../collector/src/govern/budgets/leases';
import { parsePolicy, type LoadedPolicy } from '../../collector/src/govern/policy/load';
import { PolicyPricer } from '../../collector/src/pricing/policy-pricer';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import type { Storage } from '../../collector/src/storage/client';
import { CallWriter } from '../../collector/src/storage/writer';
import { Money } from '../../collector/src/core/money';
import { GuardEngine } from '../../instrumentation/src/guard/engine';
import { PendingVerdict } from '../../instrumentation/src/guard/hook';
import { nanos, pricedCall } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';

const NOW = new Date('2026-11-20T12:00:00Z');
const INGEST = 'ingest-key-lost-spend-0123';

const POLICY_YAML = `
version: 1
policies:
  - name: capped
    match: { feature: overshoot }
    budget: { usd: 0.05, period: monthly }
    on_exceeded: block
pricing:
  overrides: [{ model: house-llm, input_mtok: 1000, output_mtok: 0 }]
`;

/** An OTLP/JSON export of one house-llm call paid from `leaseId`: 5 input tokens, $0.005 by the policy's price. */
function lateSpan(leaseId: string): string {
  const start = NOW.getTime() - 30_000;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'worker' } }] },
        scopeSpans: [
          {
            scope: { name: 'tokenledger' },
            spans: [
              {
                traceId: 'a'.repeat(32),
                spanId: 'b'.repeat(16),
                name: 'chat house-llm',
                kind: 3,
                startTimeUnixNano: `${start}000000`,
                endTimeUnixNano: `${start + 500}000000`,
                attributes: [
                  { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
                  { key: 'gen_ai.provider.name', value: { stringValue: 'vllm' } },
                  { key: 'gen_ai.request.model', value: { stringValue: 'house-llm' } },
                  { key: 'gen_ai.usage.input_tokens', value: { intValue: '5' } },
                  { key: 'gen_ai.usage.output_tokens', value: { intValue: '0' } },
                  { key: 'tokenledger.feature', value: { stringValue: 'overshoot' } },
                  { key: 'tokenledger.leases', value: { stringValue: leaseId } },
                ],
                status: {},
              },
            ],
          },
        ],
      },
    ],
  });
}

describe('the budget state agrees with the leases: lost spend is spent in both (decision 0104)', function () {
  this.timeout(60_000);
  let storage: Storage;
  let server: Server;
  let url: string;
  let clock: number;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    storage = await freshStorage();
    // $0.045 of the $0.05 cap stored already.
    await new CallWriter(storage).write([
      pricedCall(
        {
          traceId: '1'.repeat(32),
          spanId: '1'.repeat(16),
          startTimeUnixNano: nanos('2026-11-20T11:00:00Z'),
          requestModel: 'house-llm',
          pricedModel: 'house-llm',
          pricedProvider: 'vllm',
          costUsd: '0.045',
          priced: true,
        },
        { feature: 'overshoot' },
      ),
    ]);
    const parsed = parsePolicy(POLICY_YAML);
    assert.ok(parsed.ok);
    const loaded: LoadedPolicy = { file: 'test.yaml', policy: parsed.policy, version: 'f'.repeat(64) };
    clock = NOW.getTime();
    const budgets = new BudgetEngine({
      storage,
      policy: () => loaded.policy,
      now: () => new Date(clock),
      maxAgeMs: 0,
    });
    const app = createApp({
      storage,
      writer: new CallWriter(storage),
      pricer: new PolicyPricer(loaded.policy),
      keys: new KeyRing([{ role: 'ingest', key: INGEST, name: 'worker-key' }]),
      metrics: new CollectorMetrics(),
      maxBodyBytes: 1024 * 1024,
      log: () => undefined,
      budgets,
      policy: () => loaded,
      leases: new LeaseBook(budgets, { now: () => clock, busyHoldMs: 0 }),
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const k of ['TOKENLEDGER_URL', 'TOKENLEDGER_API_KEY', 'TOKENLEDGER_GUARD_CACHE'])
      saved[k] = process.env[k];
    Object.assign(process.env, {
      TOKENLEDGER_URL: url,
      TOKENLEDGER_API_KEY: INGEST,
      TOKENLEDGER_GUARD_CACHE: 'off',
    });
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await new Promise((r) => server.close(r));
    await storage.close();
  });

  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  const lease = (holder: string, more: Record<string, string>) =>
    call('POST', '/v1/budgets/leases', {
      policy: 'capped',
      period_start: '2026-11-01T00:00:00.000Z',
      holder,
      requested_usd: '0',
      ...more,
    });
  const budget = async (): Promise<{ spent: string; state: string; remaining: string }> => {
    const body = (await call('GET', '/v1/budgets')) as {
      policies: Array<{ budget: { spent_usd: string; state: string; remaining_usd: string } }>;
    };
    const b = body.policies[0]!.budget;
    return { spent: b.spent_usd, state: b.state, remaining: b.remaining_usd };
  };

  /** A fresh process's first call, decided by the real guard from the state it fetches. */
  async function oneShot(): Promise<{ name: string; spentUsd?: string }> {
    const engine = new GuardEngine({ refreshMs: 60_000, resource: {} });
    engine.start();
    try {
      const d = engine.check({
        provider: 'openai',
        operation: 'chat',
        model: 'gpt-4o-mini',
        maxTokens: 10,
        attributes: { 'tokenledger.feature': 'overshoot' },
        span: {},
      });
      if (d instanceof PendingVerdict) await d.promise;
      return { name: 'sent' };
    } catch (err) {
      const e = err as Error & { budget?: { spentUsd: string } };
      return { name: e.name, ...(e.budget ? { spentUsd: e.budget.spentUsd } : {}) };
    } finally {
      engine.stop();
      await engine.releaseLeases();
    }
  }

  it('counts a live holder’s unstored spend after a minute, keeps it once the holder returned its lease, and counts a late span once', async () => {
    // A worker takes the rest of the cap, spends it, and reports it; its spans never arrive.
    const granted = await lease('worker', { requested_usd: '0.005' });
    assert.equal(granted.granted_usd, '0.005');
    const leaseId = String(granted.lease_id);
    await lease('worker', { used_usd: '0.005' });
    const within = await budget();
    assert.deepEqual(
      [within.spent, within.remaining],
      ['0.045', '0.005'],
      'held, not spent, within the minute',
    );

    clock += 61_000;
    await lease('worker', { used_usd: '0.005' });
    assert.deepEqual(
      await budget(),
      { spent: '0.05', state: 'exceeded', remaining: '0' },
      'a minute later: spent',
    );
    assert.deepEqual(await oneShot(), { name: 'BudgetExceededError', spentUsd: '0.05' });

    // The worker stops (told exceeded) and returns its lease: what it spent stays spent.
    await call('DELETE', `/v1/budgets/leases/${leaseId}?used_usd=0.005`);
    clock += 61_000;
    assert.deepEqual(
      await budget(),
      { spent: '0.05', state: 'exceeded', remaining: '0' },
      'returned: still spent',
    );
    assert.deepEqual(await oneShot(), { name: 'BudgetExceededError', spentUsd: '0.05' });
    const refused = await lease('late-process', { need_usd: '0.001' });
    assert.deepEqual([refused.state, refused.spent_usd, refused.granted_usd], ['exceeded', '0.05', '0']);

    // Its span is stored after all (an exporter that kept it), then sent again: counted once.
    for (let i = 0; i < 2; i++) {
      await call('POST', '/v1/traces', JSON.parse(lateSpan(leaseId)));
      clock += 1_000;
      assert.deepEqual(
        await budget(),
        { spent: '0.05', state: 'exceeded', remaining: '0' },
        `stored, sent ${i + 1}×`,
      );
    }
  });

  it('an expired lease (its process killed) keeps what its holder reported spent', async () => {
    // The expiry path on a book of its own, over the same store, with a $1 limit.
    const engine = new BudgetEngine({
      storage,
      policy: () => parsePolicyOk(POLICY_YAML.replace('0.05', '1')),
      now: () => new Date(clock),
      maxAgeMs: 0,
    });
    const book = new LeaseBook(engine, { now: () => clock, ttlMs: 120_000, busyHoldMs: 0 });
    const periodStart = new Date('2026-11-01T00:00:00.000Z');
    const ask = (holder: string, more: Partial<Parameters<LeaseBook['grant']>[0]> = {}) =>
      book.grant({
        policy: 'capped',
        periodStart,
        keyName: 'k',
        holder,
        requestedUsd: new Money('0'),
        ...more,
      });
    const stored = (await engine.spendFigure('capped', periodStart)).usd;
    await ask('killed', { requestedUsd: new Money('0.1') });
    await ask('killed', { usedUsd: new Money('0.04') });
    // Killed: no more reports, no return. 2 minutes later its lease expires.
    clock += 121_000;
    const answer = await ask('other');
    assert.equal(answer.spentUsd.toFixed(), stored.plus('0.04').toFixed(), 'reported, never stored: spent');
    assert.equal(book.lostSpend('capped', periodStart, clock).toFixed(), '0.04');
    assert.equal(answer.holders, 1, 'the killed process no longer holds a lease');
  });
});

function parsePolicyOk(yaml: string) {
  const parsed = parsePolicy(yaml);
  assert.ok(parsed.ok);
  return parsed.policy;
}

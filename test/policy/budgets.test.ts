import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Decimal from 'decimal.js';
import { KeyRing } from '../../collector/src/govern/keys/keys';
import { BudgetEngine } from '../../collector/src/govern/budgets/engine';
import type { PricedCall } from '../../collector/src/core/call';
import { parsePolicy, type LoadedPolicy } from '../../collector/src/govern/policy/load';
import { PolicyPricer } from '../../collector/src/pricing/policy-pricer';
import { createApp } from '../../collector/src/http/app';
import { CollectorMetrics } from '../../collector/src/http/metrics';
import type { Storage } from '../../collector/src/storage/client';
import { CallWriter } from '../../collector/src/storage/writer';
import { nanos, pricedCall } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';

const NOW = new Date('2026-11-20T12:00:00Z');

const POLICY_YAML = `
version: 1
kill_switch: false
fail: closed
attribution: { required: [team] }
policies:
  - name: search-monthly
    match: { team: search }
    models: { allow: [gpt-4o, gpt-4o-mini] }
    budget: { usd: 10, period: monthly }
    on_exceeded: downgrade
    downgrade_to: gpt-4o-mini
    alerts: { at: [0.5, 1.0] }
  - name: kolkata-ads
    match: { team: ads, model: [gpt-4o] }
    budget: { usd: 2, period: monthly, timezone: Asia/Kolkata }
  - name: no-budget
    match: { team: search }
    max_tokens_per_call: 100
pricing:
  overrides: [{ model: house-llm, input_mtok: 1, output_mtok: 2 }]
`;

let n = 0;
function call(at: string, team: string, costUsd: string, model = 'gpt-4o'): PricedCall {
  n++;
  return pricedCall(
    {
      traceId: n.toString(16).padStart(32, '0'),
      spanId: n.toString(16).padStart(16, '0'),
      startTimeUnixNano: nanos(at),
      requestModel: model,
      pricedModel: model,
      pricedProvider: 'openai',
      costUsd,
      priced: true,
    },
    { team },
  );
}

/** Calls and whether each counts towards which policy's current period. */
const STORED: Array<{ call: PricedCall; search: boolean; kolkata: boolean }> = [
  { call: call('2026-11-03T10:15:00Z', 'search', '2.5'), search: true, kolkata: false },
  { call: call('2026-11-20T11:40:00.250Z', 'search', '0.000123456789'), search: true, kolkata: false },
  { call: call('2026-10-31T23:59:59Z', 'search', '7'), search: false, kolkata: false }, // October (UTC)
  { call: call('2026-11-10T09:00:00Z', 'ads', '0.4'), search: false, kolkata: true },
  { call: call('2026-11-10T09:00:00Z', 'ads', '0.3', 'gpt-4o-mini'), search: false, kolkata: false }, // other model
  // Both in the UTC hour 18:00-19:00 of Oct 31; the Kolkata month starts at 18:30 UTC.
  { call: call('2026-10-31T18:10:00Z', 'ads', '0.9'), search: false, kolkata: false },
  { call: call('2026-10-31T18:45:00Z', 'ads', '0.6'), search: false, kolkata: true },
];

/** The parts of GET /v1/budgets this suite reads. */
interface BudgetsBody {
  policy_version: string;
  kill_switch: boolean;
  fail: string;
  attribution: unknown;
  policies: Array<Record<string, unknown> & { name: string; budget: Record<string, string> | null }>;
  prices: Record<string, Record<string, string>>;
}

const sum = (calls: PricedCall[]): Decimal => calls.reduce((s, c) => s.plus(c.costUsd), new Decimal(0));

describe('budget engine and GET /v1/budgets', () => {
  let storage: Storage;
  let loaded: LoadedPolicy;
  let unflushed: PricedCall[] = [];
  let engine: BudgetEngine;

  before(async () => {
    storage = await freshStorage();
    await new CallWriter(storage).write(STORED.map((s) => s.call));
    const parsed = parsePolicy(POLICY_YAML);
    assert.ok(parsed.ok);
    loaded = { file: 'test.yaml', policy: parsed.policy, version: 'f'.repeat(64) };
    engine = new BudgetEngine({
      storage,
      policy: () => loaded.policy,
      unflushed: () => unflushed,
      now: () => NOW,
      maxAgeMs: 0,
    });
  });
  after(() => storage.close());

  it('sums stored spend per policy over its period and selectors, partial hours included', async () => {
    const statuses = await engine.statuses({ fresh: true });
    assert.deepEqual(
      statuses.map((s) => s.policy),
      ['search-monthly', 'kolkata-ads'],
    );
    const [search, kolkata] = statuses;
    assert.equal(
      search!.spentUsd.toFixed(),
      sum(STORED.filter((s) => s.search).map((s) => s.call)).toFixed(),
    );
    assert.equal(
      kolkata!.spentUsd.toFixed(),
      sum(STORED.filter((s) => s.kolkata).map((s) => s.call)).toFixed(),
    );
    assert.equal(kolkata!.periodStart.toISOString(), '2026-10-31T18:30:00.000Z');
  });

  it('adds spend accepted but not yet stored, within the period and the selectors only', async () => {
    const pending = call('2026-11-20T11:59:00Z', 'search', '3');
    unflushed = [
      pending,
      call('2026-11-20T11:59:00Z', 'ads', '1', 'gpt-4o-mini'),
      call('2026-10-02T00:00:00Z', 'search', '5'),
    ];
    try {
      const spent = await engine.spentUsd('search-monthly');
      const stored = sum(STORED.filter((s) => s.search).map((s) => s.call));
      assert.equal(spent.toFixed(), stored.plus(pending.costUsd).toFixed());
    } finally {
      unflushed = [];
    }
  });

  it('states: ok below the first alert threshold, warning from it, exceeded at the limit; linear forecast', async () => {
    const states: string[] = [];
    for (const extra of ['0', '2.5', '7.5']) {
      unflushed = extra === '0' ? [] : [call('2026-11-20T11:00:00Z', 'search', extra)];
      const s = (await engine.statuses({ fresh: true }))[0]!;
      states.push(s.state);
      const length = s.periodEnd.getTime() - s.periodStart.getTime();
      const elapsed = NOW.getTime() - s.periodStart.getTime();
      assert.equal(
        s.forecastUsd.toFixed(),
        new Decimal(s.spentUsd.toFixed())
          .times(length)
          .dividedBy(elapsed)
          .toDecimalPlaces(6, Decimal.ROUND_HALF_UP)
          .toFixed(),
      );
      assert.equal(
        s.remainingUsd.toFixed(),
        Decimal.max(new Decimal(10).minus(s.spentUsd.toFixed()), 0).toFixed(),
      );
    }
    unflushed = [];
    // 2.5001… of 10 → ok; +2.5 = 5.0001 ≥ 50 % → warning; +7.5 ≥ 10 → exceeded.
    assert.deepEqual(states, ['ok', 'warning', 'exceeded']);
  });

  it('writes budget_snapshots rows', async () => {
    await engine.snapshot();
    const rs = await storage.client.query({
      query: `SELECT policy, period, toString(period_start) AS period_start, toString(spent_usd) AS spent, state
              FROM ${storage.database}.budget_snapshots ORDER BY policy`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{
      policy: string;
      period: string;
      period_start: string;
      spent: string;
      state: string;
    }>();
    assert.deepEqual(
      rows.map((r) => [r.policy, r.period, r.period_start, new Decimal(r.spent).toFixed()]),
      [
        [
          'kolkata-ads',
          'monthly',
          '2026-10-31 18:30:00',
          sum(STORED.filter((s) => s.kolkata).map((s) => s.call)).toFixed(),
        ],
        [
          'search-monthly',
          'monthly',
          '2026-11-01 00:00:00',
          sum(STORED.filter((s) => s.search).map((s) => s.call)).toFixed(),
        ],
      ],
    );
  });

  it('stop() waits for the snapshot in flight (the collector closes the storage right after)', async () => {
    const at = new Date(NOW.getTime() + 60_000);
    const started = new BudgetEngine({ storage, policy: () => loaded.policy, now: () => at, maxAgeMs: 0 });
    started.start(60_000); // snapshots once at once
    await started.stop();
    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM ${storage.database}.budget_snapshots WHERE at = {at: DateTime64(3, 'UTC')}`,
      query_params: { at: at.getTime() / 1000 },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: number | string }>();
    assert.equal(Number(row!.n), 2, 'both policies snapshotted');
  });

  describe('GET /v1/budgets', () => {
    let server: Server;
    let url: string;
    const KEYS = {
      ingest: 'ingest-key-0123456789',
      viewer: 'viewer-key-0123456789',
      approver: 'approver-key-0123456789',
    };

    before(async () => {
      const app = createApp({
        storage,
        writer: new CallWriter(storage),
        pricer: new PolicyPricer(loaded.policy),
        keys: new KeyRing([
          { role: 'ingest', key: KEYS.ingest },
          { role: 'viewer', key: KEYS.viewer },
          { role: 'approver', key: KEYS.approver },
        ]),
        metrics: new CollectorMetrics(),
        maxBodyBytes: 1024 * 1024,
        log: () => undefined,
        budgets: engine,
        policy: () => loaded,
      });
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/budgets`;
    });
    after(() => new Promise((r) => server.close(r)));

    it('answers an ingest or a read key with the policy, budget states and prices', async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${KEYS.ingest}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as BudgetsBody;
      assert.equal(body.policy_version, loaded.version);
      assert.equal(body.kill_switch, false);
      assert.equal(body.fail, 'closed');
      assert.deepEqual(body.attribution, { required: ['team'], on_missing: 'block' });
      assert.deepEqual(
        body.policies.map((p: { name: string }) => p.name),
        ['search-monthly', 'kolkata-ads', 'no-budget'],
      );
      const [search, kolkata, none] = body.policies as [
        BudgetsBody['policies'][number],
        BudgetsBody['policies'][number],
        BudgetsBody['policies'][number],
      ];
      assert.equal(search.downgrade_to, 'gpt-4o-mini');
      assert.deepEqual(search.alerts, { at: [0.5, 1.0] });
      const status = (await engine.statuses())[0]!;
      assert.deepEqual(search.budget, {
        usd: '10',
        period: 'monthly',
        timezone: 'UTC',
        period_start: '2026-11-01T00:00:00.000Z',
        period_end: '2026-12-01T00:00:00.000Z',
        spent_usd: status.spentUsd.toFixed(),
        remaining_usd: status.remainingUsd.toFixed(),
        state: status.state,
        forecast_usd: status.forecastUsd.toFixed(),
        forecast_low_usd: status.forecastLowUsd.toFixed(),
        forecast_high_usd: status.forecastHighUsd.toFixed(),
        breach_at: null,
      });
      assert.equal(kolkata.budget?.timezone, 'Asia/Kolkata');
      assert.equal(none.budget, null);
      assert.equal(none.max_tokens_per_call, 100);
      for (const key of ['openai/gpt-4o', 'openai/gpt-4o-mini', '*/house-llm'])
        assert.ok(body.prices[key], `prices has ${key}: ${Object.keys(body.prices).join(', ')}`);
      assert.deepEqual(body.prices['*/house-llm'], { input_mtok: '1', output_mtok: '2' });
      assert.match(body.prices['openai/gpt-4o']?.input_mtok ?? '', /^\d+(\.\d+)?$/);

      const viewer = await fetch(url, { headers: { authorization: `Bearer ${KEYS.viewer}` } });
      assert.equal(viewer.status, 200);
    });

    it('refuses requests without a key', async () => {
      assert.equal((await fetch(url)).status, 401);
    });
  });
});

describe('CallWriter.unflushedCalls', () => {
  it('holds a call from write() until it is stored', async () => {
    const storage = await freshStorage();
    try {
      const writer = new CallWriter(storage);
      const c = call('2026-11-20T11:00:00Z', 'search', '1');
      const written = writer.write([c]);
      assert.deepEqual(writer.unflushedCalls(), [c]);
      await written;
      assert.deepEqual(writer.unflushedCalls(), []);
    } finally {
      await storage.close();
    }
  });

  it('counts a span sent again once: neither a copy waiting beside it nor a retry of one already stored', async () => {
    const storage = await freshStorage();
    try {
      const writer = new CallWriter(storage, { exclusive: true });
      await writer.init();
      const c = call('2026-11-20T11:00:00Z', 'search', '1');
      const d = call('2026-11-20T11:00:01Z', 'search', '2');
      // An export and its retry, both waiting: one call.
      const both = Promise.all([writer.write([c]), writer.write([{ ...c }, d])]);
      assert.deepEqual(writer.unflushedCalls(), [c, d]);
      await both;
      // A retry of a batch this process stored (its ack was lost): nothing unstored.
      const retry = writer.write([{ ...c }]);
      assert.deepEqual(writer.unflushedCalls(), []);
      assert.deepEqual(await retry, { inserted: 0, duplicates: 1 });
    } finally {
      await storage.close();
    }
  });
});

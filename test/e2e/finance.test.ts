/**
 * The finance questions end to end, the way users ask them: a collector process with a policy file,
 * a year of calls (ending yesterday) sent through POST /v1/traces, then the CLI and the API —
 * budgets of last month with the limit labelled by where it comes from, forecasts with their
 * interval, the backtest's figures, before/after baselines marked by hand and found in a new
 * service.version, and what downgrades saved. Every dollar expected is computed from the spans
 * sent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import BaseDecimal from 'decimal.js';
import { jsonBody, recordSpans, type SpanSpec } from '../collector/otlp-helpers';
import {
  CLI,
  REPO_ROOT,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { spendYear, YEAR_DAYS, YEAR_POLICY_YAML } from '../support/spend-year';

// Exact per-call averages need more than decimal.js's default 20 significant digits.
const Decimal = BaseDecimal.clone({ precision: 80 });
type Decimal = BaseDecimal;
const run = promisify(execFile);
const KEYS = { admin: 'admin-key-finance-e2e-0001', ingest: 'ingest-key-finance-e2e-001' };
const DAY_MS = 86_400_000;

const POLICY = `${YEAR_POLICY_YAML}pricing:
  overrides:
    - { model: house-llm, input_mtok: 10000, output_mtok: 10000 } # a cent a token
`;

/** A call as sent: its time, team, feature, service version and exact cost (tokens × $0.01). */
interface Sent {
  at: number;
  team: string;
  feature: string;
  version: string;
  usd: Decimal;
}

/** The search service ships 5.1.0 ten days before the end of the year. */
const RELEASE_DAY = YEAR_DAYS - 10;

describe('finance end to end (collector process, CLI, a year of spans)', function () {
  this.timeout(660_000);
  let collector: CollectorProcess;
  let dataDir: string;
  let env: Record<string, string>;
  const sent: Sent[] = [];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const start = today - YEAR_DAYS * DAY_MS;
  const releaseAt = start + RELEASE_DAY * DAY_MS;

  const cli = async (...args: string[]) =>
    (await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env })).stdout;
  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const res = await fetch(`${collector.url}${pathAndQuery}`, {
      headers: { authorization: `Bearer ${KEYS.admin}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as T;
  };
  const start_ = (policyFile: string) =>
    startCollectorProcess({
      dataDir,
      env: {
        TOKENLEDGER_API_KEYS: `admin:${KEYS.admin},ingest:${KEYS.ingest}`,
        TOKENLEDGER_POLICY_FILE: policyFile,
        TOKENLEDGER_BUDGET_REFRESH_MS: '1000',
        TOKENLEDGER_RELEASE_CHECK_MS: '1000',
      },
    });

  before(async () => {
    dataDir = tempDataDir('tl-finance-');
    const policyFile = path.join(dataDir, 'tokenledger.policy.yaml');
    writeFileSync(policyFile, POLICY);
    collector = await start_(policyFile);
    env = { ...process.env, TOKENLEDGER_URL: collector.url, TOKENLEDGER_API_KEY: KEYS.admin } as Record<
      string,
      string
    >;

    // The generated year, each call priced by the collector: tokens = cents.
    const { calls } = spendYear({ start, callUsd: 20 });
    const groups = new Map<string, SpanSpec[]>();
    for (const c of calls) {
      const at = Number(BigInt(c.startTimeUnixNano) / 1_000_000n);
      const team = c.attribution.team;
      const version = team === 'search' ? (at < releaseAt ? '5.0.0' : '5.1.0') : '1.0.0';
      const tokens = Math.max(1, Math.round(Number(c.costUsd) * 100));
      sent.push({ at, team, feature: c.attribution.feature, version, usd: new Decimal(tokens).div(100) });
      const key = `${team}\u0000${version}`;
      const spec: SpanSpec = {
        name: 'chat house-llm',
        scope: 'tokenledger/openai',
        startTime: new Date(at),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'house-llm',
          'gen_ai.usage.input_tokens': tokens,
          'gen_ai.usage.output_tokens': 0,
          'tokenledger.feature': c.attribution.feature,
        },
      };
      groups.set(key, [...(groups.get(key) ?? []), spec]);
    }
    // Three calls the guard moved from gpt-4o to gpt-4o-mini, two hours ago.
    const downgradedAt = Date.now() - 2 * 3_600_000;
    const downgraded: SpanSpec = {
      name: 'chat gpt-4o-mini',
      scope: 'tokenledger/openai',
      startTime: new Date(downgradedAt),
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 10_000,
        'gen_ai.usage.output_tokens': 2_000,
        'tokenledger.feature': 'invoice-extraction',
        'tokenledger.enforcement': 'downgraded',
        'tokenledger.original_model': 'gpt-4o',
      },
    };
    groups.set('billing\u00001.0.0', [
      ...groups.get('billing\u00001.0.0')!,
      downgraded,
      downgraded,
      downgraded,
    ]);
    for (const [key, specs] of groups) {
      const [team, version] = key.split('\u0000') as [string, string];
      for (let i = 0; i < specs.length; i += 500) {
        const body = jsonBody(
          recordSpans(
            { 'service.name': `${team}-api`, 'service.version': version, 'tokenledger.team': team },
            specs.slice(i, i + 500),
          ),
        );
        const res = await fetch(`${collector.url}/v1/traces`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEYS.ingest}`, 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 200, await res.text());
      }
    }
    // A year of history arrives into hours the rollup had already sealed (empty): the collector
    // rebuilds them, a day per statement. Wait until every month's whole-hours report (the rollup)
    // equals what was sent, after the rollup's frontier move is published (5 s).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const months: Array<[number, number]> = [];
    for (let m = start; m < today;) {
      const d = new Date(m);
      const next = Math.min(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1), today);
      months.push([m, next]);
      m = next;
    }
    // Each hour is built into five hourly rollups (decision 0081): a year of backfill takes a few
    // minutes under load.
    const deadline = Date.now() + 600_000;
    for (const [from, to] of months) {
      // Before 02:00 UTC the three downgraded calls ($0.0027 each) fall before today, in the last range.
      const expected = sent
        .filter((c) => c.at >= from && c.at < to)
        .reduce(
          (s, c) => s.plus(c.usd),
          new Decimal(downgradedAt >= from && downgradedAt < to ? '0.0081' : 0),
        );
      for (;;) {
        const r = await api<{ total_usd: string }>(
          `/v1/reports/spend?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`,
        );
        if (new Decimal(r.total_usd).eq(expected)) break;
        if (Date.now() > deadline)
          assert.fail(
            `rollup behind for ${new Date(from).toISOString()}: ${r.total_usd} of ${expected.toFixed()}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    // A restart, as after an upgrade: the release is found in the last 30 days of spans, the
    // burn-down is computed for the whole year, and the policy is stored a second time.
    await collector.stop();
    collector = await start_(policyFile);
    env.TOKENLEDGER_URL = collector.url;
  });

  after(async () => {
    await collector?.stop();
  });

  const spent = (team: string, from: number, to: number): Decimal =>
    sent
      .filter((c) => c.team === team && c.at >= from && c.at < to)
      .reduce((s, c) => s.plus(c.usd), new Decimal(0));

  it('tokenledger budgets --period last_month: each budget with its spend and where its limit comes from', async () => {
    const now = new Date();
    const from = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
    const to = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const body = JSON.parse(await cli('budgets', '--period', 'last_month', '--json')) as {
      budgets: Array<{
        policy: string;
        spent_usd: string;
        limit_usd: string;
        limit_source: string;
        closed: boolean;
        forecast_usd: string;
        state: string;
      }>;
    };
    const search = body.budgets.find((b) => b.policy === 'search-monthly')!;
    assert.equal(search.spent_usd, spent('search', from, to).toFixed());
    assert.equal(search.closed, true);
    assert.equal(search.forecast_usd, search.spent_usd, "a closed period's projection is its actual");
    // No policy was stored last month: today's limit, labelled so.
    assert.equal(search.limit_usd, '3000');
    assert.equal(search.limit_source, 'current_policy');
    const table = await cli('budgets', '--period', 'last_month');
    assert.match(table, /search-monthly/);
    assert.match(table, /today's policy \(none stored then\)/);
    assert.match(table, /\$\d{1,3}(,\d{3})*\.\d{2}/);
  });

  it('tokenledger forecast: period-end forecasts with an 80 % interval for all spend, unbudgeted spend and each budget', async () => {
    const f = JSON.parse(await cli('forecast', '--json')) as {
      model: string;
      all: {
        spent_usd: string;
        forecast_usd: string;
        forecast_low_usd: string;
        forecast_high_usd: string;
        closed: boolean;
      };
      unbudgeted: { spent_usd: string };
      budgets: Array<{
        policy: string;
        state: string;
        breach_at: string | null;
        forecast_usd: string;
        limit_usd: string;
      }>;
    };
    const d = (s: string) => new Decimal(s);
    assert.equal(f.all.closed, false);
    assert.ok(
      d(f.all.forecast_low_usd).lte(f.all.forecast_usd) && d(f.all.forecast_usd).lte(f.all.forecast_high_usd),
    );
    assert.ok(d(f.all.forecast_low_usd).gte(f.all.spent_usd));
    const monthStart = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1);
    // Billing's calls this month, and the three downgraded gpt-4o-mini calls (3 × $0.0027) if they were.
    const downgraded = Date.now() - 2 * 3_600_000 >= monthStart ? '0.0081' : '0';
    assert.equal(f.unbudgeted.spent_usd, spent('billing', monthStart, Date.now()).plus(downgraded).toFixed());
    for (const b of f.budgets) {
      assert.ok(['ok', 'warning', 'forecast_to_exceed', 'exceeded'].includes(b.state));
      if (b.state === 'forecast_to_exceed') assert.ok(b.breach_at, `${b.policy}: a breach date`);
    }
    assert.match(f.model, /weekday/);
    const table = await cli('forecast');
    assert.match(table, /all spend/);
    assert.match(table, /not under any budget/);
  });

  it('tokenledger forecast --backtest: the year replayed, better than the naive forecast, within its bars', async () => {
    const r = JSON.parse(await cli('forecast', '--backtest', '--json')) as {
      periods: number;
      days: number;
      model: { all: { mape: number; coverage: number }; midPeriod: { mape: number } };
      naive: { all: { mape: number } };
      seconds: number;
    };
    assert.ok(r.periods >= 11, `${r.periods} closed months`);
    assert.equal(r.days, YEAR_DAYS);
    assert.ok(r.model.midPeriod.mape <= 0.15, `mid-period MAPE ${r.model.midPeriod.mape}`);
    assert.ok(r.model.all.coverage >= 0.7 && r.model.all.coverage <= 0.9, `coverage ${r.model.all.coverage}`);
    assert.ok(r.model.all.mape < r.naive.all.mape, `${r.model.all.mape} vs naive ${r.naive.all.mape}`);
    const table = await cli('forecast', '--backtest', '--scope', 'search-monthly');
    assert.match(table, /naive \(spent × length \/ elapsed\)/);
    assert.match(table, /Backtest of search-monthly: \d+ monthly periods/);
  });

  it('GET /v1/budgets carries the forecast interval and the breach date to the guard', async () => {
    const body = await api<{ policies: Array<{ name: string; budget: Record<string, string | null> }> }>(
      '/v1/budgets',
    );
    const search = body.policies.find((p) => p.name === 'search-monthly')!.budget;
    assert.ok(search.forecast_low_usd && search.forecast_high_usd);
    assert.ok(new Decimal(search.forecast_low_usd!).lte(search.forecast_usd!));
    assert.ok('breach_at' in search);
  });

  it('baselines: a release found in service.version, a change marked by hand, each compared before and after', async () => {
    const marked = Date.parse(new Date(releaseAt - 5 * DAY_MS).toISOString().slice(0, 10) + 'T09:15:00Z');
    const out = await cli(
      'baseline',
      'add',
      '--feature',
      'chat',
      '--at',
      new Date(marked).toISOString(),
      'prompt v2',
    );
    assert.match(out, /Baseline "prompt v2" marked for chat/);
    const report = JSON.parse(await cli('baseline', 'list', '--json')) as {
      baselines: Array<{
        feature: string;
        label: string;
        source: string;
        at: string;
        calls_before: string;
        calls_after: string;
        cost_per_call_before_usd: string;
        cost_per_call_after_usd: string;
      }>;
    };
    const release = report.baselines.find((b) => b.source === 'service.version');
    assert.ok(release, JSON.stringify(report.baselines));
    assert.equal(release.feature, 'search-answers');
    assert.equal(release.label, 'service.version 5.1.0 (search-api)');
    const first = Math.min(...sent.filter((c) => c.version === '5.1.0').map((c) => c.at));
    assert.equal(Date.parse(release.at), first);
    // Whole hours on each side, the change's own hour left out, a week each way.
    const check = (b: (typeof report.baselines)[number], team: string, feature: string) => {
      const hour = Math.floor(Date.parse(b.at) / 3_600_000) * 3_600_000;
      const side = (from: number, to: number) =>
        sent.filter((c) => c.team === team && c.feature === feature && c.at >= from && c.at < to);
      const before = side(hour - 7 * DAY_MS, hour);
      const after = side(hour + 3_600_000, hour + 3_600_000 + 7 * DAY_MS);
      assert.equal(Number(b.calls_before), before.length);
      assert.equal(Number(b.calls_after), after.length);
      const perCall = (cs: Sent[]) =>
        cs
          .reduce((s, c) => s.plus(c.usd), new Decimal(0))
          .div(cs.length)
          .toDecimalPlaces(18, Decimal.ROUND_DOWN);
      assert.ok(new Decimal(b.cost_per_call_before_usd).eq(perCall(before)));
      assert.ok(new Decimal(b.cost_per_call_after_usd).eq(perCall(after)));
    };
    check(release, 'search', 'search-answers');
    const manual = report.baselines.find((b) => b.label === 'prompt v2')!;
    assert.equal(manual.source, 'manual');
    check(manual, 'support', 'chat');
    const table = await cli('baseline', 'list', '--feature', 'chat');
    assert.match(table, /prompt v2/);
    assert.doesNotMatch(table, /service\.version 5\.1\.0/);
  });

  it('what downgrades saved, from the model the app asked for', async () => {
    const panel = await api<{ columns: Array<{ name: string; label: string }>; rows: string[][] }>(
      '/v1/panels/tokenledger-models/models-downgrades-saved?period=last_7d',
    );
    const row = Object.fromEntries(panel.columns.map((c, i) => [c.name, panel.rows[0]![i]]));
    assert.equal(panel.rows.length, 1);
    assert.equal(row.asked_model, 'gpt-4o');
    assert.equal(row.model, 'gpt-4o-mini');
    assert.equal(row.calls, '3');
    // 3 × (10,000 in, 2,000 out): gpt-4o $2.50 / $10 per M, gpt-4o-mini $0.15 / $0.60 per M.
    assert.ok(new Decimal(row.asked_list_cost_usd!).eq('0.135'));
    assert.ok(new Decimal(row.downgrade_saved_usd!).eq(new Decimal('0.135').minus('0.0081')));
    assert.equal(panel.columns.find((c) => c.name === 'downgrade_saved_usd')!.label, 'Saved by downgrades');
  });
});

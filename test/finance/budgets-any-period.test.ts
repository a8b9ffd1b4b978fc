/**
 * Budgets for any period on a seeded year of calls (written through the collector's writer): past
 * months with the limit in force then (from the stored policy versions, from an old collector's
 * snapshots, or today's labelled as such), a limit changed mid-period, a weekly budget in a
 * half-hour time zone, the current period with its forecast, interval and breach date, and the
 * burn-down cache the dashboards read. Every expected dollar is summed from the generated calls.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import { BudgetEngine } from '../../collector/src/govern/budgets/engine';
import { BudgetLedger } from '../../collector/src/govern/budgets/ledger';
import type { PeriodReport } from '../../collector/src/govern/budgets/period-report';
import { PolicyHistory } from '../../collector/src/govern/policy/history';
import { parsePolicy, type LoadedPolicy } from '../../collector/src/govern/policy/load';
import type { Storage } from '../../collector/src/storage/client';
import type { PricedCall } from '../../collector/src/core/call';
import { nanos, pricedCall } from '../support/calls';
import { seededYear, spendOf } from './year';

const policyText = (searchUsd: number) => `version: 1
policies:
  - name: search-monthly
    match: { team: search }
    budget: { usd: ${searchUsd}, period: monthly }
    alerts: { at: [0.9, 1.0] }
  - name: support-weekly
    match: { team: support }
    budget: { usd: 400, period: weekly, timezone: Asia/Kolkata }
`;

function loaded(text: string, version: string): LoadedPolicy {
  const parsed = parsePolicy(text);
  assert.ok(parsed.ok);
  return { file: 'tokenledger.policy.yaml', policy: parsed.policy, version };
}

const V1 = loaded(policyText(2500), 'a'.repeat(64));
const V2 = loaded(policyText(3000), 'b'.repeat(64));
const D = (v: Decimal.Value) => new Decimal(v);
const utc = (s: string) => new Date(`${s}Z`);

describe('budgets for any period (seeded year)', function () {
  this.timeout(120_000);
  let storage: Storage;
  let calls: PricedCall[];
  let history: PolicyHistory;
  const at = { now: utc('2026-11-01T09:00:00') };
  const ledger = () => new BudgetLedger({ storage, history, policy: () => V2.policy, now: () => at.now });
  const budget = (r: { budgets: PeriodReport[] }, name: string) => r.budgets.find((b) => b.policy === name)!;

  before(async () => {
    ({ storage, calls } = await seededYear());
    // Versions stored from 2026-06-01 on ($2,500), reloaded on 2026-09-10 at noon ($3,000).
    let clock = utc('2026-06-01T00:00:00');
    history = new PolicyHistory(storage, () => clock);
    await history.record(V1, 'loaded');
    clock = utc('2026-07-15T08:00:00'); // a restart: same version, no change
    await history.record(V1, 'loaded');
    clock = utc('2026-09-10T12:00:00');
    await history.record(V2, 'reloaded');
    // An older collector's snapshots of March (no versions stored then): limit $2,000, then $2,200.
    const snap = (atTime: string, limit: string) => ({
      policy: 'search-monthly',
      period: 'monthly',
      period_start: '2026-03-01 00:00:00',
      period_end: '2026-04-01 00:00:00',
      at: atTime,
      limit_usd: limit,
      spent_usd: '1',
      forecast_usd: '1',
      state: 'ok',
    });
    await storage.client.insert({
      table: `${storage.database}.budget_snapshots`,
      values: [
        snap('2026-03-02 10:00:00.000', '2000'),
        snap('2026-03-05 10:00:00.000', '2000'),
        snap('2026-03-20 00:00:00.000', '2200'),
      ],
      format: 'JSONEachRow',
    });
  });

  it('a closed month: spent, the limit in force then, state, burn-down; its projection is its actual', async () => {
    const r = await ledger().report(utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
    const search = budget(r, 'search-monthly');
    const spent = spendOf(calls, 'search', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
    assert.equal(search.spentUsd.toFixed(), spent.toFixed());
    assert.equal(search.periodStart.toISOString(), '2026-10-01T00:00:00.000Z');
    assert.equal(search.closed, true);
    assert.equal(search.limitUsd!.toFixed(), '3000');
    assert.equal(search.limitSource, 'policy_history');
    assert.deepEqual(search.limitChanges, []);
    assert.equal(search.state, spent.gte(3000) ? 'exceeded' : spent.gte(2700) ? 'warning' : 'ok');
    assert.equal(search.forecast.usd.toFixed(), spent.toFixed());
    assert.equal(search.forecast.lowUsd.toFixed(), spent.toFixed());
    assert.equal(search.remainingUsd!.toFixed(), Decimal.max(D(3000).minus(spent), 0).toFixed());
    // One point per day, the cumulative spend at each day's end.
    assert.equal(search.points.length, 31);
    search.points.forEach((p, i) => {
      const end = Date.UTC(2026, 9, 2 + i);
      assert.equal(p.at.getTime(), end);
      assert.equal(p.spentUsd.toFixed(), spendOf(calls, 'search', utc('2026-10-01T00:00:00'), end).toFixed());
    });
    // Breached: the date the cumulative spend crossed $3,000.
    const crossDay = search.points.findIndex((p) => p.spentUsd.gte(3000));
    assert.ok(crossDay > 0, 'the seeded October crosses the limit');
    const breach = search.forecast.breachAt!.getTime();
    assert.ok(
      breach >= search.points[crossDay]!.bucketStart.getTime() &&
        breach <= search.points[crossDay]!.at.getTime(),
    );
    // All spend and the unbudgeted (billing) share of the same month.
    assert.equal(
      r.all.spentUsd.toFixed(),
      spendOf(calls, '', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00')).toFixed(),
    );
    assert.equal(
      r.unbudgeted.spentUsd.toFixed(),
      spendOf(calls, 'billing', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00')).toFixed(),
    );
    assert.equal(r.all.forecast.usd.toFixed(), r.all.spentUsd.toFixed());
  });

  it('a month spanning a limit change shows the change, and each day its limit', async () => {
    const r = await ledger().report(utc('2026-09-01T00:00:00'), utc('2026-10-01T00:00:00'));
    const search = budget(r, 'search-monthly');
    assert.deepEqual(
      search.limitChanges.map((c) => [c.from.toISOString(), c.usd!.toFixed(), c.source]),
      [
        ['2026-09-01T00:00:00.000Z', '2500', 'policy_history'],
        ['2026-09-10T12:00:00.000Z', '3000', 'policy_history'],
      ],
    );
    assert.equal(search.limitUsd!.toFixed(), '3000');
    assert.deepEqual(
      search.points.slice(8, 11).map((p) => [p.at.toISOString().slice(0, 10), p.limitUsd!.toFixed()]),
      [
        ['2026-09-10', '2500'],
        ['2026-09-11', '3000'],
        ['2026-09-12', '3000'],
      ],
    );
  });

  it('before versions were stored: the limit from the period snapshots, else today’s, labelled', async () => {
    const march = budget(
      await ledger().report(utc('2026-03-01T00:00:00'), utc('2026-04-01T00:00:00')),
      'search-monthly',
    );
    assert.equal(march.limitSource, 'snapshot');
    assert.deepEqual(
      march.limitChanges.map((c) => [c.from.toISOString(), c.usd!.toFixed()]),
      [
        ['2026-03-01T00:00:00.000Z', '2000'],
        ['2026-03-20T00:00:00.000Z', '2200'],
      ],
    );
    assert.equal(march.limitUsd!.toFixed(), '2200');
    const january = budget(
      await ledger().report(utc('2026-01-01T00:00:00'), utc('2026-02-01T00:00:00')),
      'search-monthly',
    );
    assert.equal(january.limitSource, 'current_policy');
    assert.equal(january.limitUsd!.toFixed(), '3000');
    assert.equal(
      january.spentUsd.toFixed(),
      spendOf(calls, 'search', utc('2026-01-01T00:00:00'), utc('2026-02-01T00:00:00')).toFixed(),
    );
  });

  it('a weekly budget in Asia/Kolkata: its week of the range, at local midnights (half-hour offsets)', async () => {
    const r = await ledger().report(utc('2026-10-19T00:00:00'), utc('2026-10-26T00:00:00'));
    const support = budget(r, 'support-weekly');
    // Monday 2026-10-19 00:00 in Kolkata is 2026-10-18 18:30 UTC.
    assert.equal(support.periodStart.toISOString(), '2026-10-18T18:30:00.000Z');
    assert.equal(support.periodEnd.toISOString(), '2026-10-25T18:30:00.000Z');
    assert.equal(
      support.spentUsd.toFixed(),
      spendOf(calls, 'support', support.periodStart, support.periodEnd).toFixed(),
    );
    assert.equal(support.points.length, 7);
    assert.equal(
      support.points[2]!.spentUsd.toFixed(),
      spendOf(calls, 'support', support.periodStart, utc('2026-10-21T18:30:00')).toFixed(),
    );
  });

  it('mid-period: forecast to exceed before the limit is reached, with an interval and a breach date near the real one', async () => {
    at.now = utc('2026-10-12T15:00:00');
    try {
      const r = await ledger().report(utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
      const search = budget(r, 'search-monthly');
      const spent = spendOf(calls, 'search', utc('2026-10-01T00:00:00'), at.now);
      const actual = spendOf(calls, 'search', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
      assert.equal(search.closed, false);
      assert.equal(search.spentUsd.toFixed(), spent.toFixed());
      assert.ok(spent.lt(2700), `spent ${spent} is below the warning share`);
      assert.equal(search.state, 'forecast_to_exceed');
      const f = search.forecast;
      assert.ok(f.lowUsd.lte(f.usd) && f.usd.lte(f.highUsd));
      assert.ok(f.lowUsd.gte(spent));
      // Within 15 % of what October really cost, and the interval holds it.
      assert.ok(f.usd.minus(actual).abs().div(actual).lt(0.15), `forecast ${f.usd} vs actual ${actual}`);
      // The expected breach date within three days of the day the real spend crossed $3,000.
      let crossed = 0;
      for (let d = 1; d <= 31; d++)
        if (spendOf(calls, 'search', utc('2026-10-01T00:00:00'), Date.UTC(2026, 9, d + 1)).gte(3000)) {
          crossed = Date.UTC(2026, 9, d, 12);
          break;
        }
      assert.ok(crossed > 0);
      assert.ok(
        Math.abs(f.breachAt!.getTime() - crossed) < 3 * 86_400_000,
        `breach ${f.breachAt!.toISOString()}`,
      );
      // The open day's point is now, not the day's end.
      assert.equal(search.points[search.points.length - 1]!.at.getTime(), at.now.getTime());
    } finally {
      at.now = utc('2026-11-01T09:00:00');
    }
  });

  it('the live budget state (GET /v1/budgets) never waits for the model: the run rate first, the model once ready', async () => {
    // 2026-11-01 09:00: November has no calls yet; the model knows what a November costs.
    const l = ledger();
    const engine = new BudgetEngine({
      storage,
      policy: () => V2.policy,
      now: () => at.now,
      maxAgeMs: 0,
      forecast: (p, window, spent) => l.liveForecast(p, window, spent),
    });
    const first = (await engine.statuses({ fresh: true })).find((s) => s.policy === 'search-monthly')!;
    assert.equal(first.spentUsd.toFixed(), '0');
    // The run rate (nothing spent, nothing forecast) until the first refresh has the model's forecast.
    assert.equal(first.forecastUsd.toFixed(), '0');
    assert.equal(first.state, 'ok');
    await l.refresh();
    const second = (await engine.statuses({ fresh: true })).find((s) => s.policy === 'search-monthly')!;
    const report = budget(
      await l.report(utc('2026-11-01T00:00:00'), utc('2026-12-01T00:00:00')),
      'search-monthly',
    );
    assert.equal(second.forecastUsd.toFixed(), report.forecast.usd.toFixed());
    assert.ok(second.forecastUsd.gt(3000), `November forecast ${second.forecastUsd}`);
    assert.ok(second.forecastLowUsd.lt(second.forecastHighUsd));
    assert.equal(second.state, 'forecast_to_exceed');
    assert.equal(second.breachAt?.getTime(), report.forecast.breachAt?.getTime());
    assert.ok(second.breachAt! > at.now && second.breachAt! < utc('2026-12-01T00:00:00'));
  });

  it('counts calls accepted but not stored yet in the open period, and only there', async () => {
    const pending = pricedCall(
      {
        traceId: 'f'.repeat(32),
        spanId: 'f'.repeat(16),
        startTimeUnixNano: nanos('2026-11-01T08:30:00Z'),
        costUsd: '12.5',
        priced: true,
      },
      { team: 'search' },
    );
    const old = pricedCall(
      {
        traceId: 'e'.repeat(32),
        spanId: 'e'.repeat(16),
        startTimeUnixNano: nanos('2026-10-20T08:30:00Z'),
        costUsd: '7',
        priced: true,
      },
      { team: 'search' },
    );
    const l = new BudgetLedger({
      storage,
      history,
      policy: () => V2.policy,
      now: () => at.now,
      unflushed: () => [pending, old],
    });
    const r = await l.report(utc('2026-11-01T00:00:00'), utc('2026-12-01T00:00:00'));
    const stored = spendOf(calls, 'search', utc('2026-11-01T00:00:00'), at.now);
    assert.equal(budget(r, 'search-monthly').spentUsd.toFixed(), stored.plus('12.5').toFixed());
    assert.equal(
      r.all.spentUsd.toFixed(),
      spendOf(calls, '', utc('2026-11-01T00:00:00'), at.now).plus('12.5').toFixed(),
    );
    assert.equal(
      r.unbudgeted.spentUsd.toFixed(),
      spendOf(calls, 'billing', utc('2026-11-01T00:00:00'), at.now).toFixed(),
    );
    const closed = await l.report(utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
    assert.equal(
      budget(closed, 'search-monthly').spentUsd.toFixed(),
      spendOf(calls, 'search', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00')).toFixed(),
    );
  });

  it('a daily budget burns down by the hour, in a half-hour time zone too', async () => {
    const daily = (tz: string) =>
      loaded(
        `version: 1
policies:
  - name: support-daily
    match: { team: support }
    budget: { usd: 60, period: daily, timezone: ${tz} }
`,
        tz === 'UTC' ? 'c'.repeat(64) : 'd'.repeat(64),
      );
    for (const tz of ['UTC', 'Asia/Kolkata']) {
      const file = daily(tz).policy;
      // A fresh history with no versions: today's policy, labelled.
      const empty = { versions: async () => [] } as unknown as PolicyHistory;
      const r = await new BudgetLedger({
        storage,
        history: empty,
        policy: () => file,
        now: () => at.now,
      }).report(utc('2026-10-14T00:00:00'), utc('2026-10-15T00:00:00'));
      const b = budget(r, 'support-daily');
      const start = tz === 'UTC' ? utc('2026-10-14T00:00:00') : utc('2026-10-13T18:30:00');
      assert.equal(b.periodStart.toISOString(), start.toISOString(), tz);
      assert.equal(b.limitSource, 'current_policy');
      assert.equal(
        b.spentUsd.toFixed(),
        spendOf(calls, 'support', start, start.getTime() + 86_400_000).toFixed(),
        tz,
      );
      // Cut at every UTC hour: 24 points in UTC, 25 in Kolkata (a half hour at either end).
      assert.equal(b.points.length, tz === 'UTC' ? 24 : 25, tz);
      for (const p of b.points)
        assert.equal(
          p.spentUsd.toFixed(),
          spendOf(calls, 'support', start, p.at).toFixed(),
          `${tz} ${p.at.toISOString()}`,
        );
    }
  });

  it('writes the burn-down cache for every period back to the first call, and rewrites only what changed', async () => {
    const l = ledger();
    await l.refresh();
    const q = async (sql: string) =>
      (await (await storage.client.query({ query: sql, format: 'JSONEachRow' })).json()) as Array<
        Record<string, string>
      >;
    const db = storage.database;
    const periods = await q(
      `SELECT policy, count() AS points, toString(min(period_start)) AS first FROM ${db}.budget_burndown FINAL
       WHERE scope = 'budget' GROUP BY policy ORDER BY policy`,
    );
    assert.deepEqual(
      periods.map((p) => [p.policy, p.first]),
      [
        ['search-monthly', '2025-11-01 00:00:00'],
        ['support-weekly', '2025-10-26 18:30:00'],
      ],
    );
    // October's last point equals the report's figures.
    const [oct] = await q(
      `SELECT toString(spent_usd) AS spent, toString(limit_usd) AS lim, limit_source, state, closed
       FROM ${db}.budget_burndown FINAL
       WHERE scope = 'budget' AND policy = 'search-monthly' AND bucket_start = '2026-10-31 00:00:00'`,
    );
    const spent = spendOf(calls, 'search', utc('2026-10-01T00:00:00'), utc('2026-11-01T00:00:00'));
    assert.equal(D(oct!.spent!).toFixed(), spent.toFixed());
    assert.equal(D(oct!.lim!).toFixed(), '3000');
    assert.equal(oct!.limit_source, 'policy_history');
    assert.equal(Number(oct!.closed), 1);
    const rows = async () => Number((await q(`SELECT count() AS n FROM ${db}.budget_burndown`))[0]!.n);
    const before = await rows();
    await l.refresh(); // nothing changed: nothing written
    assert.equal(await rows(), before);
  });

  it('the refresh reads a daily budget’s year of hours at once, each day cut at every UTC hour', async () => {
    at.now = utc('2026-11-01T09:00:00');
    const file = loaded(
      `version: 1
policies:
  - name: support-daily-kolkata
    match: { team: support }
    budget: { usd: 60, period: daily, timezone: Asia/Kolkata }
`,
      'e'.repeat(64),
    ).policy;
    const empty = { versions: async () => [] } as unknown as PolicyHistory;
    await new BudgetLedger({ storage, history: empty, policy: () => file, now: () => at.now }).refresh();
    const rs = await storage.client.query({
      query: `SELECT toString(period_start) AS start, toUnixTimestamp64Milli(at) AS at, toString(spent_usd) AS spent
              FROM ${storage.database}.budget_burndown FINAL
              WHERE scope = 'budget' AND policy = 'support-daily-kolkata' ORDER BY at`,
      format: 'JSONEachRow',
    });
    const points = (await rs.json()) as Array<{ start: string; at: string; spent: string }>;
    const days = [...new Set(points.map((p) => p.start))];
    assert.ok(days.length >= 365, `${days.length} days written`);
    // The first day, a day in the middle and today (open: its last point is now), each point the
    // spend from the day's start (18:30 UTC the day before) to its moment.
    for (const day of [days[0]!, '2026-10-13 18:30:00', days[days.length - 1]!]) {
      const start = utc(day.replace(' ', 'T'));
      const of = points.filter((p) => p.start === day);
      assert.ok(of.length >= 9 && of.length <= 25, `${day}: ${of.length} points`);
      for (const p of of)
        assert.equal(
          D(p.spent).toFixed(),
          spendOf(calls, 'support', start, Number(p.at)).toFixed(),
          `${day} at ${new Date(Number(p.at)).toISOString()}`,
        );
    }
  });
});

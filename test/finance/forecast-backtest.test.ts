/**
 * The forecaster's bars on a seeded year whose shape is not the model's (monthly compounding
 * growth, a step change, holidays, a launch spike; test/support/spend-year.ts): the backtest replays
 * every closed period from stored daily aggregates, each day forecasting its period's end from the
 * days up to it. Mid-period MAPE ≤ 15 %, the 80 % interval holding 70–90 % of the points, and the
 * model's MAPE below the naive spent × length / elapsed. The replay itself is checked against the
 * generator: each point's actual and naive forecast are recomputed from the generated days.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import { parsePolicy } from '../../collector/src/govern/policy/load';
import { runBacktest, type BacktestReport } from '../../collector/src/read/forecast';
import type { Storage } from '../../collector/src/storage/client';
import { YEAR_NOW, YEAR_POLICY_YAML, type YearDay } from '../support/spend-year';
import { seededYear } from './year';

const POLICY = parsePolicy(YEAR_POLICY_YAML);

describe('forecast backtest (seeded year)', function () {
  this.timeout(120_000);
  let storage: Storage;
  let days: YearDay[];
  const results: Record<string, BacktestReport> = {};

  before(async () => {
    assert.ok(POLICY.ok);
    ({ storage, days } = await seededYear());
    for (const scope of ['all', 'search-monthly', 'support-monthly', 'unbudgeted'])
      results[scope] = await runBacktest(storage, POLICY.policy, { scope, points: true }, YEAR_NOW);
  });

  /** Each UTC date's spend of the teams, from the generator. */
  const daily = (teams: string[]): Map<string, Decimal> => {
    const m = new Map<string, Decimal>();
    for (const d of days)
      if (teams.includes(d.team)) m.set(d.date, (m.get(d.date) ?? new Decimal(0)).plus(d.usd));
    return m;
  };

  for (const [scope, teams] of [
    ['all', ['search', 'support', 'billing']],
    ['search-monthly', ['search']],
    ['support-monthly', ['support']],
  ] as const) {
    it(`${scope}: mid-period MAPE ≤ 15 %, interval coverage 70–90 %, better than the naive forecast`, () => {
      const r = results[scope]!;
      assert.equal(r.periods, 12, 'twelve closed months replayed');
      assert.equal(r.days, 365);
      assert.ok(r.model.midPeriod.mape <= 0.15, `mid-period MAPE ${r.model.midPeriod.mape}`);
      const coverage = r.model.all.coverage!;
      assert.ok(coverage >= 0.7 && coverage <= 0.9, `coverage ${coverage}`);
      assert.ok(
        r.model.all.mape < r.naive.all.mape,
        `model ${r.model.all.mape} vs naive ${r.naive.all.mape}`,
      );
      assert.equal(r.model.all.points, 365 - 12, 'one point per day but each period’s last');
    });

    it(`${scope}: each point replays only the days up to it (actuals and naive from the generated days)`, () => {
      const byDate = daily([...teams]);
      const points = results[scope]!.points!;
      for (const p of points) {
        const start = new Date(p.periodStart);
        const end = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1);
        let actual = new Decimal(0);
        let spent = new Decimal(0);
        for (let t = p.periodStart; t < end; t += 86_400_000) {
          const usd = byDate.get(new Date(t).toISOString().slice(0, 10)) ?? new Decimal(0);
          actual = actual.plus(usd);
          if (t < p.at) spent = spent.plus(usd);
        }
        assert.ok(
          Math.abs(p.actual - actual.toNumber()) < 1e-6 * actual.toNumber(),
          `actual ${p.actual} vs ${actual}`,
        );
        const naive = spent
          .times(end - p.periodStart)
          .div(p.at - p.periodStart)
          .toNumber();
        assert.ok(Math.abs(p.naive - naive) < 1e-6 * naive, `naive ${p.naive} vs ${naive}`);
        assert.ok(p.forecast >= spent.toNumber() - 1e-6, 'a forecast never falls below what was spent');
      }
    });
  }

  it('names the model and refuses unknown scopes', async () => {
    assert.match(results.all!.model_description, /weekday/);
    await assert.rejects(
      runBacktest(storage, POLICY.ok ? POLICY.policy : undefined, { scope: 'nope' }, YEAR_NOW),
      /unknown scope "nope"/,
    );
  });
});

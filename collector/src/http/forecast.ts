/**
 * Budgets for any period and the forecasts (read scope):
 *
 *   GET /v1/budgets/report?period=last_month | from=…&to=…   each budget's period (the one that
 *       overlaps the range most, at its end), all spend and unbudgeted spend of the UTC month:
 *       spent, limit (and where it comes from), state, forecast with its 80 % interval and breach
 *       date, burn-down
 *   GET /v1/forecast?period=…                                  the same, forecasts only
 *   GET /v1/forecast/backtest?scope=all|unbudgeted|<policy>&days=365[&points=1]
 */
import { Router, type Request, type Response } from 'express';
import type { LoadedPolicy } from '../govern/policy/load';
import type { BudgetLedger } from '../govern/budgets/ledger';
import type { PeriodForecast, PeriodReport } from '../govern/budgets/period-report';
import type { KeyRing } from '../govern/keys/keys';
import { Money } from '../core/money';
import { MODEL_DESCRIPTION, INTERVAL } from '../govern/forecast/model';
import { ForecastQueryError, runBacktest } from '../read/forecast';
import { PeriodError, resolvePeriod } from '../read/period';
import type { Storage } from '../storage/client';
import { requireScope } from './auth';

export interface ForecastRouteDeps {
  keys: KeyRing;
  storage: Storage;
  ledger: BudgetLedger;
  policy: () => LoadedPolicy | undefined;
}

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

function forecastJson(f: PeriodForecast) {
  return {
    forecast_usd: f.usd.toFixed(),
    forecast_low_usd: f.lowUsd.toFixed(),
    forecast_high_usd: f.highUsd.toFixed(),
    breach_at: iso(f.breachAt),
  };
}

export function periodReportJson(r: PeriodReport, opts: { points: boolean }) {
  return {
    scope: r.scope,
    ...(r.scope === 'budget' ? { policy: r.policy } : {}),
    period: r.period,
    timezone: r.timezone,
    period_start: r.periodStart.toISOString(),
    period_end: r.periodEnd.toISOString(),
    closed: r.closed,
    as_of: r.asOf.toISOString(),
    spent_usd: r.spentUsd.toFixed(),
    ...(r.scope === 'budget'
      ? {
          limit_usd: r.limitUsd?.toFixed() ?? null,
          limit_source: r.limitSource,
          limit_changes: r.limitChanges.map((c) => ({
            from: c.from.toISOString(),
            limit_usd: c.usd?.toFixed() ?? null,
            source: c.source,
          })),
          remaining_usd: r.remainingUsd?.toFixed() ?? null,
          state: r.state,
        }
      : {}),
    ...forecastJson(r.forecast),
    ...(opts.points
      ? {
          burndown: r.points.map((p) => ({
            at: p.at.toISOString(),
            spent_usd: p.spentUsd.toFixed(),
            ...(r.scope === 'budget'
              ? { limit_usd: p.limitUsd?.toFixed() ?? null, remaining_usd: remaining(p), state: p.state }
              : {}),
            ...forecastJson(p.forecast),
          })),
        }
      : {}),
  };
}

const remaining = (p: PeriodReport['points'][number]): string | null =>
  p.limitUsd === null ? null : Money.max(p.limitUsd.minus(p.spentUsd), 0).toFixed();

function one(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ForecastQueryError(`${name} must be given once`);
  return v;
}

function onlyParams(req: Request, allowed: string[]): void {
  const unknown = Object.keys(req.query as object).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw new ForecastQueryError(`unknown parameter "${unknown}": use ${allowed.join(', ')}`);
}

async function answer(res: Response, produce: () => Promise<unknown>): Promise<void> {
  try {
    res.json(await produce());
  } catch (err) {
    if (err instanceof ForecastQueryError || err instanceof PeriodError) {
      res.status(400).json({ error: err.message });
      return;
    }
    throw err;
  }
}

export function forecastRouter(deps: ForecastRouteDeps): Router {
  const router = Router();
  const read = requireScope(deps.keys, 'read');

  const rangeOf = (req: Request) =>
    resolvePeriod({ period: one(req, 'period'), from: one(req, 'from'), to: one(req, 'to') });

  router.get('/v1/budgets/report', read, (req, res) =>
    answer(res, async () => {
      onlyParams(req, ['period', 'from', 'to', 'burndown']);
      const points = one(req, 'burndown') !== '0';
      const range = rangeOf(req);
      const report = await deps.ledger.report(range.from, range.to);
      return {
        period: range.period,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        at: report.at.toISOString(),
        budgets: report.budgets.map((r) => periodReportJson(r, { points })),
        all: periodReportJson(report.all, { points }),
        unbudgeted: periodReportJson(report.unbudgeted, { points }),
      };
    }),
  );

  router.get('/v1/forecast', read, (req, res) =>
    answer(res, async () => {
      onlyParams(req, ['period', 'from', 'to']);
      const range = rangeOf(req);
      const report = await deps.ledger.report(range.from, range.to);
      const brief = (r: PeriodReport) => periodReportJson(r, { points: false });
      return {
        model: MODEL_DESCRIPTION,
        interval: INTERVAL,
        at: report.at.toISOString(),
        all: brief(report.all),
        unbudgeted: brief(report.unbudgeted),
        budgets: report.budgets.map(brief),
      };
    }),
  );

  router.get('/v1/forecast/backtest', read, (req, res) =>
    answer(res, async () => {
      onlyParams(req, ['scope', 'days', 'points']);
      const days = one(req, 'days');
      return runBacktest(deps.storage, deps.policy()?.policy, {
        scope: one(req, 'scope'),
        ...(days !== undefined ? { days: Number(days) } : {}),
        points: one(req, 'points') === '1',
      });
    }),
  );
  return router;
}

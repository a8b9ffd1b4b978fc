/**
 * The forecaster's backtest on stored history: the daily spend of a scope (all spend, the spend no
 * budget covers, or a budget's) over up to a year, every closed period replayed day by day (each
 * day forecasts its period's end from the days up to it), scored against what the period cost,
 * beside the naive spent × length / elapsed.
 */
import type { PolicyFile } from 'tokenledger/policy';
import { backtest, summarize, type BacktestPoint, type BacktestSummary } from '../govern/forecast/backtest';
import { INTERVAL, MODEL_DESCRIPTION } from '../govern/forecast/model';
import type { SpendScope } from '../govern/policy/match';
import { localDays, periodsBetween } from '../govern/budgets/periods';
import { SpendSeries } from '../govern/budgets/series';
import type { Storage } from '../storage/client';

export class ForecastQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForecastQueryError';
  }
}

export interface BacktestReport extends BacktestSummary {
  /** `all`, `unbudgeted`, or the budget's policy name. */
  scope: string;
  period: string;
  timezone: string;
  /** The days replayed: [from, to), whole days before today. */
  from: string;
  to: string;
  days: number;
  interval: number;
  model_description: string;
  /** Time the replay took (reading the days excluded). */
  seconds: number;
  points?: BacktestPoint[];
}

const DAY_MS = 86_400_000;
const MAX_BACKTEST_DAYS = 400;

export async function runBacktest(
  storage: Storage,
  policy: PolicyFile | undefined,
  input: { scope?: string; days?: number; points?: boolean },
  now: Date = new Date(),
): Promise<BacktestReport> {
  const name = input.scope ?? 'all';
  const budgets = (policy?.policies ?? []).filter((p) => p.budget);
  let scope: SpendScope;
  let period: 'daily' | 'weekly' | 'monthly' | 'quarterly' = 'monthly';
  let timezone = 'UTC';
  if (name === 'all') scope = { all: true };
  else if (name === 'unbudgeted') scope = { noneOf: budgets.map((p) => p.match ?? {}) };
  else {
    const p = budgets.find((b) => b.name === name);
    if (!p)
      throw new ForecastQueryError(
        `unknown scope "${name}": use all, unbudgeted, or a budgeted policy (${budgets.map((b) => b.name).join(', ') || 'none'})`,
      );
    scope = { match: p.match };
    period = p.budget!.period;
    timezone = p.budget!.timezone ?? 'UTC';
  }
  const length = input.days ?? 365;
  if (!Number.isInteger(length) || length < 28 || length > MAX_BACKTEST_DAYS)
    throw new ForecastQueryError(`days must be a whole number from 28 to ${MAX_BACKTEST_DAYS}`);
  // Whole local days before today.
  const today = localDays(now, new Date(now.getTime() + 1), timezone)[0]!;
  const from = new Date(today.start - length * DAY_MS);
  const to = new Date(today.start);
  const series = await new SpendSeries(storage, () => now).days(scope, timezone, from, to);
  const days = series
    .filter((d) => d.start >= from.getTime())
    .map((d) => ({ start: d.start, end: d.end, weekday: d.weekday, usd: d.usd.toNumber() }));
  const started = performance.now();
  const periods = periodsBetween(period, from, to, timezone)
    .filter((w) => w.end.getTime() <= to.getTime())
    .map((w) => ({ start: w.start.getTime(), end: w.end.getTime() }));
  const points = backtest(days, periods);
  const summary = summarize(points);
  return {
    scope: name,
    period,
    timezone,
    from: new Date(days[0]?.start ?? from.getTime()).toISOString(),
    to: to.toISOString(),
    days: days.length,
    interval: INTERVAL,
    model_description: MODEL_DESCRIPTION,
    ...summary,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    ...(input.points ? { points } : {}),
  };
}

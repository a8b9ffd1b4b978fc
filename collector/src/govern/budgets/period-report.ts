/**
 * One budget (or all spend, or the spend no budget covers) in one period, computed from its daily
 * spend: spent, limit, state, the period-end forecast with its interval and breach date, and the
 * burn-down — a point per day (per hour for a daily budget), each with what was known then: the
 * spend so far, the limit in force, and the forecast made from the days before it. A closed
 * period's forecast is its actual. Pure: the days come in, the report goes out.
 */
import type { BudgetPeriod, Policy } from 'tokenledger/policy';
import type { BudgetState } from 'tokenledger/wire';
import { Money } from '../../core/money';
import { Forecaster, type FutureDay } from '../forecast/model';
import { limitAt, type LimitSegment, type LimitSource } from './limits';
import { localDays, type PeriodWindow } from './periods';
import type { SpendDay } from './series';

type ReportScope = 'budget' | 'all' | 'unbudgeted';

export interface PeriodForecast {
  /** Expected spend at the period's end. */
  usd: Money;
  /** The 80 % interval. */
  lowUsd: Money;
  highUsd: Money;
  /** When spend reached the limit, or is expected to at the forecast's pace; null: it is not. */
  breachAt: Date | null;
}

interface BudgetPoint {
  bucketStart: Date;
  /** The instant described: the bucket's end, or now in the bucket still open. */
  at: Date;
  /** Spent in the period up to `at`. */
  spentUsd: Money;
  limitUsd: Money | null;
  forecast: PeriodForecast;
  state: BudgetState | null;
}

export interface PeriodReport {
  scope: ReportScope;
  /** The budget's policy; '' for all spend and for unbudgeted spend. */
  policy: string;
  period: BudgetPeriod;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  /** The period ended before now: its figures are final, its forecast its actual. */
  closed: boolean;
  asOf: Date;
  limitUsd: Money | null;
  limitSource: LimitSource | null;
  /** Every limit in force during the period, when it changed within it. */
  limitChanges: LimitSegment[];
  spentUsd: Money;
  remainingUsd: Money | null;
  state: BudgetState | null;
  forecast: PeriodForecast;
  points: BudgetPoint[];
}

export interface Bucket {
  start: number;
  end: number;
  usd: Money;
}

export interface PeriodInput {
  scope: ReportScope;
  policy: string;
  window: PeriodWindow;
  now: Date;
  /**
   * Local days of the window's time zone, oldest first, from as far back as the forecast should
   * look to the day holding min(now, period end); inside the period, each day's spend within it.
   */
  days: SpendDay[];
  /** The forecaster over `days` (shared between periods of one series). */
  forecaster?: Forecaster;
  /** Burn-down buckets inside the period (default: its days). */
  buckets?: Bucket[];
  /** null: no limit (all spend, unbudgeted spend). */
  limits: LimitSegment[] | null;
  /** Share of the limit from which the state is `warning`. */
  warnAt: number;
  /** Spend accepted but not yet stored (live only). */
  unstoredUsd?: Money;
}

/** Warning from the policy's lowest alert threshold, else 80 %. */
export const DEFAULT_WARNING_AT = 0.8;
export const warningShare = (p: Policy): number =>
  p.alerts?.at?.length ? Math.min(...p.alerts.at) : DEFAULT_WARNING_AT;

const ROUND = (m: Money): Money => m.toDecimalPlaces(6, Money.ROUND_HALF_UP);

export function forecasterFor(days: readonly SpendDay[]): Forecaster {
  return new Forecaster(days.map((d) => ({ usd: d.usd.toNumber(), weekday: d.weekday })));
}

export function periodReport(input: PeriodInput): PeriodReport {
  const { window, now, days } = input;
  const start = window.start.getTime();
  const end = window.end.getTime();
  const asOf = Math.min(now.getTime(), end);
  const forecaster = input.forecaster ?? forecasterFor(days);
  const buckets =
    input.buckets ??
    days
      .filter((d) => d.start >= start && d.start < asOf && d.end <= end)
      .map((d) => ({ start: d.start, end: d.end, usd: d.usd }));
  const points: BudgetPoint[] = [];
  let spent = new Money(0);
  const crossings: Array<{ start: number; end: number; before: Money; usd: Money }> = [];
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    crossings.push({ start: b.start, end: Math.min(b.end, asOf), before: spent, usd: b.usd });
    spent = spent.plus(b.usd);
    const last = i === buckets.length - 1;
    if (last && input.unstoredUsd) spent = spent.plus(input.unstoredUsd);
    const at = Math.min(b.end, asOf);
    const limit = input.limits ? (limitAt(input.limits, new Date(at))?.usd ?? null) : null;
    const forecast = forecastAt(input, forecaster, at, spent, limit, crossings);
    points.push({
      bucketStart: new Date(b.start),
      at: new Date(at),
      spentUsd: spent,
      limitUsd: limit,
      forecast,
      state: stateOf(spent, limit, forecast.usd, input.warnAt),
    });
  }
  if (buckets.length === 0 && input.unstoredUsd) spent = spent.plus(input.unstoredUsd);
  const final = points[points.length - 1];
  const limitNow = input.limits ? (limitAt(input.limits, new Date(asOf)) ?? null) : null;
  const limit = limitNow?.usd ?? null;
  const forecast = final?.forecast ?? forecastAt(input, forecaster, asOf, new Money(0), limit, crossings);
  return {
    scope: input.scope,
    policy: input.policy,
    period: window.period,
    timezone: window.timezone,
    periodStart: window.start,
    periodEnd: window.end,
    closed: asOf === end,
    asOf: new Date(asOf),
    limitUsd: limit,
    limitSource: limitNow?.source ?? null,
    limitChanges: input.limits && input.limits.length > 1 ? input.limits : [],
    spentUsd: spent,
    remainingUsd: limit === null ? null : Money.max(limit.minus(spent), 0),
    state: stateOf(spent, limit, forecast.usd, input.warnAt),
    forecast,
    points,
  };
}

export function stateOf(
  spent: Money,
  limit: Money | null,
  forecast: Money,
  warnAt: number,
): BudgetState | null {
  if (limit === null) return null;
  if (spent.gte(limit)) return 'exceeded';
  if (forecast.gt(limit)) return 'forecast_to_exceed';
  if (spent.gte(limit.times(warnAt))) return 'warning';
  return 'ok';
}

/** The period-end forecast as known at `at` (ms), spent being the period's spend until then. */
function forecastAt(
  input: PeriodInput,
  forecaster: Forecaster,
  at: number,
  spent: Money,
  limit: Money | null,
  crossings: Array<{ start: number; end: number; before: Money; usd: Money }>,
): PeriodForecast {
  const end = input.window.end.getTime();
  const reached = limit !== null && spent.gte(limit) ? crossingTime(crossings, limit) : null;
  if (at >= end) return { usd: spent, lowUsd: spent, highUsd: spent, breachAt: reached };
  const { days } = input;
  // The day holding `at`: the days before it are whole history, what is left of it is future.
  let d = days.findIndex((x) => x.start <= at && at < x.end);
  if (d < 0) d = days.length;
  const future: Array<FutureDay & { from: number; to: number }> = [];
  const today = days[d];
  if (today && at > today.start)
    future.push({
      weekday: today.weekday,
      share: (today.end - at) / (today.end - today.start),
      from: at,
      to: today.end,
    });
  const restFrom = today && at > today.start ? today.end : at;
  for (const x of localDays(new Date(restFrom), input.window.end, input.window.timezone))
    future.push({ weekday: x.weekday, share: 1, from: x.start, to: x.end });
  const f = forecaster.forecast(future, d);
  const money = (v: number): Money => ROUND(spent.plus(Math.max(v, 0)));
  let breachAt = reached;
  if (breachAt === null && limit !== null && spent.plus(f.total).gt(limit)) {
    let cum = spent;
    for (let k = 0; k < future.length; k++) {
      const day = f.days[k]!;
      if (day > 0 && cum.plus(day).gte(limit)) {
        const part = limit.minus(cum).dividedBy(day).toNumber();
        breachAt = new Date(Math.round(future[k]!.from + part * (future[k]!.to - future[k]!.from)));
        break;
      }
      cum = cum.plus(day);
    }
  }
  return { usd: money(f.total), lowUsd: money(f.low), highUsd: money(f.high), breachAt };
}

/** When the cumulative spend reached `limit`, interpolated inside the bucket that crossed it. */
function crossingTime(
  crossings: Array<{ start: number; end: number; before: Money; usd: Money }>,
  limit: Money,
): Date | null {
  for (const c of crossings) {
    if (c.before.plus(c.usd).gte(limit)) {
      if (c.usd.isZero()) return new Date(c.start);
      const part = limit.minus(c.before).dividedBy(c.usd).toNumber();
      return new Date(Math.round(c.start + Math.max(part, 0) * (c.end - c.start)));
    }
  }
  return null;
}

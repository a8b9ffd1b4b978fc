/**
 * The forecaster replayed on stored history: at the end of each day of each closed period, the
 * period's end is forecast from the days up to then — by the model and by the naive
 * spent × length / elapsed — and set against what the period really cost.
 */
import { Forecaster, type HistoryDay } from './model';

export interface SeriesDay extends HistoryDay {
  /** The day's bounds in the series' time zone, ms (a day can be 23 or 25 hours). */
  start: number;
  end: number;
}

export interface PeriodSpan {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface BacktestPoint {
  periodStart: number;
  /** The forecast was made at this instant (the end of a day), from the days before it. */
  at: number;
  /** Share of the period elapsed at `at`. */
  elapsed: number;
  actual: number;
  forecast: number;
  low: number;
  high: number;
  naive: number;
  /** The point nearest the middle of its period. */
  midPeriod: boolean;
}

interface Accuracy {
  /** Mean absolute percentage error, as a fraction (0.05 = 5 %). */
  mape: number;
  /** Share of points whose actual lay inside the interval (the model only). */
  coverage?: number;
  points: number;
}

export interface BacktestSummary {
  periods: number;
  model: { all: Accuracy; midPeriod: Accuracy };
  naive: { all: Accuracy; midPeriod: Accuracy };
}

export function backtest(days: SeriesDay[], periods: PeriodSpan[]): BacktestPoint[] {
  const points: BacktestPoint[] = [];
  if (days.length === 0) return points;
  const index = new Map(days.map((d, i) => [d.start, i]));
  const forecaster = new Forecaster(days);
  for (const p of periods) {
    const a = index.get(p.start);
    const last = days.findIndex((d) => d.end === p.end);
    // Only periods the series covers from start to end.
    if (a === undefined || last < 0) continue;
    const b = last + 1;
    const actual = sumUsd(days, a, b);
    if (actual <= 0) continue;
    const length = p.end - p.start;
    let mid = -1;
    let spent = 0;
    const periodPoints: BacktestPoint[] = [];
    // The last day's forecast would be the actual itself: stop the day before.
    for (let k = a; k < b - 1; k++) {
      spent += days[k]!.usd;
      const at = days[k]!.end;
      const elapsed = (at - p.start) / length;
      const future = days.slice(k + 1, b).map((d) => ({ weekday: d.weekday, share: 1 }));
      const f = forecaster.forecast(future, k + 1);
      periodPoints.push({
        periodStart: p.start,
        at,
        elapsed,
        actual,
        forecast: spent + f.total,
        low: spent + f.low,
        high: spent + f.high,
        naive: (spent * length) / (at - p.start),
        midPeriod: false,
      });
      if (mid < 0 && elapsed >= 0.5) mid = periodPoints.length - 1;
    }
    if (mid >= 0) periodPoints[mid]!.midPeriod = true;
    points.push(...periodPoints);
  }
  return points;
}

export function summarize(points: BacktestPoint[]): BacktestSummary {
  const mid = points.filter((p) => p.midPeriod);
  return {
    periods: new Set(points.map((p) => p.periodStart)).size,
    model: { all: accuracy(points, 'forecast'), midPeriod: accuracy(mid, 'forecast') },
    naive: { all: accuracy(points, 'naive'), midPeriod: accuracy(mid, 'naive') },
  };
}

function accuracy(points: BacktestPoint[], which: 'forecast' | 'naive'): Accuracy {
  if (points.length === 0)
    return { mape: NaN, points: 0, ...(which === 'forecast' ? { coverage: NaN } : {}) };
  const mape = points.reduce((a, p) => a + Math.abs(p[which] - p.actual) / p.actual, 0) / points.length;
  if (which === 'naive') return { mape, points: points.length };
  const inside = points.filter((p) => p.actual >= p.low && p.actual <= p.high).length;
  return { mape, coverage: inside / points.length, points: points.length };
}

function sumUsd(days: SeriesDay[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += days[i]!.usd;
  return s;
}

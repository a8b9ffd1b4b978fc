/**
 * The spend forecaster: what the days left in a period will cost, from the daily spend before.
 *
 * Model (multiplicative, robust, one series at a time; decision record "forecasts"):
 * 1. weekly cycle — each weekday's median ratio to the mean of its week over the last 8 whole
 *    weeks, normalised to average 1 and pulled towards 1 when fewer weeks are known;
 * 2. trend — Theil–Sen slopes (medians of pairwise slopes, so a holiday or a launch spike does not
 *    tilt them) of the de-seasonalised log spend over the last 8 and the last 3 weeks: the smaller
 *    of the two, 0 when they disagree in sign (a turning cycle), shrunk by its own uncertainty and
 *    capped at ±3 %/day;
 * 3. level — the 8 weeks brought to today along that slope (median), then moved by the recent
 *    residuals, exponentially weighted with a 14-day half-life and clipped at 2.5 σ (a step change
 *    is taken up within a couple of weeks, a one-day spike barely);
 * 4. each future day = level × e^(slope × days ahead) × its weekday's factor;
 * 5. interval (80 %) — the model replayed on this same series: from each of the last 60 days that
 *    have as many days after them as are left to forecast, the log ratio of what came to what the
 *    model said; the interval is the forecast × e^(± the 80th percentile of those |errors|), never
 *    narrower than the day-to-day noise allows. With under 10 such days it is ±35 %.
 *
 * Pure arithmetic on numbers: a forecast is an estimate; it is rounded when it becomes money.
 */

export interface HistoryDay {
  /** Spend of the whole day. */
  usd: number;
  /** 0 = Monday … 6 = Sunday, in the series' time zone. */
  weekday: number;
}

export interface FutureDay {
  weekday: number;
  /** The part of the day still to come: 1 for a whole day, less for today. */
  share: number;
}

export interface Forecast {
  /** Expected spend of each future day (its share of it). */
  days: number[];
  /** Their sum: what the rest of the period is expected to cost. */
  total: number;
  /** The 80 % interval's bounds for `total`. */
  low: number;
  high: number;
}

/** Coverage the interval aims at. */
export const INTERVAL = 0.8;

const WEEKS = 8;
const SHORT_TREND_DAYS = 21;
const LEVEL_HALF_LIFE_DAYS = 14;
const MAX_DAILY_GROWTH = 0.03;
const CALIBRATION_ORIGINS = 60;
const MIN_CALIBRATION_ERRORS = 10;
/** Below this many days of history the weekly cycle and the trend are not estimated. */
const MIN_DAYS_FOR_CYCLE = 14;
/** Relative error assumed when the series is too short to measure it. */
const UNKNOWN_ERROR = 0.35;
/** The interval never spans more than a factor of 10 either way. */
const MAX_SPREAD = Math.log(10);
/** The normal quantile of a two-sided 80 % interval (the noise floor's width). */
const Z80 = 1.2815515655446004;

/** The model in a sentence, for API answers. */
export const MODEL_DESCRIPTION =
  'daily spend = level × weekday factor × trend; weekday factors: medians over the last 8 weeks; ' +
  'trend: Theil–Sen on log spend over 8 and 3 weeks (the smaller, 0 if they disagree); level: the ' +
  '8 weeks with recent days weighted more (14-day half-life); 80 % interval: the 80th percentile ' +
  'of the model’s own errors on the same series at the same horizon (last 60 days)';

function median(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Fit {
  cycle: number[];
  /** Log level at the last history day. */
  level: number;
  slope: number;
  /** Day-to-day noise (log scale). */
  noise: number;
}

/** Forecasts for one daily series; the fit at each cut-off is memoised (a backtest reuses them). */
export class Forecaster {
  private readonly fits = new Map<number, Fit | undefined>();
  /** Days before the first day with spend are days before anything was recorded, not days of $0. */
  private readonly first: number;

  /** `days`: whole days, oldest first, contiguous. */
  constructor(private readonly days: readonly HistoryDay[]) {
    const first = days.findIndex((d) => d.usd > 0);
    this.first = first < 0 ? days.length : first;
  }

  /** The `future` days after the first `end` days of the series (all of them by default). */
  forecast(future: FutureDay[], end = this.days.length): Forecast {
    const f = this.fitAt(end);
    if (!f || future.length === 0) return { days: future.map(() => 0), total: 0, low: 0, high: 0 };
    const days = pointForecast(f, future);
    const total = days.reduce((a, x) => a + x, 0);
    const spread = Math.min(
      Math.max(this.measuredError(end, future.length), (Z80 * f.noise) / Math.sqrt(future.length)),
      MAX_SPREAD,
    );
    return { days, total, low: total * Math.exp(-spread), high: total * Math.exp(spread) };
  }

  private fitAt(end: number): Fit | undefined {
    if (!this.fits.has(end))
      this.fits.set(end, fit(this.days.slice(Math.max(this.first, end - WEEKS * 7), end)));
    return this.fits.get(end);
  }

  /**
   * The 80th percentile of the model's absolute log errors on this series `horizon` days ahead,
   * replayed from the last origins before `end` that have that many days after them.
   */
  private measuredError(end: number, horizon: number): number {
    const errors: number[] = [];
    for (
      let c = end - horizon;
      c >= this.first + MIN_DAYS_FOR_CYCLE && errors.length < CALIBRATION_ORIGINS;
      c--
    ) {
      const f = this.fitAt(c);
      if (!f) continue;
      const ahead = this.days.slice(c, c + horizon);
      const predicted = pointForecast(
        f,
        ahead.map((d) => ({ weekday: d.weekday, share: 1 })),
      ).reduce((a, x) => a + x, 0);
      const actual = ahead.reduce((a, d) => a + d.usd, 0);
      if (predicted > 0 && actual > 0) errors.push(Math.abs(Math.log(actual / predicted)));
    }
    if (errors.length < MIN_CALIBRATION_ERRORS) return UNKNOWN_ERROR;
    const sorted = Float64Array.from(errors).sort();
    return sorted[Math.floor(INTERVAL * sorted.length)]!;
  }
}

/** Weekday factors (index 0 = Monday), averaging 1. */
function weeklyCycle(history: readonly HistoryDay[]): number[] {
  const n = history.length;
  const ratios: number[][] = [[], [], [], [], [], [], []];
  let weeks = 0;
  for (let w = 0; w < WEEKS; w++) {
    const end = n - w * 7;
    const start = end - 7;
    if (start < 0) break;
    const week = history.slice(start, end);
    const mean = week.reduce((a, d) => a + d.usd, 0) / 7;
    if (mean <= 0) continue;
    weeks++;
    for (const d of week) ratios[d.weekday]!.push(d.usd / mean);
  }
  if (weeks < 2) return [1, 1, 1, 1, 1, 1, 1];
  const raw = ratios.map((r) => (r.length > 0 ? median(r) : 1));
  const mean = raw.reduce((a, x) => a + x, 0) / 7;
  // Two weeks say less than eight: pull the factors towards 1 accordingly.
  const trust = weeks / (weeks + 1);
  return raw.map((x) => Math.max(1 + (x / mean - 1) * trust, 0.02));
}

function fit(history: readonly HistoryDay[]): Fit | undefined {
  const n = history.length;
  if (n === 0) return undefined;
  if (n < MIN_DAYS_FOR_CYCLE) {
    const mean = history.reduce((a, d) => a + d.usd, 0) / n;
    if (mean <= 0) return undefined;
    return { cycle: [1, 1, 1, 1, 1, 1, 1], level: Math.log(mean), slope: 0, noise: UNKNOWN_ERROR };
  }
  const cycle = weeklyCycle(history);
  // De-seasonalised log spend; a day without spend counts as a tenth of the median day.
  const deseason = history.map((d) => d.usd / cycle[d.weekday]!);
  const floor = Math.max(median(deseason) * 0.1, 1e-9);
  const y = deseason.map((v) => Math.log(Math.max(v, floor)));
  const last = n - 1;
  const theilSen = (from: number): number => {
    const slopes: number[] = [];
    for (let i = from; i < n; i++) for (let j = i + 7; j < n; j++) slopes.push((y[j]! - y[i]!) / (j - i));
    return slopes.length > 0 ? median(slopes) : 0;
  };
  const long = theilSen(0);
  const short = n > SHORT_TREND_DAYS ? theilSen(n - SHORT_TREND_DAYS) : long;
  let slope = Math.sign(short) !== Math.sign(long) ? 0 : Math.abs(short) < Math.abs(long) ? short : long;
  let level = median(y.map((v, i) => v + slope * (last - i)));
  const residuals = y.map((v, i) => v - (level - slope * (last - i)));
  const centre = median(residuals);
  const noise = 1.4826 * median(residuals.map((r) => Math.abs(r - centre)));
  // Recent days say more about today's level: an exponentially weighted mean of the residuals.
  let weights = 0;
  let shift = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.pow(0.5, (last - i) / LEVEL_HALF_LIFE_DAYS);
    weights += w;
    shift += w * Math.min(Math.max(residuals[i]!, -2.5 * noise), 2.5 * noise);
  }
  level += shift / weights;
  // A slope no larger than its standard error says little: shrink it (a noisy month is no trend).
  const se = noise * Math.sqrt(12 / (n * n * n));
  if (se > 0) slope = (slope * slope * slope) / (slope * slope + se * se);
  slope = Math.min(Math.max(slope, -MAX_DAILY_GROWTH), MAX_DAILY_GROWTH);
  return { cycle, level, slope, noise };
}

function pointForecast(f: Fit, future: FutureDay[]): number[] {
  // The level is a central log value: e^(σ²/2) turns it into an expected value.
  const mean = Math.exp(f.level + (f.noise * f.noise) / 2);
  return future.map((d, h) => mean * Math.exp(f.slope * (h + 1)) * f.cycle[d.weekday]! * d.share);
}

/**
 * Budgets for any period, from the stored calls: each budget in force then, with the limit in force
 * then, its spend, state, forecast and burn-down; beside them all spend and the spend no budget
 * covers (UTC months). The same computation feeds the API, the live budget state's forecast, and
 * the `budget_burndown` table the dashboards read (a cache, rewritten when recomputed).
 */
import type { BudgetPeriod, Policy, PolicyFile } from 'tokenledger/policy';
import { Money } from '../../core/money';
import { Periodic } from '../../core/periodic';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import { CALLS_HOURLY } from '../../storage/rollup/rollups';
import { callInScope, type SpendScope } from '../policy/match';
import type { PricedCall } from '../../core/call';
import type { PolicyHistory, PolicyVersion } from '../policy/history';
import { budgetsAt, limitTimeline } from './limits';
import { periodAt, periodsBetween, type PeriodWindow } from './periods';
import {
  DEFAULT_WARNING_AT,
  forecasterFor,
  periodReport,
  warningShare,
  type Bucket,
  type PeriodForecast,
  type PeriodReport,
} from './period-report';
import { SpendSeries, type SpendDay } from './series';
import type { Forecaster } from '../forecast/model';
import { storedSpendByBucket } from './spend';

export interface LedgerDeps {
  storage: Storage;
  history: PolicyHistory;
  policy: () => PolicyFile | undefined;
  now?: () => Date;
  log?: (line: string) => void;
  /** Spend accepted but not yet stored (CallWriter.unflushedCalls): counted in open periods. */
  unflushed?: () => PricedCall[];
}

/** A range's budgets: each budget's period that overlaps the range most, at its end. */
export interface BudgetsReport {
  /** The instant the periods were chosen at (the range's end, or now). */
  at: Date;
  budgets: PeriodReport[];
  /** All spend in the UTC month chosen the same way. */
  all: PeriodReport;
  /** The spend of that month that no budget covers. */
  unbudgeted: PeriodReport;
}

const DAY_MS = 86_400_000;
/** Days before a period the forecast looks at (8 weeks of fit + 60 days of calibration + a quarter). */
const FORECAST_HISTORY_DAYS = 210;
/** The burn-down cache goes back at most this far. */
const BACKFILL_DAYS = 400;
/** The first refresh waits at most this long after start. */
const FIRST_REFRESH_MS = 15_000;
/** Spans stored late (an import, a backlog): the whole history is recomputed this often. */
const BACKFILL_EVERY_MS = 6 * 3_600_000;
/** Late spans: periods closed this recently are recomputed with the current ones. */
const RECENT_MS = 2 * DAY_MS;

export class BudgetLedger {
  private readonly series: SpendSeries;
  private readonly now: () => Date;
  private live = new Map<string, { spent: Money; forecast: PeriodForecast }>();
  private written = new Map<string, string>();
  private backfilled: { for: string; at: number } | undefined;
  private readonly refreshes = new Periodic(
    () => this.refresh(),
    (err) => this.deps.log?.(`budget burn-down: ${err.message}`),
  );

  constructor(private readonly deps: LedgerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.series = new SpendSeries(deps.storage, this.now);
  }

  /** Budgets, all spend and unbudgeted spend for the periods overlapping [from, to) most at its end. */
  async report(from: Date, to: Date): Promise<BudgetsReport> {
    const now = this.now();
    const end = new Date(Math.min(to.getTime(), now.getTime()));
    const at = new Date(Math.max(end.getTime() - 1, from.getTime()));
    const versions = await this.deps.history.versions();
    const budgets = budgetsAt(versions, this.deps.policy(), at);
    const reports: PeriodReport[] = [];
    for (const p of budgets) {
      const b = p.budget!;
      const window = mostOverlapping(b.period, b.timezone ?? 'UTC', from, end);
      reports.push(await this.budgetReport(p, window, versions, now));
    }
    const month = mostOverlapping('monthly', 'UTC', from, end);
    return {
      at: end,
      budgets: reports,
      all: await this.spendReport('all', { all: true }, month, now),
      unbudgeted: await this.spendReport('unbudgeted', unbudgetedScope(budgets), month, now),
    };
  }

  /**
   * The period-end forecast of a budget's current period for the live state, never computed here:
   * the latest refresh's forecast moved by the spend since; undefined before the first refresh.
   * GET /v1/budgets, which every guard polls, must not wait for (nor queue behind, on the embedded
   * engine) a year of daily spend being read.
   */
  liveForecast(p: Policy, window: PeriodWindow, spent: Money): PeriodForecast | undefined {
    const cached = this.live.get(liveKey(p, window));
    if (!cached) return undefined;
    const moved = spent.minus(cached.spent);
    const shift = (m: Money): Money => Money.max(m.plus(moved), spent);
    return {
      usd: shift(cached.forecast.usd),
      lowUsd: shift(cached.forecast.lowUsd),
      highUsd: shift(cached.forecast.highUsd),
      breachAt: cached.forecast.breachAt,
    };
  }

  /**
   * Refreshes the burn-down every `everyMs`, the first time after at most FIRST_REFRESH_MS: the
   * collector's first requests (guards asking for their budgets) go first. A refresh still running
   * skips a tick.
   */
  start(everyMs = 60_000): void {
    this.refreshes.start(everyMs, Math.min(everyMs, FIRST_REFRESH_MS));
  }

  /** No refresh starts after this; resolves once the one in flight (if any) is written. */
  stop(): Promise<void> {
    return this.refreshes.stop();
  }

  /**
   * Writes the burn-down of the current periods (and of periods closed in the last two days, for
   * late spans) to `budget_burndown`; the first time there are calls, when the policy changed and
   * every six hours, every period back to the first stored call (at most BACKFILL_DAYS). Rows that
   * did not change are not written again.
   */
  async refresh(): Promise<void> {
    const now = this.now();
    const versions = await this.deps.history.versions();
    const current = this.deps.policy();
    const fingerprint = JSON.stringify(versions.map((v) => v.version)) + JSON.stringify(current ?? null);
    let from = new Date(now.getTime() - RECENT_MS);
    let backfill = false;
    if (this.backfilled?.for !== fingerprint || now.getTime() - this.backfilled.at > BACKFILL_EVERY_MS) {
      const first = await this.firstStoredHour();
      backfill = first !== undefined;
      if (first) from = new Date(Math.max(first.getTime(), now.getTime() - BACKFILL_DAYS * DAY_MS));
    }
    const reports: PeriodReport[] = [];
    const shared = new SharedSeries(this.series, this.deps.storage, now);
    const live = new Map<string, { spent: Money; forecast: PeriodForecast }>();
    for (const name of budgetNames(versions, current)) {
      const periods = this.periodsOf(name, versions, current, from, now);
      for (const { policy, window } of periods) {
        const days = await shared.days(
          { match: policy.match },
          window,
          periods.map((p) => p.window),
        );
        const buckets =
          policy.budget!.period === 'daily'
            ? await shared.hours(
                { match: policy.match },
                window,
                periods.map((p) => p.window),
              )
            : undefined;
        const report = await this.budgetReport(policy, window, versions, now, undefined, days, buckets);
        reports.push(report);
        // What the live state (GET /v1/budgets) serves until the next refresh.
        if (!report.closed)
          live.set(liveKey(policy, window), { spent: report.spentUsd, forecast: report.forecast });
      }
    }
    this.live = live;
    const months = periodsBetween('monthly', from, now, 'UTC');
    for (const window of months) {
      const at = new Date(Math.min(window.end.getTime(), now.getTime()) - 1);
      const unbudgeted = unbudgetedScope(budgetsAt(versions, current, at));
      for (const [scope, spend] of [
        ['all', { all: true }],
        ['unbudgeted', unbudgeted],
      ] as const) {
        const days = await shared.days(spend, window, months);
        reports.push(await this.spendReport(scope, spend, window, now, days));
      }
    }
    await this.write(reports, now);
    if (backfill) this.backfilled = { for: fingerprint, at: now.getTime() };
  }

  /** Each period of a budget between `from` and `now`, with the definition in force at its end. */
  private periodsOf(
    name: string,
    versions: readonly PolicyVersion[],
    current: PolicyFile | undefined,
    from: Date,
    now: Date,
  ): Array<{ policy: Policy; window: PeriodWindow }> {
    const out: Array<{ policy: Policy; window: PeriodWindow }> = [];
    let at = from;
    while (at < now) {
      const policy = budgetsAt(versions, current, at).find((p) => p.name === name);
      if (!policy) {
        // Not a budget at this time: look again a day later.
        at = new Date(at.getTime() + DAY_MS);
        continue;
      }
      const b = policy.budget!;
      const window = periodAt(b.period, at, b.timezone ?? 'UTC');
      const atEnd = new Date(Math.min(window.end.getTime(), now.getTime()) - 1);
      out.push({
        policy: budgetsAt(versions, current, atEnd).find((p) => p.name === name) ?? policy,
        window,
      });
      at = window.end;
    }
    return out;
  }

  private async budgetReport(
    p: Policy,
    window: PeriodWindow,
    versions: readonly PolicyVersion[],
    now: Date,
    liveSpent?: Money,
    series?: SeriesDays,
    hours?: Bucket[],
  ): Promise<PeriodReport> {
    const scope: SpendScope = { match: p.match };
    const { days, forecaster } = series ?? (await this.historyDays(scope, window, now));
    const buckets =
      p.budget!.period === 'daily'
        ? (hours ?? (await storedHours(this.deps.storage, scope, [window], now)).get(window)!)
        : undefined;
    const limits = await limitTimeline(this.deps.storage, versions, this.deps.policy(), p.name, window);
    let unstoredUsd = this.unstored(scope, window, now);
    if (liveSpent) {
      // The live state's spend includes calls not stored yet: the difference is theirs.
      const stored = (
        buckets ?? days.filter((d) => d.start >= window.start.getTime() && d.end <= window.end.getTime())
      ).reduce((s, d) => s.plus(d.usd), new Money(0));
      unstoredUsd = Money.max(liveSpent.minus(stored), 0);
    }
    return periodReport({
      scope: 'budget',
      policy: p.name,
      window,
      now,
      days,
      forecaster,
      ...(buckets ? { buckets } : {}),
      limits,
      warnAt: warningShare(p),
      ...(unstoredUsd ? { unstoredUsd } : {}),
    });
  }

  private async spendReport(
    scope: 'all' | 'unbudgeted',
    spend: SpendScope,
    window: PeriodWindow,
    now: Date,
    series?: SeriesDays,
  ): Promise<PeriodReport> {
    const { days, forecaster } = series ?? (await this.historyDays(spend, window, now));
    const unstoredUsd = this.unstored(spend, window, now);
    return periodReport({
      scope,
      policy: '',
      window,
      now,
      days,
      forecaster,
      limits: null,
      warnAt: DEFAULT_WARNING_AT,
      ...(unstoredUsd ? { unstoredUsd } : {}),
    });
  }

  /** Calls accepted but not stored yet that fall in the scope and the window (a period still open). */
  private unstored(scope: SpendScope, window: PeriodWindow, now: Date): Money | undefined {
    if (!this.deps.unflushed || now >= window.end) return undefined;
    let sum = new Money(0);
    for (const c of this.deps.unflushed()) {
      const t = Number(BigInt(c.startTimeUnixNano) / 1_000_000n);
      if (c.priced && t >= window.start.getTime() && t < window.end.getTime() && callInScope(scope, c))
        sum = sum.plus(c.costUsd);
    }
    return sum.isZero() ? undefined : sum;
  }

  /** The scope's local days from FORECAST_HISTORY_DAYS before the period to min(now, its end). */
  private async historyDays(scope: SpendScope, window: PeriodWindow, now: Date): Promise<SeriesDays> {
    const to = new Date(Math.min(now.getTime(), window.end.getTime()));
    const from = new Date(window.start.getTime() - FORECAST_HISTORY_DAYS * DAY_MS);
    const days = await this.series.days(scope, window.timezone, from, to);
    return { days, forecaster: forecasterFor(days) };
  }

  private async firstStoredHour(): Promise<Date | undefined> {
    const db = this.deps.storage.database;
    try {
      const rs = await this.deps.storage.client.query({
        query: `SELECT toUnixTimestamp(min(hour)) AS first, count() AS n FROM ${db}.${CALLS_HOURLY.name}`,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      const [row] = await rs.json<{ first: number; n: number }>();
      return row && Number(row.n) > 0 ? new Date(Number(row.first) * 1000) : undefined;
    } catch (cause) {
      throw new StorageError('reading the first stored hour', {
        cause,
        detail: `${db}.${CALLS_HOURLY.name}`,
      });
    }
  }

  private async write(reports: PeriodReport[], now: Date): Promise<void> {
    const rows: Array<Record<string, unknown>> = [];
    const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
    const written = new Map<string, string>();
    for (const r of reports) {
      for (const p of r.points) {
        const row = {
          scope: r.scope,
          policy: r.policy,
          period: r.period,
          timezone: r.timezone,
          period_start: seconds(r.periodStart),
          period_end: seconds(r.periodEnd),
          bucket_start: seconds(p.bucketStart),
          at: p.at.getTime(),
          spent_usd: p.spentUsd.toFixed(),
          limit_usd: p.limitUsd?.toFixed() ?? null,
          limit_source: p.limitUsd === null ? '' : (r.limitSource ?? ''),
          forecast_usd: p.forecast.usd.toFixed(),
          forecast_low_usd: p.forecast.lowUsd.toFixed(),
          forecast_high_usd: p.forecast.highUsd.toFixed(),
          breach_at: p.forecast.breachAt?.getTime() ?? null,
          state: p.state ?? '',
          closed: r.closed ? 1 : 0,
        };
        const key = `${r.scope}\u0000${r.policy}\u0000${row.period_start}\u0000${row.bucket_start}`;
        const text = JSON.stringify(row);
        written.set(key, text);
        if (this.written.get(key) !== text) rows.push({ ...row, computed_at: now.getTime() });
      }
    }
    if (rows.length > 0) {
      const db = this.deps.storage.database;
      try {
        await this.deps.storage.client.insert({
          table: `${db}.budget_burndown`,
          values: rows,
          format: 'JSONEachRow',
        });
      } catch (cause) {
        throw new StorageError('writing the budget burn-down', { cause, detail: `${db}.budget_burndown` });
      }
    }
    // Keep the memo to what was just computed: old periods drop out of it.
    this.written = written;
  }
}

interface SeriesDays {
  days: SpendDay[];
  forecaster: Forecaster;
}

/**
 * One series (and forecaster, whose fits it memoises) per scope and time zone across the periods
 * of a refresh: a year of periods costs one read and one set of fits, not one per period.
 */
class SharedSeries {
  private readonly made = new Map<string, SeriesDays>();
  private readonly hourly = new Map<PeriodWindow, Bucket[]>();

  constructor(
    private readonly series: SpendSeries,
    private readonly storage: Storage,
    private readonly now: Date,
  ) {}

  /** The days of `scope` covering every window in `windows` (read once), for `window`. */
  async days(scope: SpendScope, window: PeriodWindow, windows: PeriodWindow[]): Promise<SeriesDays> {
    const key = `${window.timezone}\u0000${JSON.stringify(scope)}`;
    let found = this.made.get(key);
    if (!found) {
      const first = Math.min(...windows.map((w) => w.start.getTime()));
      const from = new Date(first - FORECAST_HISTORY_DAYS * DAY_MS);
      const to = new Date(Math.min(this.now.getTime(), Math.max(...windows.map((w) => w.end.getTime()))));
      const days = await this.series.days(scope, window.timezone, from, to);
      found = { days, forecaster: forecasterFor(days) };
      this.made.set(key, found);
    }
    return found;
  }

  /** The hours of `window` (a daily budget's day), all of `windows` read at once for `scope`. */
  async hours(scope: SpendScope, window: PeriodWindow, windows: PeriodWindow[]): Promise<Bucket[]> {
    // Keyed by the window objects of one budget's periods: two budgets alike read their own.
    let found = this.hourly.get(window);
    if (!found) {
      for (const [w, buckets] of await storedHours(this.storage, scope, windows, this.now))
        this.hourly.set(w, buckets);
      found = this.hourly.get(window) ?? [];
    }
    return found;
  }
}

/** A window's bucket bounds for a burn-down by the hour: its start, each UTC hour in it, its end (or now). */
function hourBounds(window: PeriodWindow, now: Date): number[] {
  const start = window.start.getTime();
  const end = Math.min(window.end.getTime(), now.getTime());
  if (end <= start) return [];
  const bounds = [start];
  for (let h = Math.floor(start / 3_600_000 + 1) * 3_600_000; h < end; h += 3_600_000) bounds.push(h);
  bounds.push(end);
  return bounds;
}

/**
 * Daily budgets burn down by the hour: each window cut at every UTC hour, the spend of all windows
 * read in one query (a year of days is one read, not 365).
 */
async function storedHours(
  storage: Storage,
  scope: SpendScope,
  windows: readonly PeriodWindow[],
  now: Date,
): Promise<Map<PeriodWindow, Bucket[]>> {
  const each = windows.map((w) => hourBounds(w, now));
  const bounds = [...new Set(each.flat())].sort((a, b) => a - b);
  const spend = await storedSpendByBucket(storage, scope, bounds);
  const index = new Map(bounds.map((b, i) => [b, i]));
  // A window's bucket is one shared bucket, or several where another window's bounds cut it.
  const usd = (start: number, end: number): Money => {
    let sum = new Money(0);
    for (let i = index.get(start)!; bounds[i]! < end; i++) sum = sum.plus(spend[i]!);
    return sum;
  };
  return new Map(
    windows.map((w, i) => {
      const b = each[i]!;
      return [w, b.slice(0, -1).map((start, j) => ({ start, end: b[j + 1]!, usd: usd(start, b[j + 1]!) }))];
    }),
  );
}

/** A budget's current period as the live state names it: a changed selector or limit is another. */
const liveKey = (p: Policy, window: PeriodWindow): string =>
  `${p.name}\u0000${window.start.getTime()}\u0000${JSON.stringify(p.match ?? {})}\u0000${p.budget?.usd}`;

/** The calls no budget of the list covers. */
function unbudgetedScope(budgets: readonly Policy[]): SpendScope {
  return { noneOf: budgets.map((p) => p.match ?? {}) };
}

/** Every policy that had a budget in some stored version, or has one today. */
function budgetNames(versions: readonly PolicyVersion[], current: PolicyFile | undefined): string[] {
  const names = new Set<string>();
  for (const file of [...versions.map((v) => v.policy), ...(current ? [current] : [])])
    for (const p of file.policies) if (p.budget) names.add(p.name);
  return [...names];
}

/**
 * The period (of this kind, in this zone) that overlaps [from, to) most, among the one holding its
 * last instant and the one before: a UTC month asked of a monthly budget in Berlin is that month,
 * not the hour of the next month it also touches.
 */
function mostOverlapping(period: BudgetPeriod, timeZone: string, from: Date, to: Date): PeriodWindow {
  const last = periodAt(period, new Date(Math.max(to.getTime() - 1, from.getTime())), timeZone);
  const before = periodAt(period, new Date(last.start.getTime() - 1), timeZone);
  const overlap = (w: PeriodWindow): number =>
    Math.min(w.end.getTime(), to.getTime()) - Math.max(w.start.getTime(), from.getTime());
  return overlap(before) > overlap(last) ? before : last;
}

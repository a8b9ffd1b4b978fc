/**
 * The budget engine: per policy with a budget, spend in its current calendar period — stored
 * (ClickHouse) plus accepted but not yet stored (the writer's queue) — against its limit, with a
 * state and a period-end forecast (the ledger's model when given). Results are cached briefly (many guards poll GET /v1/budgets)
 * and concurrent callers share one computation. Writes budget_snapshots once a minute.
 */
import type { Policy, PolicyFile, PolicyMatch } from 'tokenledger/policy';
import type { PricedCall } from '../../core/call';
import { callMatches } from '../policy/match';
import { Money, ZERO } from '../../core/money';
import { Periodic } from '../../core/periodic';
import type { Storage } from '../../storage/client';
import { periodAt, type PeriodWindow } from './periods';
import { writeSnapshots } from './snapshots';
import { storedSpend } from './spend';
import { budgetStatus, linearForecast, type BudgetStatus } from './status';
import type { PeriodForecast } from './period-report';

export interface BudgetEngineDeps {
  storage: Storage;
  policy: () => PolicyFile | undefined;
  /** Spend accepted but not yet stored (CallWriter.unflushedCalls). */
  unflushed?: () => PricedCall[];
  now?: () => Date;
  log?: (line: string) => void;
  /** How long a computed state is served before it is computed again. */
  maxAgeMs?: number;
  /**
   * The period-end forecast (the ledger's model, never waited for); without one yet, the period's
   * average rate.
   */
  forecast?: (policy: Policy, window: PeriodWindow, spent: Money) => PeriodForecast | undefined;
}

export { type BudgetStatus } from './status';

const callTimeMs = (c: PricedCall): number => Number(BigInt(c.startTimeUnixNano) / 1_000_000n);

export class BudgetEngine {
  /** `at`: when the computation started, so every call stored before is in `statuses`. */
  private cached: { at: number; policy: PolicyFile | undefined; statuses: BudgetStatus[] } | undefined;
  private computing: Promise<BudgetStatus[]> | undefined;
  private readonly snapshots = new Periodic(
    () => this.snapshot(),
    (err) => this.deps.log?.(`budget snapshot: ${err.message}`),
  );
  private readonly now: () => Date;

  constructor(private readonly deps: BudgetEngineDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Every budgeted policy's state: computed at most maxAgeMs ago, or — when older and the policy
   * file is the same — the last one at once while a new one is computed (many guards poll, and a
   * loaded ClickHouse must not stall them all). `fresh`: computed now.
   */
  async statuses(opts: { fresh?: boolean } = {}): Promise<BudgetStatus[]> {
    const policy = this.deps.policy();
    const c = this.cached;
    const maxAgeMs = this.deps.maxAgeMs ?? 1000;
    // maxAgeMs 0: no cache at all, every caller gets a figure computed for it.
    if (!opts.fresh && maxAgeMs > 0 && c && c.policy === policy) {
      if (this.now().getTime() - c.at >= maxAgeMs) this.recompute(policy).catch(() => undefined);
      return c.statuses;
    }
    return this.recompute(policy, opts.fresh === true);
  }

  /** One computation at a time, shared by its callers; `force`: a new one even if one is running. */
  private recompute(policy: PolicyFile | undefined, force = false): Promise<BudgetStatus[]> {
    if (this.computing && !force) return this.computing;
    const run = this.compute(policy).finally(() => {
      if (this.computing === run) this.computing = undefined;
    });
    this.computing = run;
    return run;
  }

  /** The policy's budget limit, if it has a budget. */
  limitUsd(policyName: string): Money | undefined {
    const p = this.find(policyName);
    return p?.budget ? new Money(p.budget.usd) : undefined;
  }

  /** What the policy does once its budget is spent. */
  onExceeded(policyName: string): string | undefined {
    return this.find(policyName)?.on_exceeded;
  }

  /** What the policy selects (its `match`). */
  matchOf(policyName: string): PolicyMatch | undefined {
    return this.find(policyName)?.match;
  }

  /** The policy's current period (or the one containing `at`). */
  window(policyName: string, at: Date = this.now()): PeriodWindow | undefined {
    const budget = this.find(policyName)?.budget;
    return budget && periodAt(budget.period, at, budget.timezone ?? 'UTC');
  }

  /** Spend of the policy in the period starting at (or containing) `periodStart`; current period by default. */
  async spentUsd(policyName: string, periodStart?: Date): Promise<Money> {
    return (await this.spendFigure(policyName, periodStart ?? this.now())).usd;
  }

  /** The same, with when it was computed: every call stored before `asOf` is in it (budget leases rely on it). */
  async spendFigure(
    policyName: string,
    periodStart: Date,
    opts: { notBefore?: number; fresh?: boolean } = {},
  ): Promise<{ usd: Money; asOf: number }> {
    const window = this.window(policyName, periodStart);
    if (!window) return { usd: ZERO, asOf: this.now().getTime() };
    let statuses = await this.statuses({ fresh: opts.fresh === true });
    // A cached figure older than the caller may use (a new lease owner's): compute one now.
    if (opts.notBefore !== undefined && this.computedAt(statuses) < opts.notBefore)
      statuses = await this.statuses({ fresh: true });
    const current = statuses.find((s) => s.policy === policyName);
    if (current && current.periodStart.getTime() === window.start.getTime())
      return { usd: current.spentUsd, asOf: this.computedAt(statuses) };
    const asOf = this.now().getTime();
    return { usd: await this.spendIn(this.find(policyName)!, window), asOf };
  }

  /** When `statuses` were computed (every call stored before is in them); 0 when not known. */
  private computedAt(statuses: BudgetStatus[]): number {
    return this.cached?.statuses === statuses ? this.cached.at : 0;
  }

  /** Writes budget_snapshots every `everyMs` (and once now); a snapshot still running skips a tick. */
  start(everyMs = 60_000): void {
    this.snapshots.start(everyMs);
  }

  /** No snapshot starts after this; resolves once the one in flight (if any) is written. */
  stop(): Promise<void> {
    return this.snapshots.stop();
  }

  async snapshot(): Promise<void> {
    await writeSnapshots(this.deps.storage, await this.statuses({ fresh: true }), this.now());
  }

  private find(name: string): Policy | undefined {
    return this.deps.policy()?.policies.find((p) => p.name === name);
  }

  private async compute(policy: PolicyFile | undefined): Promise<BudgetStatus[]> {
    const now = this.now();
    const statuses: BudgetStatus[] = [];
    for (const p of policy?.policies ?? []) {
      if (!p.budget) continue;
      const window = periodAt(p.budget.period, now, p.budget.timezone ?? 'UTC');
      const spent = await this.spendIn(p, window);
      statuses.push(budgetStatus(p, window, spent, this.forecast(p, window, spent, now)));
    }
    // Two computations may overlap (a forced one): the one that began last stays, so the figure's
    // time never goes back (budget leases count what was stored after it).
    if (!this.cached || this.cached.at <= now.getTime())
      this.cached = { at: now.getTime(), policy, statuses };
    return statuses;
  }

  private forecast(p: Policy, window: PeriodWindow, spent: Money, now: Date): PeriodForecast {
    try {
      return this.deps.forecast?.(p, window, spent) ?? linearForecast(window, spent, now);
    } catch (err) {
      // The guard must get its budgets even when the forecast cannot be computed.
      this.deps.log?.(`budget forecast ${p.name}: ${(err as Error).message}`);
      return linearForecast(window, spent, now);
    }
  }

  private async spendIn(p: Policy, window: PeriodWindow): Promise<Money> {
    let spent = await storedSpend(this.deps.storage, p.match, window.start, window.end);
    const from = window.start.getTime();
    const to = window.end.getTime();
    for (const c of this.deps.unflushed?.() ?? []) {
      const t = callTimeMs(c);
      if (t >= from && t < to && c.priced && callMatches(p.match, c)) spent = spent.plus(c.costUsd);
    }
    return spent;
  }
}

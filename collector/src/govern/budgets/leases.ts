/**
 * Budget leases: each guarded app process holds a slice of a policy's remaining budget and spends
 * from it without asking per call. The collector grants from
 *
 *   limit − spent − Σ outstanding leases,  outstanding = (granted − reported used) + recently reported used
 *
 * `spent` is the BudgetEngine's (stored + accepted, not yet stored). A holder reports the actual
 * spend of its settled calls with each request; that amount stays counted until it has landed —
 * the settle grace has passed (its spans reach the collector within ~1 s) and the stored spend has
 * grown by as much since the report — so it is never counted zero times; briefly twice, which errs
 * towards blocking.
 * A lease not renewed for its TTL expires (a crashed process frees its slice); DELETE returns the
 * unused part at once. Grants for one policy are serialized, so two holders never get the same money.
 */
import { randomUUID } from 'node:crypto';
import { Money, ZERO } from '../../core/money';
import type { PeriodWindow } from './periods';

/** What leases need from the budget engine (BudgetEngine satisfies it). */
export interface LeaseBudgetSource {
  limitUsd(policy: string): Money | undefined;
  window(policy: string, at?: Date): PeriodWindow | undefined;
  spentUsd(policy: string, periodStart?: Date): Promise<Money>;
}

export interface LeaseOptions {
  ttlMs?: number;
  settleGraceMs?: number;
  now?: () => number;
}

export interface LeaseGrantRequest {
  policy: string;
  periodStart: Date;
  holder: string;
  requestedUsd: Money;
  /** The holder's settled spend under its current lease (cumulative). */
  usedUsd?: Money;
}

export interface LeaseGrant {
  leaseId: string;
  grantedUsd: Money;
  totalGrantedUsd: Money;
  /** Left for all holders after this grant (limit − spent − outstanding): holders borrow only while it is large. */
  unleasedUsd: Money;
  /** Open leases of this policy period (holders borrow at most a share of the unleased amount each). */
  holders: number;
  expiresAt: Date;
}

export class LeaseError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }
}

interface Lease {
  id: string;
  key: string;
  holder: string;
  granted: Money;
  used: Money;
  /** Reported spend whose spans may not have arrived yet, with the stored spend when it was reported. */
  recent: Array<{ at: number; usd: Money; spentAt: Money }>;
  expiresAt: number;
  closed: boolean;
}

const DEFAULT_LEASE_TTL_MS = 30_000;
const DEFAULT_SETTLE_GRACE_MS = 5_000;
/** Reported spend whose spans never arrive (a process killed before its export) stops counting after this. */
const LOST_AFTER_MS = 60_000;

export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** The stored spend of each policy period at its last grant. */
  private readonly lastSpent = new Map<string, Money>();
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly budgets: LeaseBudgetSource,
    options: LeaseOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.graceMs = options.settleGraceMs ?? DEFAULT_SETTLE_GRACE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Grants up to `requestedUsd` more to the holder's lease (created on first use). */
  grant(req: LeaseGrantRequest): Promise<LeaseGrant> {
    const limit = this.budgets.limitUsd(req.policy);
    if (limit === undefined) throw new LeaseError(`policy "${req.policy}" has no budget`, 404);
    const window = this.budgets.window(req.policy);
    if (!window || window.start.getTime() !== req.periodStart.getTime()) {
      throw new LeaseError(
        `period ${req.periodStart.toISOString()} is not the current period of policy "${req.policy}"` +
          (window ? ` (${window.start.toISOString()}); refresh GET /v1/budgets` : ''),
        409,
      );
    }
    const key = `${req.policy}|${window.start.getTime()}`;
    return this.serialized(key, () => this.grantNow(key, req, limit, window));
  }

  private async grantNow(
    key: string,
    req: LeaseGrantRequest,
    limit: Money,
    window: PeriodWindow,
  ): Promise<LeaseGrant> {
    const spent = await this.budgets.spentUsd(req.policy, window.start);
    const now = this.now();
    this.prune(now, key, spent);
    let lease = [...this.leases.values()].find((l) => l.key === key && l.holder === req.holder && !l.closed);
    if (!lease) {
      lease = {
        id: `lease_${randomUUID()}`,
        key,
        holder: req.holder,
        granted: ZERO,
        used: ZERO,
        recent: [],
        expiresAt: 0,
        closed: false,
      };
      this.leases.set(lease.id, lease);
    } else if (req.usedUsd) {
      this.reportUsed(lease, req.usedUsd, now, spent);
    }
    lease.expiresAt = now + this.ttlMs;
    const available = limit.minus(spent).minus(this.outstanding(key));
    const requested = Money.max(req.requestedUsd, 0);
    const granted = Money.max(Money.min(requested, available), 0);
    lease.granted = lease.granted.plus(granted);
    return {
      leaseId: lease.id,
      grantedUsd: granted,
      totalGrantedUsd: lease.granted,
      unleasedUsd: Money.max(available.minus(granted), 0),
      holders: [...this.leases.values()].filter((l) => l.key === key && !l.closed).length,
      expiresAt: new Date(lease.expiresAt),
    };
  }

  /** Closes a lease: its unused part is free again; what it used stays counted until its spans arrive. */
  release(id: string, usedUsd?: Money): Money | undefined {
    const lease = this.leases.get(id);
    if (!lease || lease.closed) return undefined;
    const now = this.now();
    if (usedUsd) this.reportUsed(lease, usedUsd, now, this.lastSpent.get(lease.key) ?? ZERO);
    const returned = Money.max(lease.granted.minus(lease.used), 0);
    lease.granted = lease.used;
    lease.closed = true;
    lease.expiresAt = now + this.graceMs;
    return returned;
  }

  /** Held by leases of this policy period: unused slices plus reported spend that has not landed yet. */
  outstanding(key: string): Money {
    let total = ZERO;
    for (const l of this.leases.values()) {
      if (l.key !== key) continue;
      total = total.plus(Money.max(l.granted.minus(l.used), 0));
      for (const r of l.recent) total = total.plus(r.usd);
    }
    return total;
  }

  /** Open leases (for metrics and tests). */
  get size(): number {
    return [...this.leases.values()].filter((l) => !l.closed).length;
  }

  private reportUsed(lease: Lease, usedUsd: Money, now: number, spent: Money): void {
    if (usedUsd.gt(lease.used)) {
      lease.recent.push({ at: now, usd: usedUsd.minus(lease.used), spentAt: spent });
      lease.used = usedUsd;
    }
  }

  /**
   * Forgets reported spend of a policy period once it has landed: the settle grace has passed and
   * the stored spend has grown by at least as much since the report (spans that never come — a
   * process killed before its export — stop counting after LOST_AFTER_MS). Drops leases that
   * expired with nothing pending.
   */
  private prune(now: number, key: string, spent: Money): void {
    this.lastSpent.set(key, spent);
    // Reports land in order, and one growth of the stored spend can cover only one of them: walk
    // every holder's pending reports oldest first and let the growth since the oldest pay for them
    // one after another. (Checking each report against the same growth alone would let two holders'
    // reports both "land" on one holder's spans, and grant the other's money twice.)
    const pending: Array<{ lease: Lease; report: Lease['recent'][number] }> = [];
    for (const l of this.leases.values()) {
      if (l.key === key) for (const r of l.recent) pending.push({ lease: l, report: r });
    }
    pending.sort((a, b) => a.report.at - b.report.at);
    const landed = new Set<Lease['recent'][number]>();
    let grown = pending.length > 0 ? spent.minus(pending[0]!.report.spentAt) : ZERO;
    for (const { report } of pending) {
      if (now - report.at >= LOST_AFTER_MS) {
        landed.add(report); // its spans never came (a process killed before its export)
        continue;
      }
      if (now - report.at < this.graceMs || grown.lt(report.usd)) break;
      grown = grown.minus(report.usd);
      landed.add(report);
    }
    for (const [id, l] of this.leases) {
      if (l.key === key && landed.size > 0) l.recent = l.recent.filter((r) => !landed.has(r));
      if (l.expiresAt < now && l.recent.length === 0) this.leases.delete(id);
    }
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}

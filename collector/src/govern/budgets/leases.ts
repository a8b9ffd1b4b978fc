/**
 * Budget leases: each guarded app process holds a slice of a policy's remaining budget and spends
 * from it without asking per call. How much a request gets is decided by ./grant-rules.ts from
 *
 *   limit − spent − reported spend not stored yet − Σ held,  held = granted − given back − used
 *
 * `spent` is the BudgetEngine's (stored + accepted, not yet stored). A holder reports the actual
 * spend of its settled calls with each request; that amount stays counted until it has landed —
 * the settle grace has passed (its spans reach the collector within ~1 s) and the stored spend has
 * grown by as much since the report — so it is never counted zero times; briefly twice, which errs
 * towards refusing.
 *
 * Holders are namespaced by the key they come with (`<key name>/<holder>`): a key renews, gives
 * back and returns only its own leases, and a scoped key leases only from policies that can select
 * calls in its scope. A lease not renewed for its TTL expires (a crashed process frees its slice);
 * DELETE returns the unused part at once. Grants for one policy period are serialized, so two
 * holders never get the same money.
 */
import { randomUUID } from 'node:crypto';
import type { PolicyMatch } from 'tokenledger/policy';
import type { KeyScope } from 'tokenledger/wire';
import { Money, ZERO } from '../../core/money';
import { scopeFitsMatch } from '../keys/scope';
import { decideGrant } from './grant-rules';
import type { PeriodWindow } from './periods';

/** What leases need from the budget engine (BudgetEngine satisfies it). */
export interface LeaseBudgetSource {
  limitUsd(policy: string): Money | undefined;
  matchOf(policy: string): PolicyMatch | undefined;
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
  /** The name of the key the request came with. */
  keyName: string;
  /** The key's scope, if it has one. */
  scope?: KeyScope | undefined;
  /** The holder as the client names it (filed as `<key name>/<holder>`). */
  holder: string;
  requestedUsd: Money;
  /** The least that is of use (a waiting call's shortfall). */
  needUsd?: Money;
  /** The holder's settled spend under its current lease (cumulative). */
  usedUsd?: Money;
  /** What the holder has given back under its current lease (cumulative). */
  returnedUsd?: Money;
}

export interface LeaseGrant {
  leaseId: string;
  grantedUsd: Money;
  totalGrantedUsd: Money;
  /** Left for all holders after this grant (limit − spent − held). */
  unleasedUsd: Money;
  /** Open leases of this policy period. */
  holders: number;
  expiresAt: Date;
  /** The period's stored and accepted spend: the figure the app's errors quote. */
  spentUsd: Money;
  limitUsd: Money;
  state: 'ok' | 'busy' | 'exceeded';
  /** With `busy`: when what is held is likely free again. */
  retryAfterSeconds?: number;
  /** A need was refused lately: holders give back what no call of theirs holds. */
  contended: boolean;
}

export class LeaseError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409,
  ) {
    super(message);
  }
}

interface Lease {
  id: string;
  /** The policy period: `<policy>|<period start ms>`. */
  key: string;
  keyName: string;
  /** `<key name>/<holder>`. */
  holder: string;
  granted: Money;
  returned: Money;
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
/** After a refused need, holders are told others wait for this long. */
const CONTENDED_MS = 3_000;

const heldBy = (l: Lease): Money => Money.max(l.granted.minus(l.returned).minus(l.used), 0);

export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** The stored spend of each policy period at its last grant. */
  private readonly lastSpent = new Map<string, Money>();
  /** When a need was last refused, per policy period. */
  private readonly refusedAt = new Map<string, number>();
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
    if (!scopeFitsMatch(req.scope, this.budgets.matchOf(req.policy))) {
      throw new LeaseError(
        `key "${req.keyName}" is scoped to ${describeScope(req.scope)}: policy "${req.policy}" selects no call it may report`,
        403,
      );
    }
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
    const holder = `${req.keyName}/${req.holder}`;
    let lease = this.find(key, holder);
    if (!lease) {
      lease = {
        id: `lease_${randomUUID()}`,
        key,
        keyName: req.keyName,
        holder,
        granted: ZERO,
        returned: ZERO,
        used: ZERO,
        recent: [],
        expiresAt: 0,
        closed: false,
      };
      this.leases.set(lease.id, lease);
    } else {
      if (req.usedUsd) this.reportUsed(lease, req.usedUsd, now, spent);
      // Given back: only ever more (a repeated report changes nothing), never beyond what was granted.
      if (req.returnedUsd?.gt(lease.returned)) lease.returned = Money.min(req.returnedUsd, lease.granted);
    }
    lease.expiresAt = now + this.ttlMs;
    const open = this.openLeases(key);
    let held = ZERO;
    let keyHeld = ZERO;
    let unlanded = ZERO;
    let otherKeys = false;
    let oldest: number | undefined;
    for (const l of open) {
      held = held.plus(heldBy(l));
      if (l.keyName === req.keyName) keyHeld = keyHeld.plus(heldBy(l));
      else if (!l.closed) otherKeys = true;
      for (const r of l.recent) {
        unlanded = unlanded.plus(r.usd);
        oldest = oldest === undefined ? r.at : Math.min(oldest, r.at);
      }
    }
    const need = Money.max(req.needUsd ?? ZERO, 0);
    const decision = decideGrant({
      limit,
      spent,
      unlanded,
      held,
      keyHeld,
      othersHeld: held.minus(keyHeld),
      otherKeys,
      requested: Money.max(req.requestedUsd, 0),
      need,
    });
    lease.granted = lease.granted.plus(decision.grant);
    if (decision.state !== 'ok' && need.gt(0)) this.refusedAt.set(key, now);
    const unleased = limit.minus(spent).minus(unlanded).minus(held).minus(decision.grant);
    const grant: LeaseGrant = {
      leaseId: lease.id,
      grantedUsd: decision.grant,
      totalGrantedUsd: lease.granted.minus(lease.returned),
      unleasedUsd: Money.max(unleased, 0),
      holders: open.filter((l) => !l.closed).length,
      expiresAt: new Date(lease.expiresAt),
      spentUsd: spent,
      limitUsd: limit,
      state: decision.state,
      contended: now - (this.refusedAt.get(key) ?? -Infinity) < CONTENDED_MS,
    };
    if (decision.state === 'busy') {
      // Only reported spend holds the rest: free once its spans are stored (after the grace).
      const onlyUnlanded = held.isZero() && oldest !== undefined;
      grant.retryAfterSeconds = onlyUnlanded ? Math.max(1, Math.ceil((oldest! + this.graceMs - now) / 1000)) : 1;
    }
    return grant;
  }

  /**
   * Closes a lease of this key: its unused part is free again; what it used stays counted until
   * its spans arrive. Undefined when the key has no such open lease.
   */
  release(id: string, keyName: string, usedUsd?: Money): Money | undefined {
    const lease = this.leases.get(id);
    if (!lease || lease.closed || lease.keyName !== keyName) return undefined;
    const now = this.now();
    if (usedUsd) this.reportUsed(lease, usedUsd, now, this.lastSpent.get(lease.key) ?? ZERO);
    const returned = heldBy(lease);
    lease.granted = lease.used;
    lease.returned = ZERO;
    lease.closed = true;
    lease.expiresAt = now + this.graceMs;
    return returned;
  }

  /** Held by leases of this policy period: unused slices plus reported spend that has not landed yet. */
  outstanding(key: string): Money {
    let total = ZERO;
    for (const l of this.openLeases(key)) {
      total = total.plus(heldBy(l));
      for (const r of l.recent) total = total.plus(r.usd);
    }
    return total;
  }

  /** Open leases (for metrics and tests). */
  get size(): number {
    return [...this.leases.values()].filter((l) => !l.closed).length;
  }

  private find(key: string, holder: string): Lease | undefined {
    for (const l of this.leases.values()) if (l.key === key && l.holder === holder && !l.closed) return l;
    return undefined;
  }

  private openLeases(key: string): Lease[] {
    return [...this.leases.values()].filter((l) => l.key === key);
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
      if (l.key !== key) continue;
      if (landed.size > 0) l.recent = l.recent.filter((r) => !landed.has(r));
      if (l.expiresAt >= now) continue;
      // Not renewed in time (a crashed process): its slice is free; its reported spend counts until it lands.
      if (!l.closed) {
        l.granted = l.used;
        l.returned = ZERO;
        l.closed = true;
      }
      if (l.recent.length === 0) this.leases.delete(id);
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

function describeScope(scope: KeyScope | undefined): string {
  return Object.entries(scope ?? {})
    .map(([field, values]) => `${field}=${(values as string[]).join('|')}`)
    .join(', ');
}

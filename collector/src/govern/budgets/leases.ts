/**
 * Budget leases: each guarded app process holds a slice of a policy's remaining budget and spends
 * from it without asking per call. How much a request gets is decided by ./grant-rules.ts from
 *
 *   limit − spent − Σ held,   held = granted − given back − stored (per open lease)
 *
 * `spent` is the BudgetEngine's (stored + accepted, not yet stored). A call reserved from a slice
 * names its leases (`tokenledger.leases`); once the receiver has stored it (`landed`), its
 * cost counts as spent and no longer in its lease: in the stored spend figure once a figure computed
 * after it includes it, and until then beside it (a call stored while a figure is computed may be
 * counted twice for a moment, never zero times). What a holder reported used
 * and the collector has not stored is held for LOST_AFTER_MS after the report, then counts as spent
 * (its spans were lost on the way) — whether the lease is open, returned, or expired (a lease not
 * renewed for its TTL, 2 minutes: a crashed process, gives back its unused slice and keeps only
 * that). The state guards read (GET /v1/budgets) adds the same lost spend (lostSpend), so the state
 * and the lease answers say the same; a span that lands later moves it into the stored figure.
 *
 * Holders are namespaced by the key they come with (`<key name>/<holder>`): a key renews, gives
 * back and returns only its own leases, and a scoped key leases only from policies that can select
 * calls in its scope. DELETE returns the unused part at once. Grants for one policy period are serialized, so two
 * holders never get the same money.
 *
 * Several collectors on one store: only the lease owner (./lease-owner.ts) grants. A grant is
 * committed only while this collector still owns the current round; one that lost it meanwhile
 * answers as `standby` does: busy, no lease, the holder keeps its slice until it expires.
 */
import { randomUUID } from 'node:crypto';
import type { PolicyMatch } from 'tokenledger/policy';
import type { KeyScope } from 'tokenledger/wire';
import { Money, ZERO } from '../../core/money';
import { scopeFitsMatch } from '../keys/scope';
import { decideGrant } from './grant-rules';
import type { PeriodWindow } from './periods';
import { soleLeaseOwner, type LeaseAuthority } from './lease-owner';

/** A policy period's spend, and when the figure was computed (ms since the epoch; calls stored before are in it). */
interface SpendFigure {
  usd: Money;
  asOf: number;
}

/** What leases need from the budget engine (BudgetEngine satisfies it). */
export interface LeaseBudgetSource {
  limitUsd(policy: string): Money | undefined;
  matchOf(policy: string): PolicyMatch | undefined;
  /** What the policy does once its budget is spent (`block` when not said). */
  onExceeded?(policy: string): string | undefined;
  window(policy: string, at?: Date): PeriodWindow | undefined;
  /**
   * `notBefore`: a figure computed at or after this time (ms since the epoch), not an older cached
   * one; `fresh`: computed for this caller, not the last figure.
   */
  spendFigure(
    policy: string,
    periodStart: Date,
    opts?: { notBefore?: number; fresh?: boolean },
  ): Promise<SpendFigure>;
}

export interface LeaseOptions {
  ttlMs?: number;
  now?: () => number;
  /** Who may grant (several collectors: the elected owner); the sole collector by default. */
  authority?: LeaseAuthority;
  /** How long a waiting call's request is held while the money is busy (default BUSY_HOLD_MS; 0: answer at once). */
  busyHoldMs?: number;
}

/** A stored call the guard reserved from leases (from the receiver). */
export interface LandedCall {
  /** `tokenledger.leases` as the span carried it. */
  leaseIds: string[];
  /** trace id + span id: a retried export lands once. */
  spanKey: string;
  costUsd: Money;
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
  /** No lease owner can grant now (several collectors: the owner is changing): no lease in this answer. */
  ownerPending?: boolean;
  /** The lease's TTL: its holder spends it at most this long after its request. */
  expiresInMs: number;
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
  policy: string;
  keyName: string;
  /** `<key name>/<holder>`. */
  holder: string;
  granted: Money;
  returned: Money;
  /** What the holder reported spent (cumulative), and when it last reported. */
  used: Money;
  reportedAt: number;
  /**
   * When `used` reached each of its values, oldest first, kept back to the newest at least
   * LOST_AFTER_MS old: what the holder reported spent that long ago and is not stored yet is lost
   * spend (see lostBy).
   */
  usedSince: Array<{ at: number; used: Money }>;
  /** Stored calls it reserved for: counted in `landedBefore` once a spend figure includes them. */
  landed: Money;
  landings: Array<{ at: number; usd: Money }>;
  expiresAt: number;
  closed: boolean;
}

/**
 * A lease not renewed for this long is forgotten (a process that died without returning it). Long:
 * what a lease holds covers calls in flight, and a process on a loaded machine may be slow to renew.
 */
const DEFAULT_LEASE_TTL_MS = 120_000;
/**
 * Reported spend whose spans have not arrived after this long is lost: a returned lease's (a process
 * killed before its export) stops counting; an open lease's counts as spent (lostBy).
 */
const LOST_AFTER_MS = 60_000;
/** After a refused need, holders are told others wait for this long. */
const CONTENDED_MS = 3_000;
/**
 * A waiting call's request refused as busy is held this long for held money to land or be given
 * back, and decided again each time it does (decision 0088): the call gets the money the moment it
 * frees up instead of a retry a second later. Under the guard's wait for it (950 ms) and far under
 * the forwarding deadline of another collector (4 s).
 */
const BUSY_HOLD_MS = 800;
/** How long a landed span is remembered, so an exporter's retry of it does not land twice. */
const LANDED_MEMORY_MS = 10 * 60_000;
/**
 * Closed leases kept for their lost spend (a few hundred bytes each); beyond this many the oldest
 * one's lost spend is folded into its period's total (a span of it landing later then counts twice:
 * over, never under).
 */
const MAX_CLOSED_WITH_LOST = 1_000;

/**
 * What a lease's holder reported spent LOST_AFTER_MS ago or earlier and is still not stored: spans
 * lost on the way (an export that gave up on a collector too loaded to take it, a process that
 * exited or was killed before its spans left). The calls were made — the holder said so — so this
 * counts as spent, not as held: held, nobody would ever spend it or give it back, and calls waiting
 * for the budget's last dollars would wait for good (decision 0094); forgotten, the budget would
 * grant it again (decision 0104). Every stored call of the lease reduces it, whenever it landed: one
 * stored before a spend figure began is in that figure, one stored since is in `landedSince` —
 * counted there, and not again as lost (decision 0118).
 */
function lostBy(l: Lease, now: number): Money {
  let reported = ZERO;
  for (const r of l.usedSince) {
    if (now - r.at < LOST_AFTER_MS) break;
    reported = r.used;
  }
  if (reported.isZero()) return ZERO;
  return Money.max(reported.minus(landedBy(l)), 0);
}

/** Stored calls of a lease. */
function landedBy(l: Lease): Money {
  let total = l.landed;
  for (const x of l.landings) total = total.plus(x.usd);
  return total;
}

/**
 * What a lease still holds: an open one, its grants less what was given back, what is stored and
 * what is lost; a closed one (returned or expired), what its holder reported spent and is neither
 * stored nor lost yet.
 */
function heldBy(l: Lease, now: number): Money {
  const landed = landedBy(l);
  const lost = lostBy(l, now);
  if (!l.closed) return Money.max(l.granted.minus(l.returned).minus(landed).minus(lost), 0);
  return Money.max(l.used.minus(landed).minus(lost), 0);
}

export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** When a need was last refused, and that need, per policy period. */
  private readonly refusedAt = new Map<string, number>();
  private readonly refusedNeed = new Map<string, Money>();
  /** Spans landed lately (trace id + span id → when). */
  private readonly landedSpans = new Map<string, number>();
  /** Held busy requests of each policy period, woken when money of the period lands or is given back. */
  private readonly freed = new Map<string, Set<() => void>>();
  /** Lost spend of closed leases no longer kept (past MAX_CLOSED_WITH_LOST), per policy period. */
  private readonly foldedLost = new Map<string, Money>();
  readonly ttlMs: number;
  private readonly busyHoldMs: number;
  private readonly now: () => number;
  private readonly authority: LeaseAuthority;

  constructor(
    private readonly budgets: LeaseBudgetSource,
    options: LeaseOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.now = options.now ?? Date.now;
    this.authority = options.authority ?? soleLeaseOwner;
    this.busyHoldMs = options.busyHoldMs ?? BUSY_HOLD_MS;
  }

  /**
   * Grants up to `requestedUsd` more to the holder's lease (created on first use). A waiting call's
   * need refused as busy is decided again whenever money of the period lands or is given back, for
   * at most busyHoldMs, then answered busy (a blocking policy's; a downgrading one's at once).
   */
  grant(req: LeaseGrantRequest): Promise<LeaseGrant> {
    const { limit, window } = this.check(req);
    const key = `${req.policy}|${window.start.getTime()}`;
    const decide = (): Promise<LeaseGrant> =>
      this.serialized(key, () => this.grantNow(key, req, limit, window));
    // A downgrade policy's call has somewhere to go at once (the cheaper model): answered at once.
    const downgrades = this.budgets.onExceeded?.(req.policy) === 'downgrade';
    if (this.busyHoldMs <= 0 || !req.needUsd?.gt(0) || downgrades) return decide();
    return this.holdWhileBusy(key, decide);
  }

  /** Decides, and again each time money of the period frees up while the answer is busy (at most busyHoldMs). */
  private async holdWhileBusy(key: string, decide: () => Promise<LeaseGrant>): Promise<LeaseGrant> {
    let holding = true;
    let freed = this.nextFreed(key);
    const timer = setTimeout(() => {
      holding = false;
      freed.cancel();
    }, this.busyHoldMs);
    try {
      for (;;) {
        const g = await decide();
        if (g.state !== 'busy' || g.ownerPending === true || !holding) return g;
        await freed.promise;
        // Listening again before deciding: money freed while the decision runs wakes the next round.
        freed = this.nextFreed(key);
        if (!holding) freed.cancel();
      }
    } finally {
      clearTimeout(timer);
      freed.cancel();
    }
  }

  /** Resolves when money of the period lands or is given back, or when cancelled (the hold ended). */
  private nextFreed(key: string): { promise: Promise<void>; cancel: () => void } {
    let wakers = this.freed.get(key);
    if (!wakers) this.freed.set(key, (wakers = new Set()));
    const set = wakers;
    let wake: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        set.delete(wake);
        if (set.size === 0 && this.freed.get(key) === set) this.freed.delete(key);
        resolve();
      };
    });
    set.add(wake);
    return { promise, cancel: wake };
  }

  /** The need refused last, while the period is contended (a call likely still waits for it). */
  private waitingNeed(key: string, now: number): Money {
    const contended = now - (this.refusedAt.get(key) ?? -Infinity) < CONTENDED_MS;
    return contended ? (this.refusedNeed.get(key) ?? ZERO) : ZERO;
  }

  /** Wakes the held busy requests of a policy period: money may be free for them now. */
  private wakeWaiters(key: string): void {
    for (const wake of this.freed.get(key) ?? []) wake();
  }

  /**
   * The answer while no collector can grant (the lease owner is changing, or cannot be reached):
   * nothing granted, no lease, busy for `retryAfterSeconds`. The request is checked as a grant is.
   */
  async standby(req: LeaseGrantRequest, retryAfterSeconds: number): Promise<LeaseGrant> {
    const { limit, window } = this.check(req);
    const spent = (await this.budgets.spendFigure(req.policy, window.start)).usd;
    return {
      leaseId: '',
      grantedUsd: ZERO,
      totalGrantedUsd: ZERO,
      unleasedUsd: ZERO,
      holders: 0,
      expiresAt: new Date(this.now()),
      spentUsd: spent,
      limitUsd: limit,
      // Exceeded means spent (decision 0054), whoever owns leases; anything else waits for the owner.
      state: spent.gte(limit) ? 'exceeded' : 'busy',
      ...(spent.gte(limit) ? {} : { retryAfterSeconds }),
      contended: false,
      ownerPending: true,
      expiresInMs: this.ttlMs,
    };
  }

  /** The policy has a budget the key may lease from, in the period the request names. */
  private check(req: LeaseGrantRequest): { limit: Money; window: PeriodWindow } {
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
    return { limit, window };
  }

  private async grantNow(
    key: string,
    req: LeaseGrantRequest,
    limit: Money,
    window: PeriodWindow,
  ): Promise<LeaseGrant> {
    // A new lease owner reads a figure computed after it began to grant (see ./lease-owner.ts).
    const owner = this.authority.view(this.now());
    const since = owner.role === 'owner' ? owner.since : undefined;
    let figure = await this.budgets.spendFigure(req.policy, window.start, { notBefore: since });
    let now = this.now();
    // Ownership may have moved while the figure was read: nothing is granted or renewed without it.
    if (this.authority.view(now).role !== 'owner') return this.standby(req, 1);
    // Calls stored since the figure began are not in it (some may be: counted twice, never zero times).
    let landedSince = this.prune(now, key, figure.asOf);
    const lostSoFar = this.lostOf(key, now);
    if (req.needUsd?.gt(0) && landedSince.gt(0) && figure.usd.plus(landedSince).plus(lostSoFar).gte(limit)) {
      // A waiting call, and the calls stored since the last figure may have spent the rest: only a
      // figure that includes them can tell "exceeded" from "busy". Without it every worker is told
      // busy, retries, and asks again until the periodic figure catches up — on a loaded machine,
      // minutes of BudgetBusyError after the money was gone.
      figure = await this.budgets.spendFigure(req.policy, window.start, { fresh: true });
      now = this.now();
      if (this.authority.view(now).role !== 'owner') return this.standby(req, 1);
      landedSince = this.prune(now, key, figure.asOf);
    }
    const holder = `${req.keyName}/${req.holder}`;
    let lease = this.find(key, holder);
    if (!lease) {
      lease = {
        id: `lease_${randomUUID()}`,
        key,
        policy: req.policy,
        keyName: req.keyName,
        holder,
        granted: ZERO,
        returned: ZERO,
        used: ZERO,
        reportedAt: now,
        usedSince: [],
        landed: ZERO,
        landings: [],
        expiresAt: 0,
        closed: false,
      };
      this.leases.set(lease.id, lease);
    } else {
      this.report(lease, req.usedUsd, now);
      // Given back: only ever more (a repeated report changes nothing), never beyond what was granted.
      if (req.returnedUsd?.gt(lease.returned)) {
        lease.returned = Money.min(req.returnedUsd, lease.granted);
        this.wakeWaiters(key);
      }
    }
    lease.expiresAt = now + this.ttlMs;
    const leases = this.leasesOf(key);
    let held = ZERO;
    let keyHeld = ZERO;
    let otherKeys = false;
    for (const l of leases) {
      const h = heldBy(l, now);
      held = held.plus(h);
      if (l.keyName === req.keyName) keyHeld = keyHeld.plus(h);
      else if (!l.closed) otherKeys = true;
    }
    // Spend its holders reported that never got stored: spent, and told as spent (decision 0094).
    // A lost call that lands after all is in `landedSince` (or the next figure), no longer lost.
    const spent = figure.usd.plus(this.lostOf(key, now));
    const need = Money.max(req.needUsd ?? ZERO, 0);
    const decision = decideGrant({
      limit,
      spent,
      landedSince,
      held,
      keyHeld,
      othersHeld: held.minus(keyHeld),
      otherKeys,
      requested: Money.max(req.requestedUsd, 0),
      need,
      waitingNeed: this.waitingNeed(key, now),
    });
    lease.granted = lease.granted.plus(decision.grant);
    if (decision.state !== 'ok' && need.gt(0)) {
      this.refusedAt.set(key, now);
      this.refusedNeed.set(key, need);
    }
    const grant: LeaseGrant = {
      leaseId: lease.id,
      grantedUsd: decision.grant,
      totalGrantedUsd: lease.granted.minus(lease.returned),
      unleasedUsd: Money.max(limit.minus(spent).minus(landedSince).minus(held).minus(decision.grant), 0),
      holders: leases.filter((l) => !l.closed).length,
      expiresAt: new Date(lease.expiresAt),
      spentUsd: spent,
      limitUsd: limit,
      state: decision.state,
      contended: now - (this.refusedAt.get(key) ?? -Infinity) < CONTENDED_MS,
      expiresInMs: this.ttlMs,
    };
    // What is held comes back as calls end and holders report (every second).
    if (decision.state === 'busy') grant.retryAfterSeconds = 1;
    return grant;
  }

  /**
   * Calls the receiver stored from a key's guard processes: each counts in the stored spend from
   * now on, and no longer in the leases (of that key) it was reserved from.
   */
  landed(keyName: string, calls: LandedCall[]): void {
    const now = this.now();
    const keys = new Set<string>();
    for (const c of calls) {
      if (this.landedSpans.has(c.spanKey)) continue;
      this.landedSpans.set(c.spanKey, now);
      for (const id of c.leaseIds) {
        const l = this.leases.get(id);
        if (l?.keyName !== keyName) continue;
        l.landings.push({ at: now, usd: c.costUsd });
        keys.add(l.key);
      }
    }
    for (const key of keys) this.wakeWaiters(key);
  }

  /**
   * Closes a lease of this key: its unused part is free again; what it used stays counted until
   * its spans are stored. Undefined when the key has no such open lease.
   */
  release(id: string, keyName: string, usedUsd?: Money): Money | undefined {
    const lease = this.leases.get(id);
    if (!lease || lease.closed || lease.keyName !== keyName) return undefined;
    const now = this.now();
    this.report(lease, usedUsd, now);
    const returned = Money.max(lease.granted.minus(lease.returned).minus(lease.used), 0);
    lease.closed = true;
    lease.expiresAt = now;
    this.wakeWaiters(lease.key);
    return returned;
  }

  /** Held by leases of this policy period (slices, calls in flight, spend reported but not stored). */
  outstanding(key: string): Money {
    const now = this.now();
    return this.leasesOf(key).reduce((t, l) => t.plus(heldBy(l, now)), ZERO);
  }

  /** Spend the holders of a policy period's leases reported and never got stored (lostBy). */
  private lostOf(key: string, now: number): Money {
    const kept = this.leasesOf(key).reduce((t, l) => t.plus(lostBy(l, now)), ZERO);
    return kept.plus(this.foldedLost.get(key) ?? ZERO);
  }

  /**
   * What GET /v1/budgets adds to a policy period's spend figure: spend its lease holders reported
   * and the collector did not store within a minute — the same figure the lease answers count as
   * spent, so a process's state says the cap is spent when its lease answers would (decision 0104).
   * A lost call stored after all is no longer in it (decision 0118): the next figure has it.
   */
  lostSpend(policy: string, periodStart: Date): Money {
    return this.lostOf(`${policy}|${periodStart.getTime()}`, this.now());
  }

  /** Open leases (for metrics and tests). */
  get size(): number {
    return [...this.leases.values()].filter((l) => !l.closed).length;
  }

  private find(key: string, holder: string): Lease | undefined {
    for (const l of this.leases.values()) if (l.key === key && l.holder === holder && !l.closed) return l;
    return undefined;
  }

  private leasesOf(key: string): Lease[] {
    return [...this.leases.values()].filter((l) => l.key === key);
  }

  private report(lease: Lease, usedUsd: Money | undefined, now: number): void {
    lease.reportedAt = now;
    if (!usedUsd?.gt(lease.used)) return;
    lease.used = usedUsd;
    const since = lease.usedSince;
    since.push({ at: now, used: usedUsd });
    // Only the newest report at least LOST_AFTER_MS old matters for lostBy: older ones go.
    while (since.length > 1 && now - since[1]!.at >= LOST_AFTER_MS) since.shift();
  }

  /**
   * Folds landings the spend figure computed at `asOf` includes, and returns the rest (stored after
   * it began); forgets leases not renewed in time (a crashed process) and returned ones that hold
   * nothing any more; forgets old landed spans.
   */
  private prune(now: number, key: string, asOf: number): Money {
    let since = ZERO;
    for (const [id, l] of this.leases) {
      if (l.key !== key) continue;
      if (l.landings.length > 0 && l.landings[0]!.at < asOf) {
        for (const x of l.landings) if (x.at < asOf) l.landed = l.landed.plus(x.usd);
        l.landings = l.landings.filter((x) => x.at >= asOf);
      }
      for (const x of l.landings) since = since.plus(x.usd);
      // Not renewed in time (a crashed process): its unused slice is free; what it reported used
      // stays, held for a minute and then spent unless its spans land.
      if (!l.closed && l.expiresAt < now) l.closed = true;
      if (l.closed && heldBy(l, now).isZero() && lostBy(l, now).isZero()) this.leases.delete(id);
    }
    this.foldOldLost(now);
    for (const [span, at] of this.landedSpans) {
      if (now - at < LANDED_MEMORY_MS) break; // in insertion order: the rest are newer
      this.landedSpans.delete(span);
    }
    return since;
  }

  /**
   * Past MAX_CLOSED_WITH_LOST closed leases kept for their lost spend, folds the oldest whose
   * unstored spend is all lost into its period's total: memory and the work of each grant stay bounded.
   */
  private foldOldLost(now: number): void {
    let kept = 0;
    for (const l of this.leases.values()) if (l.closed) kept++;
    for (const [id, l] of this.leases) {
      if (kept <= MAX_CLOSED_WITH_LOST) return;
      if (!l.closed || !heldBy(l, now).isZero()) continue;
      this.foldedLost.set(l.key, (this.foldedLost.get(l.key) ?? ZERO).plus(lostBy(l, now)));
      this.leases.delete(id);
      kept--;
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

/**
 * This process's slice of one policy's budget for one period (a lease from the collector).
 *
 * Before a call leaves, its estimated maximum cost is reserved from the slice; when its span ends
 * the reservation is replaced by the actual cost. The slice is topped up in the background before
 * it runs out; a call the slice cannot cover waits for the collector to grant more (`obtain`), and
 * is refused only on the collector's word: `busy` (what is left is held) or `exceeded` (spent). When
 * the collector says other holders wait (`contended`), or refuses this one, the part of the slice
 * no call holds is given back, so the last dollars go where calls wait for them. The collector
 * counts every slice as held until the holder reports it used (and the spans arrived) or gives it
 * back, so N processes together never spend more than the budget by more than the estimation error
 * of their calls in flight.
 *
 * A slice is spent at most the lease's TTL (`expires_in_seconds`) after the request that last
 * renewed it: past that the collector may have forgotten it, and with several collectors a new
 * lease owner grants that money again. While the collectors' lease owner is changing, answers say
 * `owner_pending`: busy, the slice kept until then.
 */
import { collectorJson, GuardRequestError } from './collector-client';
import { picoToUsd, toPico } from '../money/pico';
import type { LeaseReleaseResponse, LeaseRequest, LeaseResponse, LeaseState } from '../wire';

/** A reservation that never settled (its span never ended) is dropped after this long. */
const RESERVATION_TTL_MS = 10 * 60_000;
/**
 * A lease answer is worth having however late it comes (calls wait for it at most
 * TOKENLEDGER_GUARD_WAIT_MS); one abandoned by this side is still computed by the collector, and on a
 * collector starved of CPU the ask sent instead of it queued behind it (decision 0094). Under the
 * lease's TTL (2 minutes), so a late answer still renews it.
 */
const REQUEST_TIMEOUT_MS = 30_000;

/** The collector's last word on this lease. */
export interface LeaseAnswer {
  state: LeaseState;
  /** The period's spend as the collector has it. */
  spentPico: bigint;
  retryAfterSeconds: number;
}

/**
 * What a call reserved from a slice, settled when its span ends. A slice keeps its open reservations
 * in a list through `older` / `newer`, oldest first (they are made in time order): adding and
 * removing one is a few pointer writes, no hashing, however many calls are in flight.
 */
export class Reservation {
  /** The slice's list of open reservations; `open` false once settled, cancelled or expired. */
  older: Reservation | undefined;
  newer: Reservation | undefined;
  open = true;

  constructor(
    readonly pico: bigint,
    readonly at: number,
    readonly lease: LeaseHolder,
    /** The collector's lease the money came from (a lease may be replaced while the call runs). */
    readonly leaseId: string,
  ) {}
}

/** How a wait for money ended. */
export type Obtained = 'granted' | 'refused' | 'unreachable';

export class LeaseHolder {
  leaseId: string | undefined;
  /** Granted under the current lease, all top-ups included. */
  private grantedPico = 0n;
  /** Given back under the current lease. */
  private returnedPico = 0n;
  /** Settled (actual) spend of calls under the current lease. */
  private usedPico = 0n;
  private reservedPico = 0n;
  /** The collector has answered at least once: the slice, not the snapshot, decides. */
  active = false;
  /** The collector has no lease for this (no lease endpoint, or the key may not lease the policy): the state decides. */
  unsupported = false;
  /** The last request got no answer (network, 5xx): the policy file's fail mode decides. */
  unreachable = false;
  /** Other holders wait: a top-up asks only for what calls wait for. */
  contended = false;
  lastAnswer: LeaseAnswer | undefined;
  /** When the last answer came, and when the last request failed (ms since the epoch). */
  answeredAt = 0;
  failedAt = 0;
  /** Past this (ms since the epoch) the slice is not spent: the lease's TTL after its last renewal. */
  validUntil: number | undefined;
  /** Slice size asked for last (grows with the call size). */
  slicePico = 0n;
  /**
   * granted − returned − used − reserved, kept up to date by every change (a reservation is one
   * subtraction, not four): what the slice can still cover.
   */
  private unheldPico = 0n;
  /** The last call's estimated cost (what slices are sized by). */
  lastEstimatePico: bigint | undefined;
  /** isLow's threshold, for the slice size and call estimate it was computed from (most calls: the same). */
  private low = { slicePico: -1n, estimatePico: -1n, threshold: 0n };
  /** Open reservations, oldest first (see Reservation). */
  private oldest: Reservation | undefined;
  private newest: Reservation | undefined;
  private inFlight: Promise<void> | undefined;
  private reportAfter = false;
  /** Calls waiting for money: each one's shortfall and until when it waits. */
  private readonly waiters = new Set<{ need: bigint; deadline: number }>();

  constructor(
    readonly policy: string,
    readonly periodStart: string,
    private readonly holder: string,
  ) {}

  availablePico(now = Date.now()): bigint {
    const available = this.unheldPico;
    // An expired slice covers no new call (what calls in flight hold stays theirs).
    return this.validUntil !== undefined && now >= this.validUntil && available > 0n ? 0n : available;
  }

  /** Reserves `pico` from the slice, or undefined when the slice cannot cover it. */
  tryReserve(pico: bigint, now: number): Reservation | undefined {
    const available = this.availablePico(now);
    if (available < pico || this.leaseId === undefined) return undefined;
    const r = new Reservation(pico, now, this, this.leaseId);
    r.older = this.newest;
    if (this.newest !== undefined) this.newest.newer = r;
    else this.oldest = r;
    this.newest = r;
    this.reservedPico += pico;
    this.unheldPico -= pico;
    return r;
  }

  /** The call was not sent after all (another policy blocked it): its reservation is free again. */
  cancel(r: Reservation): void {
    if (!r.open) return;
    r.open = false;
    if (r.older !== undefined) r.older.newer = r.newer;
    else this.oldest = r.newer;
    if (r.newer !== undefined) r.newer.older = r.older;
    else this.newest = r.older;
    r.older = r.newer = undefined;
    this.reservedPico -= r.pico;
    this.unheldPico += r.pico;
  }

  /** A call reserved from this slice ended with `actualPico`: its reservation becomes actual spend. */
  settle(r: Reservation, actualPico: bigint): void {
    this.cancel(r);
    this.usedPico += actualPico;
    this.unheldPico -= actualPico;
  }

  /** Drops reservations whose calls never reported an end. */
  expireReservations(now: number): void {
    while (this.oldest !== undefined && now - this.oldest.at > RESERVATION_TTL_MS) this.cancel(this.oldest);
  }

  /** Calls wait for this budget's money (here or in other processes): the collector said so lately. */
  get othersWait(): boolean {
    return this.contended || this.lastAnswer?.state === 'busy';
  }

  /** Whether the slice is low enough to ask for more now. */
  isLow(callEstimatePico: bigint, available = this.availablePico()): boolean {
    const low = this.low;
    if (low.slicePico !== this.slicePico || low.estimatePico !== callEstimatePico) {
      const half = this.slicePico / 2n;
      const twoCalls = callEstimatePico * 2n;
      this.low = {
        slicePico: this.slicePico,
        estimatePico: callEstimatePico,
        threshold: half > twoCalls ? half : twoCalls,
      };
    }
    return available < this.low.threshold;
  }

  /** Resolves when no request is in flight (the first answer, say). */
  settled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  /**
   * Waits until the collector answered a request that includes `needPico` (a call's shortfall).
   * `granted` when the slice now covers it — other waiters may take it first; ask again then.
   * A call that stopped waiting (`deadline` passed: it was refused busy, and may retry) asks for
   * nothing more: on a collector slower than the calls, each retry's ask queued behind the one in
   * flight, and every process sent thousands of asks for calls long gone (decision 0094).
   */
  async obtain(needPico: bigint, slicePico: bigint, deadline = Infinity): Promise<Obtained> {
    const waiter = { need: needPico, deadline };
    this.waiters.add(waiter);
    try {
      while (this.inFlight) await this.inFlight;
      if (this.availablePico() >= needPico) return 'granted';
      if (Date.now() >= deadline) return 'refused';
      // When others wait too, ask only for what waits here; otherwise refill the slice as well.
      const waitingNeed = this.waitingNeed();
      const want = this.contended || waitingNeed > slicePico ? waitingNeed : slicePico;
      await this.request(want, needPico);
      if (this.unreachable) return 'unreachable';
      return this.availablePico() >= needPico ? 'granted' : 'refused';
    } finally {
      this.waiters.delete(waiter);
    }
  }

  /** What the calls still waiting here need. */
  private waitingNeed(): bigint {
    const now = Date.now();
    let need = 0n;
    for (const w of this.waiters) if (w.deadline > now) need += w.need;
    return need;
  }

  /**
   * Asks the collector for `requestedPico` more (0: only report usage and keep the lease alive);
   * `needPico` > 0: nothing unless that much can be granted. One request at a time; never rejects.
   */
  request(requestedPico: bigint, needPico = 0n): Promise<void> {
    if (this.inFlight || this.unsupported) return this.inFlight ?? Promise.resolve();
    if (needPico === 0n && requestedPico > this.slicePico) this.slicePico = requestedPico;
    const used = this.usedPico;
    const returned = this.returnedPico;
    const sentAt = Date.now();
    const body: LeaseRequest = {
      policy: this.policy,
      period_start: this.periodStart,
      holder: this.holder,
      requested_usd: picoToUsd(requestedPico),
      used_usd: picoToUsd(used),
      returned_usd: picoToUsd(returned),
      ...(needPico > 0n ? { need_usd: picoToUsd(needPico) } : {}),
    };
    this.inFlight = collectorJson<LeaseResponse>('POST', '/v1/budgets/leases', body, {
      timeoutMs: REQUEST_TIMEOUT_MS,
    })
      .then(
        (res) => this.onAnswer(res, used, returned, sentAt),
        (err: unknown) => {
          const status = err instanceof GuardRequestError ? err.status : undefined;
          // No lease endpoint (an older collector), or the key may not lease this policy.
          if (status === 404 || status === 405 || status === 403) this.unsupported = true;
          else if (status !== 409) {
            // 409: a new period; the next state brings it. Anything else: no answer.
            this.unreachable = true;
            this.failedAt = Date.now();
          }
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.reportAfter) {
          this.reportAfter = false;
          void this.request(0n);
        }
      });
    return this.inFlight;
  }

  private onAnswer(
    res: LeaseResponse,
    usedAtRequest: bigint,
    returnedAtRequest: bigint,
    sentAt: number,
  ): void {
    if (res.owner_pending === true) {
      // No lease in this answer (several collectors, the owner is changing): busy (or exceeded, when
      // the stored spend says so); the slice is kept, and spent until it expires.
      this.lastAnswer = {
        state: res.state === 'exceeded' ? 'exceeded' : 'busy',
        spentPico: toPico(res.spent_usd) ?? 0n,
        retryAfterSeconds: Math.max(1, Math.ceil(Number(res.retry_after_seconds ?? 1) || 1)),
      };
      this.answeredAt = Date.now();
      this.active = true;
      this.unreachable = false;
      return;
    }
    const ttlSeconds = Number(res.expires_in_seconds);
    this.validUntil = ttlSeconds > 0 ? sentAt + ttlSeconds * 1000 : undefined;
    const granted = toPico(res.granted_usd) ?? 0n;
    if (res.lease_id !== this.leaseId) {
      // A new lease (the first, or the old one expired on the collector): its accounts start here.
      this.leaseId = res.lease_id;
      this.usedPico -= usedAtRequest;
      this.returnedPico -= returnedAtRequest;
      returnedAtRequest = 0n;
    }
    // The collector's count, not a sum of answers: a grant whose answer was lost (a timeout on this
    // side while the collector granted) is not held forever by a process that never saw it.
    this.grantedPico = (toPico(res.total_granted_usd) ?? 0n) + returnedAtRequest;
    this.recount();
    this.lastAnswer = {
      state: res.state ?? 'ok',
      spentPico: toPico(res.spent_usd) ?? 0n,
      retryAfterSeconds: Math.max(1, Math.ceil(Number(res.retry_after_seconds ?? 1) || 1)),
    };
    this.contended = res.contended === true;
    this.answeredAt = Date.now();
    this.active = true;
    this.unreachable = false;
    // Refused, or others wait and nothing came here: what no call holds is of more use elsewhere (a
    // call waiting here asks for the whole of its cost again; the collector gives it to the first).
    if (this.lastAnswer.state !== 'ok' || (this.contended && granted === 0n)) {
      const free = this.availablePico();
      if (free > 0n) {
        this.returnedPico += free;
        this.unheldPico -= free;
        this.reportAfter = true;
      }
    }
  }

  /** The slice's accounts changed together (an answer): what it can cover, from them. */
  private recount(): void {
    this.unheldPico = this.grantedPico - this.returnedPico - this.usedPico - this.reservedPico;
  }

  /** Returns the unused part (at exit). Resolves when done or failed. */
  release(timeoutMs: number): Promise<void> {
    if (this.leaseId === undefined) return Promise.resolve();
    const id = this.leaseId;
    this.leaseId = undefined;
    this.active = false;
    return collectorJson<LeaseReleaseResponse>(
      'DELETE',
      `/v1/budgets/leases/${encodeURIComponent(id)}?used_usd=${picoToUsd(this.usedPico)}`,
      undefined,
      { timeoutMs, ref: true },
    ).then(
      () => undefined,
      () => undefined,
    );
  }
}

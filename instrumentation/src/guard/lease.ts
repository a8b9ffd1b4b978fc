/**
 * This process's slice of one policy's budget for one period (a lease from the collector).
 *
 * Before a call leaves, its estimated maximum cost is reserved from the slice; when its span ends
 * the reservation is replaced by the actual cost. The slice is topped up in the background before
 * it runs out; when neither the slice nor the collector has budget left, calls are blocked. The
 * collector counts every slice as spent until the holder reports it used (and the spans arrived) or
 * returns it, so N processes together never spend more than the budget by more than the estimation
 * error of their calls in flight.
 */
import { collectorJson } from './collector-client';
import { picoToUsd, toPico } from '../money/pico';
import type { LeaseReleaseResponse, LeaseRequest, LeaseResponse } from '../wire';

/** A reservation that never settled (its span never ended) is dropped after this long. */
const RESERVATION_TTL_MS = 10 * 60_000;
const REQUEST_TIMEOUT_MS = 1_500;
const BORROW_DIVISOR = 4n;
/** All holders together never borrow more than ~0.25 % of the budget (≈1 % with late joiners). */
const BORROW_CAP_DIVISOR = 400n;

interface Reservation {
  pico: bigint;
  at: number;
}

export class LeaseHolder {
  leaseId: string | undefined;
  /** Granted under the current lease, all top-ups included. */
  grantedPico = 0n;
  /** Settled (actual) spend of calls under the current lease. */
  usedPico = 0n;
  reservedPico = 0n;
  /** The collector has answered at least once: the slice, not the snapshot, decides. */
  active = false;
  /** The collector has no lease endpoint (older collector): budgets fall back to snapshots. */
  unsupported = false;
  /** Reservations of calls in flight, oldest first from `head` (a queue without O(n) shifts). */
  private reservations: Reservation[] = [];
  private head = 0;
  private inFlight: Promise<void> | undefined;
  /** Slice size asked for last (grows with the call size). */
  slicePico = 0n;
  /**
   * What this process may still borrow beyond its slice until the next answer (so a busy process
   * does not stall while its top-up is on the way): a quarter of the collector's unleased amount
   * divided by the number of holders, and at most 1/400 of the budget divided by the number of
   * holders, less what is borrowed and not yet covered. Borrowed money may be granted to another
   * process at the same time, so this share bounds the overshoot; near the end of a budget it is
   * below one call and nothing is borrowed.
   */
  borrowablePico = 0n;

  constructor(
    readonly policy: string,
    readonly periodStart: string,
    private readonly holder: string,
    private readonly limitPico: bigint,
  ) {}

  availablePico(): bigint {
    return this.grantedPico - this.usedPico - this.reservedPico;
  }

  /**
   * Reserves `pico` from the slice, borrowing the shortfall if `borrowablePico` allows (the
   * top-up the caller then asks for covers it).
   */
  tryReserve(pico: bigint, now: number): boolean {
    const available = this.availablePico();
    if (available < pico) {
      const shortfall = pico - (available > 0n ? available : 0n);
      if (shortfall > this.borrowablePico) return false;
      this.borrowablePico -= shortfall;
    }
    this.reservations.push({ pico, at: now });
    this.reservedPico += pico;
    return true;
  }

  /** A call under this policy ended with `actualPico`: its (oldest) reservation becomes actual spend. */
  settle(actualPico: bigint, hadReservation: boolean): void {
    if (hadReservation) {
      const r = this.next();
      if (r) this.reservedPico -= r.pico;
    }
    this.usedPico += actualPico;
  }

  /** Drops reservations whose calls never reported an end. */
  expireReservations(now: number): void {
    while (
      this.head < this.reservations.length &&
      now - this.reservations[this.head]!.at > RESERVATION_TTL_MS
    ) {
      this.reservedPico -= this.next()!.pico;
    }
  }

  private next(): Reservation | undefined {
    if (this.head >= this.reservations.length) return undefined;
    const r = this.reservations[this.head++];
    if (this.head === this.reservations.length) {
      this.reservations = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.reservations.length) {
      this.reservations = this.reservations.slice(this.head);
      this.head = 0;
    }
    return r;
  }

  /** Whether the slice is low enough to ask for more now. */
  isLow(callEstimatePico: bigint): boolean {
    const threshold =
      this.slicePico / 2n > callEstimatePico * 2n ? this.slicePico / 2n : callEstimatePico * 2n;
    return this.availablePico() < threshold;
  }

  /**
   * Asks the collector for `requestedPico` more (0: only report usage and keep the lease alive).
   * One request at a time; never rejects.
   */
  request(requestedPico: bigint): Promise<void> {
    if (this.inFlight || this.unsupported) return this.inFlight ?? Promise.resolve();
    if (requestedPico > this.slicePico) this.slicePico = requestedPico;
    // A top-up also covers what was borrowed beyond the slice.
    const deficit = -this.availablePico();
    if (requestedPico > 0n && deficit > 0n) requestedPico += deficit;
    const used = this.usedPico;
    const body: LeaseRequest = {
      policy: this.policy,
      period_start: this.periodStart,
      holder: this.holder,
      requested_usd: picoToUsd(requestedPico),
      used_usd: picoToUsd(used),
    };
    this.inFlight = collectorJson<LeaseResponse>('POST', '/v1/budgets/leases', body, {
      timeoutMs: REQUEST_TIMEOUT_MS,
    })
      .then(
        (res) => {
          const granted = toPico(res.granted_usd) ?? 0n;
          if (res.lease_id !== this.leaseId) {
            // A new lease (first one, or the old one expired on the collector): start its accounts afresh.
            this.leaseId = res.lease_id;
            this.grantedPico = toPico(res.total_granted_usd) ?? granted;
            this.usedPico -= used;
          } else {
            this.grantedPico += granted;
          }
          // What is borrowed and not yet covered by a grant counts against the next borrowing.
          const holders = BigInt(Math.max(1, Math.floor(res.holders ?? 1)));
          const deficit = -this.availablePico();
          const share = (toPico(res.unleased_usd) ?? 0n) / (BORROW_DIVISOR * holders);
          const cap = this.limitPico / (BORROW_CAP_DIVISOR * holders);
          this.borrowablePico = (share < cap ? share : cap) - (deficit > 0n ? deficit : 0n);
          this.active = true;
        },
        (err: { status?: number }) => {
          if (err.status === 404 || err.status === 405) this.unsupported = true;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
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

/**
 * Token bucket for one per-minute limit of one policy in this process: full at start, refilled
 * continuously at limit/60 s. Tokens-per-minute are debited with the actual usage when a call
 * ends (the bucket may go below zero; calls wait until it refills), calls-per-minute on each call.
 */
const MINUTE_MS = 60_000;

export class TokenBucket {
  private level: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    now: number,
  ) {
    this.level = perMinute;
    this.last = now;
    this.perMs = perMinute / MINUTE_MS;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.level = Math.min(this.perMinute, this.level + (now - this.last) * this.perMs);
      this.last = now;
    }
  }

  /** Takes `n` if available; false otherwise. */
  tryTake(n: number, now: number): boolean {
    this.refill(now);
    if (this.level < n) return false;
    this.level -= n;
    return true;
  }

  /** Whether anything is left (for limits debited after the fact). */
  hasAny(now: number): boolean {
    this.refill(now);
    return this.level > 0;
  }

  debit(n: number, now: number): void {
    this.refill(now);
    this.level -= n;
  }

  /** Seconds until `n` are available. */
  secondsUntil(n: number, now: number): number {
    this.refill(now);
    return this.level >= n ? 0 : Math.ceil((n - this.level) / this.perMs / 1000);
  }
}

/**
 * The memory the OTLP receiver may hold at once for requests in flight: the bodies being read (as
 * their bytes arrive, after inflation), the request being decoded (its estimated cost, see
 * ingest/otlp/decode-cost.ts) and the calls decoded requests wait to have stored. Each request
 * holds a share; a request whose share cannot grow is shed with 429 + Retry-After (the exporter
 * keeps the batch and retries), and one that could not fit even alone is refused with 413.
 *
 * Nothing waits for room: a request that does not fit now is answered at once, so that a crowd of
 * slow or hostile senders can hold no more than the budget and never holds a queue.
 */

export class IngestBudget {
  private used = 0;

  constructor(
    readonly limitBytes: number,
    /**
     * Told of every release and what requests still hold: what they gave back may now be collected
     * (service/released-memory.ts).
     */
    private readonly onRelease?: (bytes: number, heldBytes: number) => void,
  ) {}

  /** Bytes held by requests in flight now. */
  get usedBytes(): number {
    return this.used;
  }

  /** A share for one request, holding nothing yet. */
  share(): BudgetShare {
    return new BudgetShare(this);
  }

  /** @internal BudgetShare's. */
  take(n: number): boolean {
    if (this.used + n > this.limitBytes) return false;
    this.used += n;
    return true;
  }

  /** @internal BudgetShare's. */
  give(n: number): void {
    this.used -= n;
    if (n > 0) this.onRelease?.(n, this.used);
  }
}

/** What one request holds of the budget; released once, when its response is done. */
export class BudgetShare {
  private held = 0;
  private released = false;

  constructor(private readonly budget: IngestBudget) {}

  get bytes(): number {
    return this.held;
  }

  /** The whole budget: a request needing more can never be served. */
  get limitBytes(): number {
    return this.budget.limitBytes;
  }

  /** Holds `n` more bytes if they fit; false (holding what it held) otherwise. */
  grow(n: number): boolean {
    if (this.released) return false;
    if (!this.budget.take(n)) return false;
    this.held += n;
    return true;
  }

  /** Holds exactly `n` bytes: shrinking always works, growing only if it fits. */
  resize(n: number): boolean {
    if (n <= this.held) {
      this.budget.give(this.held - n);
      this.held = n;
      return true;
    }
    return this.grow(n - this.held);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.held);
    this.held = 0;
  }
}

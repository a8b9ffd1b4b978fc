/**
 * One budget-lease owner across collectors that share a ClickHouse store (decision 0069). Leases
 * live in the memory of the collector that grants them, so only one collector may grant at a time;
 * the others forward lease requests to it.
 *
 * Time is cut into rounds. The owner of a round is whoever's claim of it the engine kept: every
 * claim of a round carries the same insert deduplication token (a digest of the round), so the first
 * block stored wins and every collector reads back the same claimant — ClickHouse has no
 * compare-and-set, block deduplication is the one atomic step. The owner claims the next round
 * as soon as it holds the current one (a slow store never leaves it without a claim at the turn);
 * another collector claims a round only once it is half over and still unclaimed (the owner is
 * dead or cut off), or at once when the round before had no owner.
 *
 * Why two collectors never grant the same money:
 * - a collector grants only while its own clock is inside a round it has read back as its own;
 * - a lease it grants holds for the lease TTL from the holder's request, and the holder (the SDK)
 *   stops spending a slice the TTL after the request that last renewed it;
 * - a collector that starts owning rounds after another collector did (a new tenure) grants nothing
 *   until TTL + SKEW_MS + SPANS_IN_FLIGHT_MS after the end of the last round another collector held:
 *   by then every slice the old owner granted has expired at its holder, and the calls made from it
 *   have been exported and stored, so the stored spend the new owner reads (a figure computed after
 *   it began to grant) includes them. It learns
 *   of those rounds from a read made SKEW_MS into its tenure, after which no claim of an earlier
 *   round can still be used to grant (a claimant grants only inside its round, by its clock).
 * Assumption: the collectors' clocks differ by less than SKEW_MS (NTP keeps them within milliseconds).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Periodic } from '../../core/periodic';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';

/** Assumed bound on the difference between two collectors' clocks. */
export const SKEW_MS = 1_000;
/** Calls made from a slice just before it expired: their spans are exported and stored within this. */
export const SPANS_IN_FLIGHT_MS = 10_000;

/** What a collector may do with a lease request now. */
export type LeaseOwnerView =
  /**
   * Grant: this collector owns the current round and every older owner's leases have expired. `since`:
   * when this run of rounds began to grant; a spend figure computed before it may lack calls made
   * from an older owner's leases, so grants use one computed after.
   */
  | { role: 'owner'; since?: number }
  /** This collector owns the round but waits out an older owner's leases (until then: busy). */
  | { role: 'waiting'; until: number }
  /** Another collector owns the round: forward to it. */
  | { role: 'forward'; url: string }
  /** No owner is known (unclaimed yet, or the store cannot be read): busy. */
  | { role: 'unknown' };

/** Who grants leases (the election, or the sole collector of an embedded store). */
export interface LeaseAuthority {
  view(now?: number): LeaseOwnerView;
  /**
   * Where to tell of stored calls: the current round's owner, or — at a turn not claimed yet — the
   * latest round's; undefined when that is this collector.
   */
  landingUrl?(now?: number): string | undefined;
}

/** The embedded store is this process's alone: it is the only collector, always the owner. */
export const soleLeaseOwner: LeaseAuthority = { view: () => ({ role: 'owner' }) };

interface Claim {
  claimant: string;
  url: string;
}

export interface LeaseOwnerOptions {
  storage: Storage;
  /** Where the other collectors reach this one (its claims carry it). */
  advertiseUrl: string;
  /** The lease TTL (LeaseBook's): how long a granted slice may be spent without renewal. */
  leaseTtlMs: number;
  now?: () => number;
  log?: (line: string) => void;
}

/** A round: a quarter of the lease TTL, between 5 and 10 s (short enough for a prompt takeover). */
function roundMsFor(leaseTtlMs: number): number {
  return Math.min(10_000, Math.max(5_000, Math.floor(leaseTtlMs / 4)));
}

export class LeaseOwnerElection implements LeaseAuthority {
  /** This collector process, in its claims. */
  readonly claimant = randomUUID();
  readonly roundMs: number;
  private readonly now: () => number;
  /** Claims read back, by round (a claimed round never changes hands). */
  private readonly claims = new Map<number, Claim>();
  /** The rounds the last read covered, and when it was made. */
  private readRange: { from: number; to: number; at: number } | undefined;
  /**
   * This collector's current run of rounds: its first, the last one seen to be its own (each tick
   * checks the rounds since), and when it may grant in it (undefined: not proven yet).
   */
  private tenure: { since: number; checked: number; grantFrom: number | undefined } | undefined;
  /** The last failure logged (a store that is down fails every tick: said once, until it changes). */
  private lastError: string | undefined;
  private readonly ticker = new Periodic(
    () => this.tick().then(() => (this.lastError = undefined)),
    (err) => {
      if (err.message !== this.lastError) this.opts.log?.(`lease owner: ${err.message}`);
      this.lastError = err.message;
    },
  );

  constructor(private readonly opts: LeaseOwnerOptions) {
    this.now = opts.now ?? Date.now;
    this.roundMs = roundMsFor(opts.leaseTtlMs);
  }

  start(everyMs = 1_000): void {
    this.ticker.start(everyMs);
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  view(now = this.now()): LeaseOwnerView {
    const round = this.roundOf(now);
    const claim = this.claims.get(round);
    if (!claim) return { role: 'unknown' };
    if (claim.claimant !== this.claimant) return { role: 'forward', url: claim.url };
    const t = this.tenure;
    if (!t || t.since > round) return { role: 'unknown' };
    if (t.grantFrom === undefined) return { role: 'waiting', until: this.startOf(t.since) + SKEW_MS };
    return now >= t.grantFrom
      ? { role: 'owner', since: t.grantFrom }
      : { role: 'waiting', until: t.grantFrom };
  }

  landingUrl(now = this.now()): string | undefined {
    const round = this.roundOf(now);
    let latest = -1;
    for (const r of this.claims.keys()) if (r <= round && r > latest) latest = r;
    const claim = this.claims.get(latest);
    return claim && claim.claimant !== this.claimant ? claim.url : undefined;
  }

  /** Reads the claims, claims the current or next round when it is time, and proves a new tenure. */
  async tick(): Promise<void> {
    let now = this.now();
    let round = this.roundOf(now);
    await this.read(round, now);
    const current = this.claims.get(round);
    const mine = (r: number): boolean => this.claims.get(r)?.claimant === this.claimant;
    const halfOver = now >= this.startOf(round) + this.roundMs / 2;
    let claimed = false;
    if (!current && (mine(round - 1) || !this.claims.has(round - 1) || halfOver)) {
      await this.claim(round, now);
      claimed = true;
    } else if (mine(round) && !this.claims.has(round + 1)) {
      await this.claim(round + 1, now);
      claimed = true;
    }
    if (claimed) {
      now = this.now();
      round = this.roundOf(now);
      await this.read(round, now);
    }
    this.updateTenure(round, now);
  }

  /** The current run of own rounds; a new one proves, from a read made late enough, when it may grant. */
  private updateTenure(round: number, now: number): void {
    const owned = this.claims.get(round)?.claimant === this.claimant;
    if (!owned) {
      this.tenure = undefined;
      return;
    }
    const t = this.tenure;
    const continuous = t !== undefined && t.checked <= round && this.ownsAll(t.checked, round);
    if (continuous) t.checked = round;
    else {
      this.tenure = { since: round, checked: round, grantFrom: undefined };
      this.opts.log?.(
        `lease owner: this collector owns round ${round}; proving the last owner's leases expired`,
      );
    }
    const tenure = this.tenure!;
    const read = this.readRange;
    if (tenure.grantFrom !== undefined || !read || read.at < this.startOf(tenure.since) + SKEW_MS) return;
    // Rounds before the tenure are final in this read: the end of the last one another collector held.
    let lastOther = -Infinity;
    for (const [r, c] of this.claims)
      if (r < tenure.since && c.claimant !== this.claimant) lastOther = Math.max(lastOther, r);
    tenure.grantFrom =
      lastOther === -Infinity
        ? now
        : Math.max(now, this.startOf(lastOther + 1) + this.opts.leaseTtlMs + SKEW_MS + SPANS_IN_FLIGHT_MS);
    if (tenure.grantFrom > now)
      this.opts.log?.(
        `lease owner: granting from ${new Date(tenure.grantFrom).toISOString()} (the leases of the collector that owned round ${lastOther} expire)`,
      );
  }

  private ownsAll(from: number, to: number): boolean {
    for (let r = from; r <= to; r++) if (this.claims.get(r)?.claimant !== this.claimant) return false;
    return true;
  }

  /** Every claim from far enough back to cover an older owner's leases, to the next round. */
  private async read(round: number, now: number): Promise<void> {
    const back = Math.ceil((this.opts.leaseTtlMs + SKEW_MS + SPANS_IN_FLIGHT_MS) / this.roundMs) + 2;
    const from = Math.max(0, round - back);
    const db = this.opts.storage.database;
    let rows: Array<{ round: string | number; claimant: string; url: string }>;
    try {
      const rs = await this.opts.storage.client.query({
        query: `SELECT round, argMin(claimant, claimed_at) AS claimant, argMin(url, claimed_at) AS url
                FROM ${db}.lease_owner_claims WHERE round BETWEEN {from:UInt64} AND {to:UInt64} GROUP BY round`,
        query_params: { from, to: round + 1 },
        format: 'JSONEachRow',
      });
      rows = await rs.json();
    } catch (cause) {
      throw new StorageError('reading lease owner claims', { cause, detail: `${db}.lease_owner_claims` });
    }
    for (const r of rows) this.claims.set(Number(r.round), { claimant: r.claimant, url: r.url });
    for (const r of this.claims.keys()) if (r < from) this.claims.delete(r);
    this.readRange = { from, to: round + 1, at: now };
  }

  private async claim(round: number, now: number): Promise<void> {
    const db = this.opts.storage.database;
    const token = createHash('sha256').update(`lease-owner\u0000${round}`).digest('hex');
    try {
      await this.opts.storage.client.insert({
        // The token in the statement (chdb applies clickhouse_settings session-wide); our own hex digest.
        table: `${db}.lease_owner_claims (round, claimant, url, claimed_at) SETTINGS insert_deduplication_token = '${token}'`,
        values: [[round, this.claimant, this.opts.advertiseUrl, now]],
        format: 'JSONCompactEachRow',
      });
    } catch (cause) {
      throw new StorageError('claiming lease ownership', { cause, detail: `${db}.lease_owner_claims` });
    }
  }

  private roundOf(now: number): number {
    return Math.floor(now / this.roundMs);
  }

  private startOf(round: number): number {
    return round * this.roundMs;
  }
}

/**
 * Budget leases (`POST /v1/budgets/leases`, `DELETE /v1/budgets/leases/:id?used_usd=`): a guard
 * process's slice of a policy's budget for one period. Money is exact decimal strings.
 */

export interface LeaseRequest {
  policy: string;
  period_start: string;
  /** The process (`host:pid:random`); the collector files it under the key's name, `<key name>/<holder>`. */
  holder: string;
  /** More wanted now (a slice, or what calls waiting need); "0" only reports and keeps the lease. */
  requested_usd: string;
  /**
   * The least that is of use now: the shortfall of the call waiting for money. When the collector
   * cannot grant that much it grants nothing and says why (`state`). Absent or "0": a background top-up.
   */
  need_usd?: string;
  /** What the holder has spent under this lease so far (settled calls), so the collector can release the rest. */
  used_usd?: string;
  /** What the holder has given back under this lease so far, all told (it stopped using it before saying so). */
  returned_usd?: string;
}

/**
 * - `ok`: the need (if any) is granted;
 * - `busy`: money is left but every dollar of it is held — by calls in flight, slices of other
 *   processes (given back within a second once others wait), or spend reported but not stored yet;
 * - `exceeded`: the stored spend has reached the limit.
 */
export type LeaseState = 'ok' | 'busy' | 'exceeded';

export interface LeaseResponse {
  /** Granted by this request. */
  granted_usd: string;
  lease_id: string;
  expires_at: string;
  /** Granted under this lease in all, this request included (less what was given back). */
  total_granted_usd: string;
  /** What no holder has leased yet (limit − spent − outstanding leases), after this grant. */
  unleased_usd: string;
  /** Open leases of the policy period, this one included. */
  holders: number;
  /** The period's spend as the collector has it (stored and accepted calls): the figure errors quote. */
  spent_usd: string;
  limit_usd: string;
  state: LeaseState;
  /** With `busy`: when what is held is likely free again, seconds. */
  retry_after_seconds?: number;
  /** A holder was refused lately: holders give back the part of their slice no call holds. */
  contended: boolean;
  /**
   * How long the lease holds from the request without being renewed: the holder spends none of it
   * after that (several collectors: a new lease owner waits that long before it grants).
   */
  expires_in_seconds?: number;
  /**
   * Several collectors: no lease owner can grant now (it is changing, or cannot be reached). The
   * answer carries no lease (`lease_id` "", state `busy`): keep the slice held until it expires.
   */
  owner_pending?: boolean;
}

/** The query of the DELETE that returns a lease. */
export interface LeaseReleaseQuery {
  used_usd?: string;
}

export interface LeaseReleaseResponse {
  returned_usd: string;
}

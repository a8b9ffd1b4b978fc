/**
 * Budget leases (`POST /v1/budgets/leases`, `DELETE /v1/budgets/leases/:id?used_usd=`): a guard
 * process's slice of a policy's budget for one period. Money is exact decimal strings.
 */

export interface LeaseRequest {
  policy: string;
  period_start: string;
  holder: string;
  requested_usd: string;
  /** What the holder has spent under this lease so far (settled calls), so the collector can release the rest. */
  used_usd?: string;
}

export interface LeaseResponse {
  /** Granted by this request. */
  granted_usd: string;
  lease_id: string;
  expires_at: string;
  /** Granted under this lease in all, this request included. */
  total_granted_usd: string;
  /** What no holder has leased yet (limit − spent − outstanding leases), after this grant. */
  unleased_usd: string;
  /** Open leases of the policy period, this one included. */
  holders: number;
}

/** The query of the DELETE that returns a lease. */
export interface LeaseReleaseQuery {
  used_usd?: string;
}

export interface LeaseReleaseResponse {
  returned_usd: string;
}

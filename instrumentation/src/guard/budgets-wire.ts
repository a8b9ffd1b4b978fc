/**
 * What the guard reads from the collector: `GET /v1/budgets` and the lease endpoints
 * (docs/DESIGN.md, docs/GUARD.md). Money is exact decimal strings.
 */
import type { AttributionRequirement, BudgetPeriod, FailMode, Policy } from '../policy/types';

export interface BudgetView {
  usd: string | number;
  period: BudgetPeriod;
  timezone?: string;
  period_start: string;
  period_end: string;
  spent_usd: string;
  remaining_usd?: string;
  state?: 'ok' | 'warning' | 'exceeded';
  forecast_usd?: string;
}

export type PolicyView = Omit<Policy, 'budget'> & { budget?: BudgetView | null };

export interface PriceView {
  input_mtok: string | number;
  output_mtok: string | number;
  cache_read_mtok?: string | number | null;
  cache_write_mtok?: string | number | null;
  cache_write_1h_mtok?: string | number | null;
}

export interface BudgetsResponse {
  generated_at?: string;
  policy_version?: string;
  kill_switch?: boolean;
  fail?: FailMode;
  attribution?: AttributionRequirement | null;
  policies?: PolicyView[];
  prices?: Record<string, PriceView>;
}

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
  total_granted_usd?: string;
  /** What no holder has leased yet (limit − spent − outstanding leases), after this grant. */
  unleased_usd?: string;
  /** Open leases of the policy period, this one included. */
  holders?: number;
}

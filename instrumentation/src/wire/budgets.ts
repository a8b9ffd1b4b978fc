/**
 * `GET /v1/budgets`: what the in-app guard reads. The collector sends every field; the guard reads
 * any subset (an older collector may lack some). Money is exact decimal strings.
 */
import type { AttributionRequirement, BudgetPeriod, FailMode, Policy } from '../policy/types';
import type { KeyView } from './keys';

/**
 * `exceeded`: spent ≥ limit; `forecast_to_exceed`: below it, but the period-end forecast is above;
 * `warning`: spent ≥ the policy's lowest alert threshold (80 % without alerts); `ok`: none of these.
 */
export type BudgetState = 'ok' | 'warning' | 'forecast_to_exceed' | 'exceeded';

/** A policy's budget in its current period. */
export interface BudgetView {
  usd: string;
  period: BudgetPeriod;
  timezone: string;
  period_start: string;
  period_end: string;
  spent_usd: string;
  remaining_usd: string;
  state: BudgetState;
  /** Expected spend at the period's end (the forecaster's, see docs/FINANCE.md). */
  forecast_usd: string;
  /** Its 80 % interval (absent from collectors before 0.2). */
  forecast_low_usd?: string;
  forecast_high_usd?: string;
  /** When spend reached the limit or, at the forecast's pace, will; null when it is not expected to. */
  breach_at?: string | null;
}

/** A policy as written in the policy file, its budget replaced by the budget's state. */
export type PolicyView = Omit<Policy, 'budget'> & { budget: BudgetView | null };

/** USD per million tokens of each kind; a cache price only where it differs. */
export interface PriceView {
  input_mtok: string;
  output_mtok: string;
  cache_read_mtok?: string;
  cache_write_mtok?: string;
  /** Writes to a 1-hour cache, where they cost more than other cache writes. */
  cache_write_1h_mtok?: string;
}

export interface BudgetsResponse {
  generated_at: string;
  /** sha256 of the policy file; null when there is none. */
  policy_version: string | null;
  kill_switch: boolean;
  fail: FailMode;
  attribution: AttributionRequirement | null;
  policies: PolicyView[];
  /** `"<provider>/<model>"` (provider `*`: any) → prices, for the models in play. */
  prices: Record<string, PriceView>;
  /** The key this request came with: a scoped key's calls are filed under its scope. */
  key?: KeyView;
}

/**
 * What a reader sees instead of SQL names: a label per column the panels return, and words for the
 * coded values some columns hold. One dictionary for the report page, its CSV files and Grafana
 * (field display names and value mappings); a panel may say a column differently (`labels`).
 */
import type { PanelDef } from './types';

const COLUMN_LABELS: Readonly<Record<string, string>> = {
  // Who and what
  team: 'Team',
  feature: 'Feature',
  environment: 'Environment',
  customer: 'Customer',
  cost_center: 'Cost center',
  provider: 'Provider',
  model: 'Model (priced as)',
  sent_model: 'Model the app sent',
  asked_model: 'Model the app asked for',
  cheaper_model: 'Cheapest acceptable alternative',
  alternative_source: 'Why acceptable',
  policy: 'Budget',
  period: 'Period',
  period_start: 'Period start',
  period_end: 'Period end',
  state: 'State',
  limit_source: 'Limit from',
  enforcement: 'Guard action',
  outcome: 'Outcome',
  time: 'Time',
  label: 'Change',
  source: 'Marked by',
  at: 'When',
  // Money
  spend_usd: 'Spend',
  spent_usd: 'Spent',
  limit_usd: 'Limit',
  remaining_usd: 'Remaining',
  forecast_usd: 'Forecast at period end',
  forecast_low_usd: 'Forecast low (80 %)',
  forecast_high_usd: 'Forecast high (80 %)',
  breach_at: 'Limit reached / expected',
  month_to_date_usd: 'Spent in the month',
  projected_usd: 'Projected month-end (all spend)',
  budgeted_projected_usd: 'Projected within monthly budgets',
  monthly_budgets_usd: 'Monthly budgets',
  unbudgeted_projected_usd: 'Projected outside any budget',
  unattributed_usd: 'Spend without an owner',
  cost_per_user_usd: 'Cost per user',
  cost_per_outcome_usd: 'Cost per outcome',
  outcome_value_usd: 'Outcome value',
  input_cost_usd: 'Input cost',
  output_cost_usd: 'Output cost',
  list_cost_usd: 'List price of the workload',
  cheaper_list_cost_usd: 'Same workload on the alternative',
  list_savings_usd: 'Possible saving',
  downgrade_saved_usd: 'Saved by downgrades',
  asked_list_cost_usd: 'List price on the model asked for',
  estimated_usd: 'Estimated',
  approved_usd: 'Approved',
  // Counts and shares
  calls: 'Calls',
  users: 'Users',
  outcomes: 'Outcomes',
  unpriced_calls: 'Unpriced calls',
  error_calls: 'Failed calls',
  input_tokens: 'Input tokens',
  output_tokens: 'Output tokens',
  cache_read_tokens: 'Input tokens from cache',
  cached_input_tokens: 'Cached input tokens',
  uncached_input_tokens: 'Uncached input tokens',
  unattributed_share: 'Share without an owner',
  unpriced_call_share: 'Share of calls unpriced',
  cache_hit_share: 'Input served from cache',
  cached_input_share: 'Input served from cache',
  error_rate: 'Failed share',
  input_cost_share: 'Input share of cost',
  output_cost_share: 'Output share of cost',
  used_share: 'Share of limit used',
  forecast_share_of_limit: 'Forecast as share of limit',
  p95_ms: 'p95 latency',
  // Approvals
  id: 'Request',
  job: 'Job',
  requester: 'Requested by',
  approver: 'Approver',
  status: 'Status',
  decided_by: 'Decided by',
  created_at: 'Requested at',
  decided_at: 'Decided at',
  justification: 'Justification',
  // Baselines
  calls_before: 'Calls before',
  calls_after: 'Calls after',
  cost_per_call_before_usd: 'Cost per call before',
  cost_per_call_after_usd: 'Cost per call after',
  outcomes_before: 'Outcomes before',
  outcomes_after: 'Outcomes after',
  cost_per_outcome_before_usd: 'Cost per outcome before',
  cost_per_outcome_after_usd: 'Cost per outcome after',
  tokens_per_call_before: 'Tokens per call before',
  tokens_per_call_after: 'Tokens per call after',
  cost_per_call_change: 'Change in cost per call',
};

/** Words for the codes a column holds. */
export const VALUE_LABELS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  state: {
    ok: 'OK',
    warning: 'Warning',
    forecast_to_exceed: 'Forecast to exceed',
    exceeded: 'Exceeded',
  },
  limit_source: {
    policy_history: 'Policy in force then',
    snapshot: 'Snapshot of the time',
    current_policy: 'Today’s policy (none stored then)',
  },
  period: { daily: 'Daily', weekly: 'Weekly', monthly: 'Monthly', quarterly: 'Quarterly' },
  enforcement: { blocked: 'Blocked', downgraded: 'Downgraded', clamped: 'Output capped' },
  status: { pending: 'Pending', approved: 'Approved', rejected: 'Rejected', exhausted: 'Used up' },
  alternative_source: { family: 'Same family', policy: 'Allowed by the policy' },
  source: { manual: 'By hand', 'service.version': 'New service.version' },
};

/** Columns that name a series (a time series' labels) rather than hold a value. */
export const SERIES_COLUMNS: ReadonlySet<string> = new Set([
  'team',
  'feature',
  'environment',
  'customer',
  'provider',
  'model',
  'policy',
]);

/** The label a panel shows for a column; undefined when the catalog has none (a test forbids it). */
export function columnLabel(panel: Pick<PanelDef, 'labels'>, column: string): string | undefined {
  return panel.labels?.[column] ?? COLUMN_LABELS[column];
}

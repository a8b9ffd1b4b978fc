/**
 * The policy file's object model (after YAML parsing and JSON-Schema validation), shared by the
 * collector (loader, budget engine, alerts, generated Grafana alert rules) and the in-app guard
 * (which receives the parts it enforces from the collector's GET /v1/budgets).
 *
 * YAML keys are snake_case and map 1:1 onto these fields. The JSON Schema that validates the file
 * lives beside this module (./schema.ts, published as policies/policy.schema.json) and must stay in
 * step with these types. It is re-exported here because `tokenledger/policy` resolves to this module.
 */
export { POLICY_SCHEMA, ATTRIBUTION_FIELDS, MATCH_FIELDS } from './schema';

/** Attribution and call properties a policy can select on; a value or a list of values (any of). */
export interface PolicyMatch {
  team?: string | string[];
  cost_center?: string | string[];
  department?: string | string[];
  feature?: string | string[];
  workflow?: string | string[];
  environment?: string | string[];
  service?: string | string[];
  customer?: string | string[];
  model?: string | string[];
  provider?: string | string[];
}

export type BudgetPeriod = 'daily' | 'weekly' | 'monthly' | 'quarterly';

export interface BudgetSpec {
  /** Cap in USD (a decimal number; kept as a string internally where money is summed). */
  usd: number;
  period: BudgetPeriod;
  /** IANA time zone for period boundaries; default UTC. */
  timezone?: string;
}

export interface RateLimitSpec {
  calls_per_minute?: number;
  tokens_per_minute?: number;
}

export interface AlertSpec {
  /** Fractions of the budget, e.g. [0.75, 0.8, 1.0]. */
  at: number[];
  /** Slack-compatible webhook URL(s). */
  webhook?: string | string[];
  /** Email recipient(s), sent over SMTP (TOKENLEDGER_SMTP_URL). */
  email?: string | string[];
}

export interface ApprovalSpec {
  /** Jobs estimated above this need an approval. */
  above_usd: number;
  approvers: string[];
}

export type OnExceeded = 'block' | 'alert' | 'downgrade';
export type FailMode = 'open' | 'closed';
export type MaxTokensMode = 'clamp' | 'reject';

export interface Policy {
  name: string;
  description?: string;
  match?: PolicyMatch;
  models?: { allow?: string[]; deny?: string[] };
  budget?: BudgetSpec;
  rate_limit?: RateLimitSpec;
  max_tokens_per_call?: number;
  /** What max_tokens_per_call does to a larger request: clamp it (default) or reject the call. */
  on_max_tokens?: MaxTokensMode;
  on_exceeded?: OnExceeded;
  downgrade_to?: string;
  alerts?: AlertSpec;
  approval?: ApprovalSpec;
  /** Kill switch: block every matching call now. */
  disabled?: boolean;
}

export interface AttributionRequirement {
  /** Attribution fields every call must carry ("no tag, no call"), e.g. [team, feature]. */
  required: string[];
  on_missing?: 'block' | 'alert';
}

export interface PricingOverride {
  provider?: string;
  model: string;
  /** Fraction off list price, e.g. 0.15. */
  discount?: number;
  input_mtok?: number;
  output_mtok?: number;
  cache_read_mtok?: number;
  cache_write_mtok?: number;
  /** Writes to a 1-hour cache (Anthropic's extended TTL); needs cache_write_mtok. */
  cache_write_1h_mtok?: number;
}

/** A provider's project, workspace or API key and the services whose calls are its spend. */
export interface ReconciliationProject {
  provider?: string;
  project: string;
  service: string | string[];
}

/** How imported bills are reconciled with the meter (every key optional). */
export interface ReconciliationSpec {
  /** A line matches when |billed − metered| is at most this many USD (default 0.01)… */
  tolerance_usd?: number;
  /** …or this share of the larger of the two (default 0.01 = 1 %). */
  tolerance_share?: number;
  /** Metered spend may match a bill dated up to this many days later (default 1). */
  billing_delay_days?: number;
  /** Grafana alert when a provider's meter coverage of its bill falls below this share. */
  alert_below?: number;
  /** USD per unit of a currency, for bills and expenses not in USD, e.g. { EUR: 1.08 }. */
  currency_rates?: Record<string, number>;
  /** Compare per project: which services' calls are a project's spend. */
  projects?: ReconciliationProject[];
}

export interface PolicyFile {
  version: 1;
  /** Global kill switch for every AI call of every service. */
  kill_switch?: boolean;
  /** What the guard does when the collector cannot be reached: open (default) allows, closed blocks. */
  fail?: FailMode;
  attribution?: AttributionRequirement;
  policies: Policy[];
  pricing?: { overrides?: PricingOverride[] };
  /** Named notification channels Grafana contact points are generated from. */
  channels?: { webhook?: string[]; email?: string[] };
  /** What the savings panel may offer instead of a model. */
  savings?: SavingsRules;
  /** Reconciliation of imported provider bills with the meter. */
  reconciliation?: ReconciliationSpec;
}

export interface SavingsRules {
  /**
   * Per model (catalog id or as reported), the models acceptable instead, of any provider; a model
   * listed here is offered only these. Unlisted models: the cheaper models of their family.
   */
  alternatives?: Record<string, string[]>;
  /** Offer preview / experimental models as alternatives (default false; listed ones always). */
  include_preview?: boolean;
}

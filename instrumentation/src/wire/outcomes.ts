/**
 * `POST /v1/outcomes`: business outcomes (a ticket resolved, an order placed), one or
 * `{ outcomes: [...] }`; a retried report with the same `id` is stored once.
 */

export interface OutcomeReport {
  id: string;
  feature: string;
  outcome: string;
  /** ISO 8601; default: when the collector receives it. */
  time?: string;
  /** Default 1. */
  count?: number;
  /** A non-negative decimal (string or number); default 0. */
  value_usd?: string | number;
  team?: string;
  cost_center?: string;
  customer?: string;
  environment?: string;
  service?: string;
}

export interface OutcomesRequest {
  outcomes: OutcomeReport[];
}

export interface OutcomesAccepted {
  accepted: number;
  /** Outcomes claiming a cost center outside the key's scope, stored under the scope (claim kept). */
  out_of_scope?: number;
  /** Why, once per request, when there were such outcomes. */
  warning?: string;
}

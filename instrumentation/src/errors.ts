/**
 * Typed errors the guard throws into the app when a call is blocked before it leaves. Each message
 * names the policy, the numbers and what to do about it.
 */
export class PolicyError extends Error {
  /** The policy that blocked the call (its `name` in the policy file). */
  readonly policy: string | undefined;

  constructor(message: string, policy?: string) {
    super(message);
    this.name = new.target.name;
    this.policy = policy;
  }
}

/** The numbers behind a BudgetExceededError, as exact decimal strings. */
export interface BudgetNumbers {
  spentUsd: string;
  limitUsd: string;
  /** daily | weekly | monthly | quarterly */
  period: string;
  periodStart: string;
  periodEnd: string;
  /** What this call was estimated to cost at most. */
  estimatedCallUsd?: string;
}

export class BudgetExceededError extends PolicyError {
  readonly budget: BudgetNumbers | undefined;

  constructor(message: string, policy?: string, budget?: BudgetNumbers) {
    super(message, policy);
    this.budget = budget;
  }
}

export class AttributionRequiredError extends PolicyError {
  /** The attribution fields the call lacked (policy-file names: team, feature, ...). */
  readonly missing: string[];

  constructor(message: string, missing: string[] = []) {
    super(message);
    this.missing = missing;
  }
}

export class ModelNotAllowedError extends PolicyError {}

export class RateLimitedError extends PolicyError {
  /** When a call would be allowed again, seconds from the error. */
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, policy?: string, retryAfterSeconds?: number) {
    super(message, policy);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class ApprovalRequiredError extends PolicyError {}
export class MaxTokensExceededError extends PolicyError {}
export class KillSwitchError extends PolicyError {}
/** The collector cannot be reached and the policy file says `fail: closed`. */
export class CollectorUnreachableError extends PolicyError {}

export function isPolicyError(err: unknown): err is PolicyError {
  return err instanceof PolicyError;
}

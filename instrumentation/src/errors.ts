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

/** The numbers behind a BudgetExceededError or BudgetBusyError, as exact decimal strings (spent: the collector's figure). */
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

/** The budget is spent: the collector's stored spend has reached the limit. Stop, or wait for the next period. */
export class BudgetExceededError extends PolicyError {
  readonly budget: BudgetNumbers | undefined;

  constructor(message: string, policy?: string, budget?: BudgetNumbers) {
    super(message, policy);
    this.budget = budget;
  }
}

/**
 * Money is left in the budget, but all of it is held — by calls in flight in this and other
 * processes, or spend reported and not yet stored — so this call could not be covered in time.
 * Not a BudgetExceededError: retry after `retryAfterSeconds`.
 */
export class BudgetBusyError extends PolicyError {
  readonly budget: BudgetNumbers | undefined;
  /** When what is held is likely free again, seconds from the error. */
  readonly retryAfterSeconds: number;

  constructor(
    message: string,
    policy: string | undefined,
    budget: BudgetNumbers | undefined,
    retryAfterSeconds: number,
  ) {
    super(message, policy);
    this.budget = budget;
    this.retryAfterSeconds = retryAfterSeconds;
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

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

export class BudgetExceededError extends PolicyError {}
export class AttributionRequiredError extends PolicyError {}
export class ModelNotAllowedError extends PolicyError {}
export class RateLimitedError extends PolicyError {}
export class ApprovalRequiredError extends PolicyError {}
export class MaxTokensExceededError extends PolicyError {}
export class KillSwitchError extends PolicyError {}

export function isPolicyError(err: unknown): err is PolicyError {
  return err instanceof PolicyError;
}

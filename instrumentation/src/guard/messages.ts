/** The guard's error messages: which policy, the numbers, and what to do. */
import {
  AttributionRequiredError,
  BudgetBusyError,
  BudgetExceededError,
  CollectorUnreachableError,
  KillSwitchError,
  MaxTokensExceededError,
  ModelNotAllowedError,
  RateLimitedError,
  type BudgetNumbers,
} from '../errors';
import { collectorUrl } from '../collector-api';
import { endpointForMessages } from '../export/refused-export';
import { ATTRIBUTION_BY_POLICY_FIELD } from '../semconv';

const collectorUrlForMessages = (): string => endpointForMessages(collectorUrl());

const PREFIX = 'tokenledger:';

/** $0.0123 style: exact decimal text from pico-dollars. */
function usd(text: string): string {
  return `$${text}`;
}

export function killSwitchError(policy: string | undefined, model: string | undefined): KillSwitchError {
  return policy === undefined
    ? new KillSwitchError(
        `${PREFIX} the global kill switch is on (kill_switch: true in the policy file): every AI call is blocked; ` +
          `the call to ${model ?? 'the model'} was not sent. Set kill_switch: false to resume.`,
      )
    : new KillSwitchError(
        `${PREFIX} policy "${policy}" is disabled (disabled: true in the policy file): its calls are blocked; ` +
          `the call to ${model ?? 'the model'} was not sent. Set disabled: false to resume.`,
        policy,
      );
}

export function attributionError(missing: string[], required: string[]): AttributionRequiredError {
  const list = missing.join(', ');
  return new AttributionRequiredError(
    `${PREFIX} no tag, no call: this call has no ${list} (the policy file requires ${required.join(', ')}); it was not sent. ` +
      `Wrap the code in withAttribution({ ${missing.map((m) => `${appField(m)}: '…'`).join(', ')} }, fn) ` +
      `or set OTEL_RESOURCE_ATTRIBUTES=${missing.map((m) => `tokenledger.${m}=…`).join(',')}.`,
    missing,
  );
}

/** The name `withAttribution` knows a policy-file field by (`cost_center` → `costCenter`). */
function appField(policyField: string): string {
  return ATTRIBUTION_BY_POLICY_FIELD[policyField]?.field ?? policyField;
}

export function modelNotAllowedError(
  policy: string,
  model: string | undefined,
  allow: string[] | undefined,
  denied: boolean,
): ModelNotAllowedError {
  const why = denied ? `is on its deny list` : `is not on its allow list (${(allow ?? []).join(', ')})`;
  return new ModelNotAllowedError(
    `${PREFIX} policy "${policy}": model ${model ?? '(none)'} ${why}; the call was not sent. ` +
      `Use ${allow && allow.length > 0 ? `one of ${allow.join(', ')}` : 'another model'}, or change models in the policy file.`,
    policy,
  );
}

export function maxTokensError(policy: string, asked: number, cap: number): MaxTokensExceededError {
  return new MaxTokensExceededError(
    `${PREFIX} policy "${policy}": the call asks for ${asked} max output tokens, the limit is ${cap} ` +
      `(max_tokens_per_call, on_max_tokens: reject); it was not sent. Ask for at most ${cap}, or set on_max_tokens: clamp.`,
    policy,
  );
}

export function rateLimitedError(
  policy: string,
  what: 'calls' | 'tokens',
  perMinute: number,
  retryAfterSeconds: number,
): RateLimitedError {
  return new RateLimitedError(
    `${PREFIX} policy "${policy}": rate limit of ${perMinute} ${what} per minute (per process) reached; the call was not sent. ` +
      `Retry in ~${retryAfterSeconds} s, or raise rate_limit.${what}_per_minute in the policy file.`,
    policy,
    retryAfterSeconds,
  );
}

export function budgetExceededError(
  policy: string,
  numbers: BudgetNumbers,
  model: string | undefined,
): BudgetExceededError {
  const estimate = numbers.estimatedCallUsd ? ` (estimated at up to ${usd(numbers.estimatedCallUsd)})` : '';
  return new BudgetExceededError(
    `${PREFIX} policy "${policy}": ${numbers.period} budget exceeded: ${usd(numbers.spentUsd)} spent of ${usd(numbers.limitUsd)} ` +
      `(period ${numbers.periodStart} → ${numbers.periodEnd}). The call to ${model ?? 'the model'}${estimate} was not sent. ` +
      `Raise budget.usd in the policy file, set on_exceeded: downgrade with a cheaper downgrade_to, or wait for the next period.`,
    policy,
    numbers,
  );
}

export function budgetBusyError(
  policy: string,
  numbers: BudgetNumbers,
  model: string | undefined,
  retryAfterSeconds: number,
  unanswered = false,
): BudgetBusyError {
  const estimate = numbers.estimatedCallUsd ? ` (estimated at up to ${usd(numbers.estimatedCallUsd)})` : '';
  const why = unanswered
    ? `and the collector at ${collectorUrlForMessages()} did not answer this process's request for more of it in time`
    : `and what is left is held by calls in flight (in this or other processes) or spend not yet recorded`;
  return new BudgetBusyError(
    `${PREFIX} policy "${policy}": ${numbers.period} budget busy: ${usd(numbers.spentUsd)} spent of ${usd(numbers.limitUsd)}, ` +
      `${why}. ` +
      `The call to ${model ?? 'the model'}${estimate} was not sent. Retry in ~${retryAfterSeconds} s: ` +
      `the budget is not exceeded.`,
    policy,
    numbers,
    retryAfterSeconds,
  );
}

/** TOKENLEDGER_GUARD_FAIL=closed and the collector gave no first answer within the wait. */
export function notYetAnsweredError(waitMs: number, url: string): CollectorUnreachableError {
  return new CollectorUnreachableError(
    `${PREFIX} the collector at ${url} gave this process no policy state within ${waitMs} ms and TOKENLEDGER_GUARD_FAIL=closed, ` +
      `so AI calls are blocked until it answers; the call was not sent. Check the collector (GET /healthz) and TOKENLEDGER_URL, ` +
      `or unset TOKENLEDGER_GUARD_FAIL to allow calls while it is unreachable.`,
  );
}

export function unreachableError(sinceSeconds: number, url: string): CollectorUnreachableError {
  return new CollectorUnreachableError(
    `${PREFIX} the collector at ${url} has not answered for ${sinceSeconds} s and the policy file says fail: closed, ` +
      `so AI calls are blocked until it answers; the call was not sent. Check the collector (GET /healthz), ` +
      `or set fail: open to allow calls while it is unreachable.`,
  );
}

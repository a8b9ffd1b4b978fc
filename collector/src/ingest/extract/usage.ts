/**
 * Calls whose producer recorded no token usage. Every successful LLM call bills tokens, so a call
 * that reports none (OpenLLMetry 0.27 and OpenInference on streamed OpenAI completions, any
 * instrumentation on a stream whose usage was not requested) has unknown cost, not zero cost: the
 * pricer stores it unpriced, so it shows in the "unpriced" share instead of understating spend.
 * Failed and blocked calls are exempt: the provider bills no tokens for them; streams the app
 * cancelled or aborted are not (the provider bills what it generated until then).
 */
import { ENFORCEMENT_BLOCKED, ERROR_TYPE_ABORTED, ERROR_TYPE_CANCELLED } from 'tokenledger/semconv';
import type { ExtractedCall } from '../../core/call';

/** The extra the pricer reads on a call: the producer reported no (valid) token usage for it. */
/** The extra the pricer reads on a call: whether it came back from a provider's batch API. */
export interface BatchFlag {
  batch?: boolean;
}

export interface UsageFlag {
  usageMissing?: boolean;
  /** Why the usage was invalid (a usage attribute held no token count), for the sender. */
  invalidUsage?: string;
}

export function isUsageMissing(
  c: Pick<ExtractedCall, 'inputTokens' | 'outputTokens' | 'errorType' | 'enforcement'>,
): boolean {
  return (
    c.inputTokens === 0 &&
    c.outputTokens === 0 &&
    (c.errorType === '' || c.errorType === ERROR_TYPE_CANCELLED || c.errorType === ERROR_TYPE_ABORTED) &&
    c.enforcement !== ENFORCEMENT_BLOCKED
  );
}

/**
 * What every provider patch does around the policy guard (see ../../guard/hook.ts for the contract).
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { guardActive, guardCall, type GuardedCall, type GuardVerdict } from '../../guard/hook';
import { isPolicyError } from '../../errors';
import { checkApprovalGrant, hasGrants } from '../../approvals/grant';
import { ATTR_TL_APPROVAL_ID, ATTR_TL_ENFORCEMENT, ATTR_TL_POLICY, ENFORCEMENT_BLOCKED } from '../../semconv';
import { endSpan, recordError } from './call-span';

export type GuardOutcome =
  { blocked: Error; verdict?: undefined } | { blocked?: undefined; verdict: GuardVerdict | undefined };

const ALLOWED: GuardOutcome = { verdict: undefined };

/**
 * Runs the guard for one call whose span has been started with `attributes`. On a block the span is
 * ended (enforcement=blocked, error.type = the error's class) and the error returned for the patch to
 * surface; on allow the verdict's attributes are already on the span. The guard's own failures
 * (anything but a PolicyError) allow the call: tokenledger never breaks the app.
 */
export function runGuard(
  span: Span,
  provider: string,
  operation: string,
  model: string | undefined,
  maxTokens: number | undefined,
  attributes: Attributes,
): GuardOutcome {
  const approvalId = hasGrants() ? attributes[ATTR_TL_APPROVAL_ID] : undefined;
  if (approvalId === undefined && !guardActive()) return ALLOWED;
  let verdict: GuardVerdict | undefined;
  try {
    // An approved job whose approved amount is spent: blocked whatever the policies say.
    if (typeof approvalId === 'string') checkApprovalGrant(approvalId, model, provider);
    if (guardActive()) {
      const call: GuardedCall = { provider, operation, model, maxTokens, attributes };
      verdict = guardCall(call);
    }
  } catch (err) {
    if (!isPolicyError(err)) return ALLOWED;
    try {
      span.setAttribute(ATTR_TL_ENFORCEMENT, ENFORCEMENT_BLOCKED);
      if (err.policy !== undefined) span.setAttribute(ATTR_TL_POLICY, err.policy);
      recordError(span, err.name, err.message);
    } catch {
      // ignore
    }
    endSpan(span);
    return { blocked: err };
  }
  if (verdict?.attributes) span.setAttributes(verdict.attributes);
  return { verdict };
}

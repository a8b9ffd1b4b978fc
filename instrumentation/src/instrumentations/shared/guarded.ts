/**
 * What every provider patch does around the policy guard (see ../../guard/hook.ts for the contract).
 */
import type { Attributes, Span } from '@opentelemetry/api';
import {
  guardActive,
  guardCall,
  PendingVerdict,
  type GuardDecision,
  type GuardedCall,
  type GuardVerdict,
} from '../../guard/hook';
import { isPolicyError, type PolicyError } from '../../errors';
import { checkApprovalGrant, hasGrants } from '../../approvals/grant';
import { ATTR_TL_APPROVAL_ID } from '../../semconv';
import { endSpan, markBlocked } from './call-span';

export type GuardOutcome =
  | { blocked: Error; verdict?: undefined; pending?: undefined }
  | { blocked?: undefined; verdict: GuardVerdict | undefined; pending?: undefined }
  /**
   * The guard waits (bounded) before it decides: the promise resolves to the verdict (its
   * attributes already on the span) or rejects with the PolicyError (the span marked blocked, not
   * ended: the patch ends it with the call, see `CallSpan.fail`, or with `endBlocked`). It never
   * rejects with anything else, and it is handled: a patch that drops it loses nothing.
   */
  | { blocked?: undefined; verdict?: undefined; pending: Promise<GuardVerdict | undefined> };

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
  let decision: GuardDecision;
  try {
    // An approved job whose approved amount is spent: blocked whatever the policies say.
    if (typeof approvalId === 'string') checkApprovalGrant(approvalId, model, provider);
    if (guardActive()) {
      const call: GuardedCall = { provider, operation, model, maxTokens, attributes, span };
      decision = guardCall(call);
    }
  } catch (err) {
    if (!isPolicyError(err)) return ALLOWED;
    endBlocked(span, err);
    return { blocked: err };
  }
  if (decision instanceof PendingVerdict) return { pending: pendingOutcome(span, decision.promise) };
  if (decision?.attributes) span.setAttributes(decision.attributes);
  return { verdict: decision };
}

function pendingOutcome(
  span: Span,
  promise: Promise<GuardVerdict | undefined>,
): Promise<GuardVerdict | undefined> {
  const settled = promise.then(
    (verdict) => {
      try {
        if (verdict?.attributes) span.setAttributes(verdict.attributes);
      } catch {
        // ignore
      }
      return verdict;
    },
    (err: unknown) => {
      if (!isPolicyError(err)) return undefined;
      markBlocked(span, err);
      throw err;
    },
  );
  settled.catch(() => undefined);
  return settled;
}

/** Ends the span of a call the guard blocked before anything was sent. */
function endBlocked(span: Span, err: PolicyError): void {
  markBlocked(span, err);
  endSpan(span);
}

/**
 * For SDK methods that return a plain promise: `proceed(verdict)` (the method called with the
 * verdict applied) once the pending verdict resolves; a block rejects with the PolicyError, the span
 * ended as blocked. The app gets a native promise either way, as the SDK's own method returns.
 */
export function afterVerdict(
  pending: Promise<GuardVerdict | undefined>,
  span: Span,
  proceed: (verdict: GuardVerdict | undefined) => unknown,
): Promise<unknown> {
  return pending.then(proceed, (err: Error) => {
    endSpan(span);
    throw err;
  });
}

/**
 * How much of a budget one lease request may get: every rule the collector applies to a grant, in
 * one pure function, so a later design (one owner per budget, a ledger shared by several
 * collectors) can move them without rewriting them. Money is Decimal; nothing here reads a clock.
 *
 *   remaining = limit − stored spend (the figure, and lease calls stored since it began)
 *   available = remaining − Σ held     held: an open lease's grants less what was given back and
 *                                      what is stored; a closed one's reported spend not stored yet
 *
 * - Each grant is at most 10 % of the limit (or the one call that needs more).
 * - While a call waits (a need was refused lately), a background top-up leaves what it needs.
 * - While other keys hold leases on the budget, a key holds at most half of what the others do not
 *   hold: one key cannot starve the others. A key alone (the one-team setup) is not limited by it.
 * - A request with a need (a call waiting) gets at least that, or nothing and the reason: `exceeded`
 *   when the stored spend has reached the limit, else `busy`, except for the last call: when
 *   nothing at all is held and money remains, the need is granted even if it is more than what
 *   remains (the only overshoot the collector grants: less than that one call).
 */
import { Money, ZERO } from '../../core/money';

const GRANT_SHARE_OF_LIMIT = new Money('0.1');
const KEY_SHARE_OF_FREE = new Money('0.5');

export interface GrantInput {
  limit: Money;
  /** Stored and accepted spend of the period (the last figure): a lower bound of what is spent. */
  spent: Money;
  /** Calls of leases stored since that figure began (not in it yet, or counted twice for a moment). */
  landedSince: Money;
  /** Held by every lease of the period (slices, calls in flight, spend reported and not stored). */
  held: Money;
  /** Held by the requesting key's leases, and by other keys'. */
  keyHeld: Money;
  othersHeld: Money;
  /** Whether other keys hold leases on this period. */
  otherKeys: boolean;
  requested: Money;
  /** The least that is of use (a waiting call's shortfall); zero for a background top-up. */
  need: Money;
  /** A call's need refused lately (zero when none): a background top-up leaves that much. */
  waitingNeed?: Money;
}

export type GrantDecision = { grant: Money; state: 'ok' } | { grant: Money; state: 'busy' | 'exceeded' };

export function decideGrant(i: GrantInput): GrantDecision {
  const exceeded = i.spent.gte(i.limit);
  const remaining = i.limit.minus(i.spent).minus(i.landedSince);
  let room = Money.min(remaining.minus(i.held), Money.max(i.limit.times(GRANT_SHARE_OF_LIMIT), i.need));
  if (i.otherKeys)
    room = Money.min(room, remaining.minus(i.othersHeld).times(KEY_SHARE_OF_FREE).minus(i.keyHeld));
  // While a call waits, a top-up leaves what it needs: taking the last dollars into a slice with no
  // call to spend them would keep the waiting call — and the last call — waiting for them back.
  if (i.need.isZero() && i.waitingNeed?.gt(0))
    room = Money.min(room, remaining.minus(i.held).minus(i.waitingNeed));
  const grant = Money.max(Money.min(Money.max(i.requested, i.need), room), ZERO);
  if (i.need.isZero() || grant.gte(i.need)) {
    return { grant: exceeded ? ZERO : grant, state: exceeded ? 'exceeded' : 'ok' };
  }
  if (exceeded) return { grant: ZERO, state: 'exceeded' };
  // The last call: nothing is held (no call in flight, nothing unstored), so what remains is exactly known.
  if (i.held.isZero() && remaining.gt(0)) return { grant: i.need, state: 'ok' };
  return { grant: ZERO, state: 'busy' };
}

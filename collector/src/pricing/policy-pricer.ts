/**
 * Wires the policy file's `pricing.overrides` into pricing. The collector holds one
 * PolicyPricer for its lifetime; a policy reload swaps the Pricer inside it, so ingestion and
 * estimates pick up new overrides without being rebuilt.
 */
import type { PolicyFile } from 'tokenledger/policy';
import type { PricedCall } from '../core/call';
import { Pricer, type PriceOverride } from './pricer';

function priceOverridesOf(policy: PolicyFile | undefined): PriceOverride[] {
  return (policy?.pricing?.overrides ?? []).map((o) => ({ ...o }));
}

/** Throws PriceOverrideError for an override the Pricer cannot use. */
function pricerFor(policy: PolicyFile | undefined): Pricer {
  return new Pricer({ overrides: priceOverridesOf(policy) });
}

export class PolicyPricer extends Pricer {
  private current: Pricer;

  constructor(policy?: PolicyFile) {
    super();
    this.current = pricerFor(policy);
  }

  /** Builds the new Pricer first: an override it cannot use leaves the current one in place. */
  use(policy: PolicyFile | undefined): void {
    this.current = pricerFor(policy);
  }

  /** Same parameter as Pricer.price (flags such as a batch call pass through untouched). */
  override price(call: Parameters<Pricer['price']>[0]): PricedCall {
    return this.current.price(call);
  }
}

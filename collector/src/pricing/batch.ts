/**
 * Batch-API discounts: providers bill requests submitted through their batch APIs at a fraction of
 * the list price, and the catalog (genai-prices) carries list prices only. A call flagged `batch`
 * is priced at list × (1 − discount) for every unit (input, cache reads and writes, output).
 *
 * Keyed by the catalog's provider id (or the span's normalised provider). Sources:
 *   anthropic  50 % — Message Batches API, https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing
 */
import { Money } from '../core/money';

const BATCH_DISCOUNTS: Readonly<Record<string, string>> = {
  anthropic: '0.5',
};

const ONE = new Money(1);
const FACTORS = new Map(Object.entries(BATCH_DISCOUNTS).map(([p, d]) => [p, ONE.minus(new Money(d))]));

/** The multiplier for a batch call of `providers` (first known wins), or undefined when none applies. */
export function batchFactor(...providers: string[]): Money | undefined {
  for (const p of providers) {
    const f = FACTORS.get(p);
    if (f) return f;
  }
  return undefined;
}

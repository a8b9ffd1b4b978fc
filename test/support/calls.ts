/** Builds collector call records for tests: every field defaulted, only what a test cares about given. */
import { callToPrice, emptyAttribution } from '../../collector/src/core/call-builder';
import type { CallAttribution, ExtractedCall, PricedCall } from '../../collector/src/core/call';

/** Nanoseconds since the epoch of an instant, as the decimal string the call records carry. */
export function nanos(at: string | Date, extra = 0n): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return (BigInt(ms) * 1_000_000n + extra).toString();
}

export function extractedCall(
  over: Partial<Omit<ExtractedCall, 'attribution'>> = {},
  attribution: Partial<CallAttribution> = {},
): ExtractedCall {
  // The collector's own empty call, with the ids, time and duration a span would give it.
  return callToPrice('openai', 'gpt-4o', 'tokenledger', {
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    startTimeUnixNano: nanos('2025-09-01T12:00:00Z'),
    durationMs: 100,
    ...over,
    attribution: { ...emptyAttribution(), ...attribution },
  });
}

/** A call as the pricer would leave it, with the given (already computed) money. */
export function pricedCall(
  over: Partial<Omit<PricedCall, 'attribution'>> = {},
  attribution: Partial<CallAttribution> = {},
): PricedCall {
  return {
    ...extractedCall(over, attribution),
    costUsd: '0',
    inputCostUsd: '0',
    outputCostUsd: '0',
    priced: false,
    pricedProvider: '',
    pricedModel: '',
    ...over,
    attribution: { ...emptyAttribution(), ...attribution },
  };
}

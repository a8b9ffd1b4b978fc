/** Builds collector call records for tests: every field defaulted, only what a test cares about given. */
import { emptyAttribution } from '../../collector/src/call-builder';
import type { CallAttribution, ExtractedCall, PricedCall } from '../../collector/src/model';

/** Nanoseconds since the epoch of an instant, as the decimal string the call records carry. */
export function nanos(at: string | Date, extra = 0n): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return (BigInt(ms) * 1_000_000n + extra).toString();
}

export function extractedCall(
  over: Partial<Omit<ExtractedCall, 'attribution'>> = {},
  attribution: Partial<CallAttribution> = {},
): ExtractedCall {
  return {
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    startTimeUnixNano: nanos('2025-09-01T12:00:00Z'),
    durationMs: 100,
    provider: 'openai',
    operation: 'chat',
    requestModel: 'gpt-4o',
    responseModel: '',
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    streaming: false,
    errorType: '',
    serverAddress: '',
    enforcement: '',
    source: 'tokenledger',
    ...over,
    attribution: { ...emptyAttribution(), ...attribution },
  };
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

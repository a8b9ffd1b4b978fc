/**
 * Calls the collector prices without a span behind them (estimates, the guard's per-model price
 * samples): every field empty or zero, started now, so only what the caller sets counts.
 */
import { ATTRIBUTION_TABLE, type AttributionTableField } from 'tokenledger/semconv';
import { recordField, type CallAttribution, type ExtractedCall } from './call';

/** No cost-center attribution at all. */
export function emptyAttribution(): CallAttribution {
  const none = Object.keys(ATTRIBUTION_TABLE).map((f) => [recordField(f as AttributionTableField), '']);
  return Object.fromEntries(none) as CallAttribution;
}

/** A chat call of `model` with no tokens, no trace and no attribution; `over` sets the rest. */
export function callToPrice(
  provider: string,
  model: string,
  source: string,
  over: Partial<ExtractedCall> = {},
): ExtractedCall {
  return {
    traceId: '',
    spanId: '',
    startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
    durationMs: 0,
    provider,
    operation: 'chat',
    requestModel: model,
    responseModel: '',
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: 0,
    streaming: false,
    errorType: '',
    serverAddress: '',
    enforcement: '',
    source,
    attribution: emptyAttribution(),
    ...over,
  };
}

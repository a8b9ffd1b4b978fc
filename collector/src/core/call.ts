/**
 * The collector's record of one LLM call, as it flows receiver → extraction → pricing → storage.
 */
import type { AttributionTableField } from 'tokenledger/semconv';

/**
 * Cost-center attribution of a call, merged from resource, span attributes and baggage: one string
 * per field of the SDK's attribution table ('' when absent). The record names the end user
 * `endUser` (the table's `user`, column end_user).
 */
export type CallAttribution = { [F in AttributionTableField as RecordField<F>]: string };

type RecordField<F extends AttributionTableField> = F extends 'user' ? 'endUser' : F;

/** A field of the attribution table as the call record names it. */
export function recordField<F extends AttributionTableField>(field: F): RecordField<F> {
  return (field === 'user' ? 'endUser' : field) as RecordField<F>;
}

/** A GenAI call recognised in a span, before pricing. Token counts follow the span contract. */
export interface ExtractedCall {
  traceId: string; // 32 lowercase hex
  spanId: string; // 16 lowercase hex
  /** Span start, nanoseconds since the epoch, as a decimal string (exceeds 2^53). */
  startTimeUnixNano: string;
  durationMs: number;
  provider: string; // gen_ai.provider.name, normalised (openai, anthropic, ...)
  operation: string; // gen_ai.operation.name
  requestModel: string;
  /** The model the app asked for when the guard downgraded the call (`tokenledger.original_model`); absent otherwise. */
  askedModel?: string;
  responseModel: string;
  /** Total input tokens, cache reads and writes included. */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens written to a 1-hour cache (≤ cacheWriteTokens). */
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  streaming: boolean;
  errorType: string; // '' when the call succeeded
  serverAddress: string;
  enforcement: string; // tokenledger.enforcement, '' when absent
  /** The producing service's version (resource service.version). */
  serviceVersion?: string;
  /**
   * The service tier the provider says served the call (`openai.response.service_tier`,
   * `anthropic.response.service_tier`), lower case; absent when the span does not say.
   */
  serviceTier?: string;
  /** Which instrumentation produced the span (its scope name). */
  source: string;
  attribution: CallAttribution;
  /**
   * Set on a call that replaces a poorer record of the same call stored earlier (a twin from
   * another producer): it carries that record's row key (trace, span, start time), so storage
   * writes it over the stored row instead of dropping it as already stored.
   */
  replacesStored?: true;
  /** A text value was longer than the collector stores and was cut (the row's `truncated` flag). */
  truncated?: boolean;
  /** The budget leases the guard reserved the call's cost from (`tokenledger.leases`), if any. */
  leaseIds?: string[];
}

/** A call after pricing. Money is a decimal string (never a float). */
export interface PricedCall extends ExtractedCall {
  /** USD cost as an exact decimal string; '0' when unpriced. */
  costUsd: string;
  inputCostUsd: string;
  outputCostUsd: string;
  priced: boolean;
  /** The catalog's provider and model id the price came from; '' when unpriced. */
  pricedProvider: string;
  pricedModel: string;
  /** The name of the ingest key that sent the span (set by the receiver). */
  ingestKey?: string;
  /** That key's scope (`team=search`), '' when unscoped. */
  ingestKeyScope?: string;
  /**
   * Attribution the span claimed outside its key's scope, as JSON (`{"team":"billing"}`): the call
   * is recorded under the scope instead. Absent when the span stayed within it.
   */
  claimedAttribution?: string;
}

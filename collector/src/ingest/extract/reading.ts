import type { Attributes, OtlpSpan } from '../otlp/types';

/** What one convention's reader found in a span, before the provider quirks are normalised. */
export interface Reading {
  /** Which convention read it, for debugging and tests. */
  convention: 'gen_ai' | 'openinference' | 'vercel_ai';
  /** The provider as the producer spelled it (normalised later). */
  provider: string;
  operation: string;
  requestModel: string;
  responseModel: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens written to a 1-hour cache (priced higher where the catalog says so). */
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  streaming: boolean;
  /**
   * Whether `inputTokens` already includes cache reads and writes: true (the span contract),
   * false (the producer copied Anthropic's raw `input_tokens`), or undefined (unknown).
   */
  inputIncludesCache: boolean | undefined;
  /** Usage attributes present but holding no valid count (`key=value`): the call's cost is unknown. */
  invalidCounts: string[];
}

/** What a reader sees besides the span. */
export interface SpanContext {
  scopeName: string;
  resource: Attributes;
}

/**
 * A per-convention reader: a Reading when the span is an LLM call in its convention, 'skip'
 * when the convention recognises the span as GenAI but not a billable call of its own (e.g. an
 * outer span that repeats its children's usage), null when the span is not in its convention.
 */
export type Reader = (span: OtlpSpan, ctx: SpanContext) => Reading | 'skip' | null;

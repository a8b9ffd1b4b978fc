/** Decoded OTLP request → priced GenAI calls: extraction, then pricing. Pure; no I/O. */
import { extractCalls } from '../extract/extract';
import { aiHostsFromEnv, type AiHostTable } from '../inventory/ai-hosts';
import type { AiHttpCall } from '../inventory/model';
import { findUninstrumentedAiCalls } from '../inventory/shadow';
import type { PricedCall } from '../model';
import type { OtlpTraceRequest } from '../otlp/types';
import type { Pricer } from '../pricing/pricer';

export interface IngestResult {
  calls: PricedCall[];
  /** All spans in the request (rejected ones excluded). */
  spans: number;
  /** Spans recognised as GenAI calls (= calls.length). */
  genaiSpans: number;
  /** GenAI spans that are not billable calls (outer SDK spans, tool executions, ...). */
  skippedGenaiSpans: number;
  /** Spans of no GenAI convention (HTTP, DB, ...). */
  nonGenaiSpans: number;
  /** HTTP requests to AI APIs that no GenAI span covered (stored with the calls). */
  aiHttpCalls: AiHttpCall[];
  /** Calls whose model the catalog and overrides do not know (stored with cost 0, flagged). */
  unpricedCalls: number;
  /** Spans the decoder rejected (bad ids); for the OTLP partial-success response. */
  rejectedSpans: number;
  errorMessage: string;
}

export function processTraceRequest(
  req: OtlpTraceRequest,
  pricer: Pricer,
  aiHosts: AiHostTable = aiHostsFromEnv(),
): IngestResult {
  const extracted = extractCalls(req);
  const aiHttpCalls = findUninstrumentedAiCalls(req, extracted.genaiSpans, aiHosts);
  const calls = extracted.calls.map((c) => pricer.price(c));
  let unpriced = 0;
  for (const c of calls) if (!c.priced) unpriced++;
  return {
    calls,
    spans: extracted.spans,
    genaiSpans: calls.length,
    skippedGenaiSpans: extracted.skippedGenaiSpans,
    nonGenaiSpans: extracted.nonGenaiSpans,
    aiHttpCalls,
    unpricedCalls: unpriced,
    rejectedSpans: req.rejectedSpans,
    errorMessage: req.errorMessage,
  };
}

/** Decoded OTLP request → priced GenAI calls: extraction, then pricing. Pure; no I/O. */
import { extractCalls } from '../extract/extract';
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
  /** Spans of no GenAI convention (HTTP, DB, ...), ignored for now. */
  nonGenaiSpans: number;
  /** Calls whose model the catalog and overrides do not know (stored with cost 0, flagged). */
  unpricedCalls: number;
  /** Spans the decoder rejected (bad ids); for the OTLP partial-success response. */
  rejectedSpans: number;
  errorMessage: string;
}

export function processTraceRequest(req: OtlpTraceRequest, pricer: Pricer): IngestResult {
  const extracted = extractCalls(req);
  const calls = extracted.calls.map((c) => pricer.price(c));
  let unpriced = 0;
  for (const c of calls) if (!c.priced) unpriced++;
  return {
    calls,
    spans: extracted.spans,
    genaiSpans: calls.length,
    skippedGenaiSpans: extracted.skippedGenaiSpans,
    nonGenaiSpans: extracted.nonGenaiSpans,
    unpricedCalls: unpriced,
    rejectedSpans: req.rejectedSpans,
    errorMessage: req.errorMessage,
  };
}

/**
 * Decoded OTLP request → priced GenAI calls and uninstrumented AI requests: extraction (against
 * the trace window, so that spans of one call split over several export requests are still
 * recognised), then pricing. No I/O; the window is the only state.
 */
import { extractCalls } from './extract/extract';
import { aiHostsFromEnv, type AiHostTable } from './shadow/ai-hosts';
import type { AiHttpCall } from '../core/ai-http-call';
import { findUninstrumentedAiCalls } from './shadow/shadow';
import type { ExtractedCall, PricedCall } from '../core/call';
import type { OtlpTraceRequest } from './otlp/types';
import type { BatchFlag, UsageFlag } from './extract/usage';
import { coveredLater } from './shadow/covered-later';
import { TraceWindow } from './trace-window';
import { capAiHttpCall, DEFAULT_MAX_VALUE_LENGTH } from './value-cap';

export interface IngestResult {
  calls: PricedCall[];
  /** All spans in the request (rejected ones excluded). */
  spans: number;
  /** Spans recognised as GenAI calls (= calls.length). */
  genaiSpans: number;
  /**
   * GenAI spans that are not billable calls (outer SDK spans, tool executions, ...), and call
   * spans repeating a call another span (of this or an earlier request) records.
   */
  skippedGenaiSpans: number;
  /** Spans of no GenAI convention (HTTP, DB, ...). */
  nonGenaiSpans: number;
  /**
   * HTTP requests to AI APIs that no GenAI span covered (stored with the calls), and requests
   * recorded by earlier exports that a GenAI span of this one covers (`coveredLater`: deleted).
   */
  aiHttpCalls: AiHttpCall[];
  /**
   * Calls (among `calls`) that replace a poorer record of the same call stored earlier: a richer
   * twin from another producer, written over the stored row.
   */
  replacingCalls: number;
  /** Calls stored unpriced: a model the catalog and overrides do not know, or no usage reported. */
  unpricedCalls: number;
  /** Spans the decoder rejected (bad ids or timestamps); for the OTLP partial-success response. */
  rejectedSpans: number;
  /** Why spans were rejected, and warnings on accepted ones (invalid token counts); '' if none. */
  errorMessage: string;
  /** Rows (calls and uninstrumented AI requests) with a value cut to the cap (./value-cap.ts). */
  truncatedRows: number;
}

export interface IngestOptions {
  /** The longest text a row stores (default DEFAULT_MAX_VALUE_LENGTH); longer ones are cut and flagged. */
  maxValueLength?: number;
  /** Known AI API hosts (default: the built-in table and TOKENLEDGER_AI_HOSTS). */
  aiHosts?: AiHostTable;
  /** What earlier requests brought (default: one window per pricer). */
  window?: TraceWindow;
}

/**
 * What prices the extracted calls: the pricing stage's Pricer, handed in by the receiver (ingest
 * sits before pricing in the flow and does not import it).
 */
export interface CallPricer {
  price(call: ExtractedCall & BatchFlag & UsageFlag): PricedCall;
}

/**
 * One window per pricer, i.e. per collector app: the receiver hands the pipeline its long-lived
 * pricer, so the app's requests share a window while separate apps (and tests) do not.
 */
const windows = new WeakMap<CallPricer, TraceWindow>();

function traceWindowFor(pricer: CallPricer): TraceWindow {
  let window = windows.get(pricer);
  if (!window) windows.set(pricer, (window = new TraceWindow()));
  return window;
}

export function processTraceRequest(
  req: OtlpTraceRequest,
  pricer: CallPricer,
  options: IngestOptions = {},
): IngestResult {
  const maxValueLength = options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH;
  const window = options.window ?? traceWindowFor(pricer);
  const extracted = extractCalls(req, (traceId) => window.priorCalls(traceId), maxValueLength);
  const shadow = findUninstrumentedAiCalls(
    req,
    extracted.genaiSpans,
    options.aiHosts ?? aiHostsFromEnv(),
    (traceId) => window.genaiSpans(traceId),
  );
  let truncatedRows = 0;
  for (const c of shadow) if (capAiHttpCall(c, maxValueLength)) truncatedRows++;
  for (const c of extracted.calls) if (c.truncated) truncatedRows++;
  const retracted = coveredLater(extracted.genaiSpans, (t) => window.shadowCalls(t));
  window.rememberCalls(extracted.seenCalls);
  window.rememberGenAiSpans(extracted.genaiSpans);
  window.rememberShadowCalls(shadow);
  const calls = extracted.calls.map((c) => pricer.price(c));
  let unpriced = 0;
  for (const c of calls) if (!c.priced) unpriced++;
  return {
    calls,
    spans: extracted.spans,
    genaiSpans: calls.length,
    skippedGenaiSpans: extracted.skippedGenaiSpans,
    nonGenaiSpans: extracted.nonGenaiSpans,
    aiHttpCalls: [...shadow, ...retracted],
    unpricedCalls: unpriced,
    replacingCalls: extracted.replacingCalls,
    rejectedSpans: req.rejectedSpans,
    // OTLP partial success carries warnings too: rejected_spans 0 with a non-empty error_message.
    errorMessage: [req.errorMessage, extracted.invalidUsage.message].filter((m) => m !== '').join('; '),
    truncatedRows,
  };
}

/**
 * Recognising GenAI calls in decoded OTLP spans and normalising them to the span contract.
 *
 * Each producer convention has a small reader (./readers); the first that claims a span wins:
 * Vercel AI SDK first (its provider-call spans also carry gen_ai.* names, and its outer spans
 * must be skipped whatever else they carry), then OpenInference, then the GenAI semantic
 * conventions (ours, contrib, OpenLLMetry, OpenLIT).
 */
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_SYSTEM_DEPRECATED,
  ATTR_SERVER_ADDRESS,
  ATTR_TL_ENFORCEMENT,
  ATTR_TL_ORIGINAL_MODEL,
  ATTR_ANTHROPIC_MESSAGE_BATCH_ID,
  ATTR_ANTHROPIC_RESPONSE_SERVICE_TIER,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  ATTR_TL_LEASES,
  ATTR_TL_USAGE_DEFERRED,
} from 'tokenledger/semconv';
import type { ExtractedCall } from '../../core/call';
import type { OtlpSpan, OtlpTraceRequest } from '../otlp/types';
import { STATUS_CODE_ERROR } from '../otlp/types';
import { Reasons } from '../otlp/normalize';
import { boolAttr, strAttr } from './attrs';
import { attributionOf } from './attribution';
import { applyCallKey, callKeyOf, type CallKey } from './call-key';
import { normaliseProvider, providerFromHost } from '../../core/providers';
import { readGenAi } from './readers/gen-ai';
import { readOpenInference } from './readers/openinference';
import { readVercelAi } from './readers/vercel-ai';

/** Resource attribute of the OpenTelemetry semantic conventions. */
const ATTR_SERVICE_VERSION = 'service.version';
import type { Reader, Reading, SpanContext } from './reading';
import { dropRepeats, noPriorCalls, type CallCandidate, type PriorCall, type PriorCalls } from './repeats';
import { isUsageMissing, type BatchFlag, type UsageFlag } from './usage';
import { capCall, capText, DEFAULT_MAX_VALUE_LENGTH } from '../value-cap';

const READERS: Reader[] = [readVercelAi, readOpenInference, readGenAi];

/** A call falls under a few budgets; a longer list is not a guard's. */
const MAX_LEASES_PER_CALL = 32;
/** A tier name is a short enum value; anything longer is cut rather than stored whole. */
const MAX_TIER_LENGTH = 32;

/** Scope-name prefix of tokenledger's own instrumentation, whose spans follow the contract exactly. */
const TOKENLEDGER_SCOPE_PREFIX = 'tokenledger';

/** Where a GenAI span sits in its trace: what tells HTTP spans it already covered apart from shadow ones. */
export interface GenAiSpanRef {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** Normalised provider, '' when the span does not say. */
  provider: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

export interface ExtractResult {
  calls: (ExtractedCall & UsageFlag)[];
  /** All spans in the request. */
  spans: number;
  /**
   * GenAI spans that are not billable calls themselves (outer SDK spans, tool executions, ...),
   * and call spans that repeat a call another producer's span already records.
   */
  skippedGenaiSpans: number;
  /** Every GenAI span recognised (calls, repeats and skipped ones). */
  genaiSpans: GenAiSpanRef[];
  /** Spans no convention recognised (HTTP, DB, ...), ignored for now. */
  nonGenaiSpans: number;
  /** Every call span of the request, for recognising its repeats in later requests. */
  seenCalls: PriorCall[];
  /** Kept calls that replace a poorer record of the same call stored earlier (see ./repeats). */
  replacingCalls: number;
  /**
   * Calls kept unpriced because a usage attribute held no valid token count, and why (the first
   * of them), for the sender: an OTLP partial-success warning.
   */
  invalidUsage: { calls: number; message: string };
}

/**
 * `priorCalls`: the call spans earlier requests brought in the same traces (see ./repeats).
 * `maxValueLength`: the longest text a call stores (../value-cap.ts); longer ones are cut and flagged.
 */
export function extractCalls(
  req: OtlpTraceRequest,
  priorCalls: PriorCalls = noPriorCalls,
  maxValueLength = DEFAULT_MAX_VALUE_LENGTH,
): ExtractResult {
  const candidates: CallCandidate<ExtractedCall & UsageFlag>[] = [];
  const keys = new Map<ExtractedCall, CallKey>();
  const genaiSpans: GenAiSpanRef[] = [];
  let spans = 0;
  let skipped = 0;
  for (const rs of req.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      const ctx: SpanContext = { scopeName: ss.scope.name, resource: rs.resource };
      for (const span of ss.spans) {
        spans++;
        const reading = read(span, ctx);
        if (reading === null) continue;
        const provider = capText(
          reading === 'skip' ? providerOfSkipped(span) : normaliseProvider(reading.provider),
          maxValueLength,
        );
        genaiSpans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId,
          provider,
          startTimeUnixNano: span.startTimeUnixNano,
          endTimeUnixNano: span.endTimeUnixNano,
        });
        // A deferred span's usage comes with a later span of the same call (see ATTR_TL_USAGE_DEFERRED).
        if (reading === 'skip' || boolAttr(span.attributes, ATTR_TL_USAGE_DEFERRED) === true) {
          skipped++;
          continue;
        }
        const call = toCall(span, ctx, reading);
        capCall(call, maxValueLength);
        const key = callKeyOf(span.attributes);
        if (key) keys.set(call, key);
        candidates.push({
          call,
          parentSpanId: span.parentSpanId,
          responseId: capText(strAttr(span.attributes, ATTR_GEN_AI_RESPONSE_ID), maxValueLength),
          fromTokenledger: isTokenledger(ctx),
          keyed: key !== undefined,
        });
      }
    }
  }
  // Repeats are found by the spans' own ids (a keyed call may have twins in its trace), then a
  // keyed call takes its key's row identity.
  const { kept, repeats, replacing, seen } = dropRepeats(candidates, priorCalls);
  for (const c of kept) {
    const key = keys.get(c);
    if (key) applyCallKey(c, key);
  }
  const invalid = new Reasons('such call(s)');
  for (const c of kept) if (c.invalidUsage !== undefined) invalid.add(c.invalidUsage);
  return {
    calls: kept,
    spans,
    skippedGenaiSpans: skipped + repeats,
    genaiSpans,
    nonGenaiSpans: spans - genaiSpans.length,
    seenCalls: seen,
    replacingCalls: replacing,
    invalidUsage: { calls: invalid.count, message: invalid.message() },
  };
}

const isTokenledger = (ctx: SpanContext): boolean => ctx.scopeName.startsWith(TOKENLEDGER_SCOPE_PREFIX);

/** A skipped span's provider, when it names one in the GenAI conventions. */
function providerOfSkipped(span: OtlpSpan): string {
  return normaliseProvider(
    strAttr(span.attributes, ATTR_GEN_AI_PROVIDER_NAME, ATTR_GEN_AI_SYSTEM_DEPRECATED),
  );
}

function read(span: OtlpSpan, ctx: SpanContext): Reading | 'skip' | null {
  for (const reader of READERS) {
    const r = reader(span, ctx);
    if (r !== null) return r;
  }
  return null;
}

function toCall(span: OtlpSpan, ctx: SpanContext, r: Reading): ExtractedCall & UsageFlag & BatchFlag {
  const a = span.attributes;
  const serverAddress = strAttr(a, ATTR_SERVER_ADDRESS);
  const tokens = normaliseTokens(r, isTokenledger(ctx));
  const call: ExtractedCall & UsageFlag & BatchFlag = {
    traceId: span.traceId,
    spanId: span.spanId,
    startTimeUnixNano: span.startTimeUnixNano,
    durationMs: durationMs(span.startTimeUnixNano, span.endTimeUnixNano),
    provider: normaliseProvider(r.provider) || providerFromHost(serverAddress),
    operation: r.operation,
    requestModel: r.requestModel || strAttr(a, ATTR_GEN_AI_REQUEST_MODEL),
    responseModel: r.responseModel,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cacheReadTokens: tokens.cacheReadTokens,
    cacheWriteTokens: tokens.cacheWriteTokens,
    cacheWrite1hTokens: tokens.cacheWrite1hTokens,
    reasoningTokens: tokens.reasoningTokens,
    streaming: r.streaming,
    errorType: strAttr(a, ATTR_ERROR_TYPE) || (span.status.code === STATUS_CODE_ERROR ? '_OTHER' : ''),
    serverAddress,
    enforcement: strAttr(a, ATTR_TL_ENFORCEMENT),
    source: ctx.scopeName,
    attribution: attributionOf(a, ctx.resource),
  };
  const asked = strAttr(a, ATTR_TL_ORIGINAL_MODEL);
  if (asked !== '') call.askedModel = asked;
  const leases = strAttr(a, ATTR_TL_LEASES);
  if (leases !== '') call.leaseIds = leases.split(',').slice(0, MAX_LEASES_PER_CALL);
  const version = strAttr(ctx.resource, ATTR_SERVICE_VERSION);
  if (version) call.serviceVersion = version;
  // The tier the provider served the call on: reconciliation explains Flex and Priority days with it.
  const tier = (
    strAttr(a, ATTR_OPENAI_RESPONSE_SERVICE_TIER) || strAttr(a, ATTR_ANTHROPIC_RESPONSE_SERVICE_TIER)
  )
    .slice(0, MAX_TIER_LENGTH)
    .toLowerCase();
  if (tier !== '') call.serviceTier = tier;
  if (r.invalidCounts.length > 0) {
    // Garbled usage: the cost is unknown, like a call reporting none (and unlike one reporting 0).
    call.usageMissing = true;
    call.invalidUsage =
      `span '${span.name}' (trace ${span.traceId}, span ${span.spanId}): ${r.invalidCounts.join(', ')}: ` +
      'not a token count (an integer from 0 to 2^53 - 1); the call is stored unpriced';
  } else if (isUsageMissing(call)) call.usageMissing = true;
  // A result read from a provider's batch API: billed at the batch discount (pricing/batch.ts).
  if (a[ATTR_ANTHROPIC_MESSAGE_BATCH_ID] !== undefined) call.batch = true;
  return call;
}

type Tokens = Pick<
  ExtractedCall,
  | 'inputTokens'
  | 'outputTokens'
  | 'cacheReadTokens'
  | 'cacheWriteTokens'
  | 'cacheWrite1hTokens'
  | 'reasoningTokens'
>;

/**
 * The span contract: inputTokens is the TOTAL input, cache reads and writes included.
 * Our own spans already comply and are taken as they are. For other producers the cache tokens
 * are added when the producer is known to copy Anthropic's raw `input_tokens` (OpenLIT; the
 * Vercel AI SDK before v6 with its Anthropic provider), or when the numbers are otherwise
 * inconsistent (input smaller than its cached parts, which no total can be, whatever the
 * provider). A total that merely looks plausible is trusted.
 */
function normaliseTokens(r: Reading, fromTokenledger: boolean): Tokens {
  const cached = r.cacheReadTokens + r.cacheWriteTokens;
  let input = r.inputTokens;
  if (
    !fromTokenledger &&
    (r.inputIncludesCache === false || (r.inputIncludesCache !== true && input < cached))
  ) {
    input += cached;
  }
  return {
    inputTokens: input,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    // A part cannot exceed its whole: an inconsistent span is priced as if all its writes were 1-hour ones.
    cacheWrite1hTokens: Math.min(r.cacheWrite1hTokens, r.cacheWriteTokens),
    reasoningTokens: r.reasoningTokens,
  };
}

/** Span duration in milliseconds, to the microsecond; 0 when the end precedes the start. */
function durationMs(start: string, end: string): number {
  const ns = Number(end) - Number(start);
  return ns > 0 ? Math.round(ns / 1e3) / 1e3 : 0;
}

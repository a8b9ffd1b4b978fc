/**
 * The OpenTelemetry GenAI semantic conventions, current and older names. Our own spans, the
 * official contrib instrumentations, OpenLLMetry and OpenLIT all write these.
 */
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_SYSTEM_DEPRECATED,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS_LEGACY,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_LEGACY,
  ATTR_GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC_SDK,
  ATTR_GEN_AI_USAGE_COMPLETION_TOKENS_DEPRECATED,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_PROMPT_TOKENS_DEPRECATED,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  ATTR_LLM_IS_STREAMING_OPENLLMETRY,
  ATTR_LLM_REQUEST_TYPE_OPENLLMETRY,
  ATTR_GEN_AI_REQUEST_IS_STREAM_OPENLIT,
  ATTR_TELEMETRY_SDK_NAME,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_OPERATION_TEXT_COMPLETION,
} from 'tokenledger/semconv';
import { TokenCounts, boolAttr, hasAny, strAttr } from '../attrs';
import { normaliseProvider, PROVIDER_ANTHROPIC } from '../../../core/providers';
import type { Reader, SpanContext } from '../reading';

const USAGE_KEYS = [
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_PROMPT_TOKENS_DEPRECATED,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_COMPLETION_TOKENS_DEPRECATED,
];

/** gen_ai.operation.name values that never bill a model call by themselves. */
const NON_CALL_OPERATIONS = new Set(['execute_tool', 'create_agent']);

/** OpenLLMetry's `llm.request.type` → gen_ai.operation.name. */
const OPENLLMETRY_REQUEST_TYPES: Record<string, string> = {
  chat: GEN_AI_OPERATION_CHAT,
  completion: GEN_AI_OPERATION_TEXT_COMPLETION,
  embedding: GEN_AI_OPERATION_EMBEDDINGS,
};

export const readGenAi: Reader = (span, ctx) => {
  const a = span.attributes;
  const operation = strAttr(a, ATTR_GEN_AI_OPERATION_NAME);
  const provider = strAttr(a, ATTR_GEN_AI_PROVIDER_NAME, ATTR_GEN_AI_SYSTEM_DEPRECATED);
  const requestModel = strAttr(a, ATTR_GEN_AI_REQUEST_MODEL);
  const responseModel = strAttr(a, ATTR_GEN_AI_RESPONSE_MODEL);
  const hasUsage = hasAny(a, USAGE_KEYS);
  if (operation === '' && !(provider !== '' && (requestModel !== '' || responseModel !== '' || hasUsage))) {
    return null;
  }
  if (NON_CALL_OPERATIONS.has(operation)) return 'skip';
  const requestType = strAttr(a, ATTR_LLM_REQUEST_TYPE_OPENLLMETRY);
  const counts = new TokenCounts(a);
  return {
    convention: 'gen_ai',
    provider,
    operation: operation || OPENLLMETRY_REQUEST_TYPES[requestType] || GEN_AI_OPERATION_CHAT,
    requestModel,
    responseModel,
    inputTokens: counts.get(ATTR_GEN_AI_USAGE_INPUT_TOKENS, ATTR_GEN_AI_USAGE_PROMPT_TOKENS_DEPRECATED) ?? 0,
    outputTokens:
      counts.get(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, ATTR_GEN_AI_USAGE_COMPLETION_TOKENS_DEPRECATED) ?? 0,
    cacheReadTokens:
      counts.get(
        ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_LEGACY,
      ) ?? 0,
    cacheWriteTokens:
      counts.get(
        ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS_LEGACY,
        ATTR_GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC_SDK,
      ) ?? 0,
    cacheWrite1hTokens: counts.get(ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS) ?? 0,
    reasoningTokens: counts.get(ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS) ?? 0,
    streaming:
      boolAttr(
        a,
        ATTR_GEN_AI_REQUEST_STREAM,
        ATTR_LLM_IS_STREAMING_OPENLLMETRY,
        ATTR_GEN_AI_REQUEST_IS_STREAM_OPENLIT,
      ) ?? false,
    inputIncludesCache:
      isOpenLit(ctx) && normaliseProvider(provider) === PROVIDER_ANTHROPIC ? false : undefined,
    // the counts.get() calls above fill it
    invalidCounts: counts.invalid,
  };
};

/**
 * OpenLIT copies Anthropic's raw `input_tokens` (cache reads and writes excluded) into
 * gen_ai.usage.input_tokens; its tracer is `openlit.otel.tracing` and its resource says
 * telemetry.sdk.name=openlit. (OpenLLMetry and the contrib instrumentations already add the
 * cache tokens, as the semantic conventions ask.)
 */
function isOpenLit(ctx: SpanContext): boolean {
  return ctx.scopeName.startsWith('openlit') || strAttr(ctx.resource, ATTR_TELEMETRY_SDK_NAME) === 'openlit';
}

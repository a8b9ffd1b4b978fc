/**
 * The Vercel AI SDK's own telemetry (`experimental_telemetry`, tracer name 'ai').
 *
 * generateText / streamText / generateObject / streamObject / embed / embedMany each record an
 * outer span (`ai.generateText`, ...) that carries the usage summed over all steps, and one inner
 * provider-call span per step (`ai.generateText.doGenerate`, `ai.streamText.doStream`,
 * `ai.embed.doEmbed`, ...). Only the inner spans are calls; the outer ones would double count.
 *
 * Token names by SDK major: v3/v4 `ai.usage.promptTokens` / `completionTokens`; v5
 * `ai.usage.inputTokens` / `outputTokens` / `cachedInputTokens` / `reasoningTokens`; v6 adds
 * `ai.usage.inputTokenDetails.{noCacheTokens,cacheReadTokens,cacheWriteTokens}` and
 * `ai.usage.outputTokenDetails.reasoningTokens`, with inputTokens the total. Before v6 the
 * Anthropic provider reported Anthropic's raw `input_tokens` (cache excluded), with cache writes
 * only in `ai.response.providerMetadata` (anthropic.cacheCreationInputTokens).
 */
import {
  ATTR_AI_MODEL_ID,
  ATTR_AI_MODEL_PROVIDER,
  ATTR_AI_OPERATION_ID,
  ATTR_AI_RESPONSE_MODEL,
  ATTR_AI_RESPONSE_PROVIDER_METADATA,
  ATTR_AI_USAGE_CACHED_INPUT_TOKENS,
  ATTR_AI_USAGE_COMPLETION_TOKENS,
  ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS,
  ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS,
  ATTR_AI_USAGE_INPUT_NO_CACHE_TOKENS,
  ATTR_AI_USAGE_INPUT_TOKENS,
  ATTR_AI_USAGE_OUTPUT_REASONING_TOKENS,
  ATTR_AI_USAGE_OUTPUT_TOKENS,
  ATTR_AI_USAGE_PROMPT_TOKENS,
  ATTR_AI_USAGE_REASONING_TOKENS,
  ATTR_AI_USAGE_TOKENS,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
} from 'tokenledger/semconv';
import { TokenCounts, hasAny, strAttr } from '../attrs';
import { normaliseProvider, PROVIDER_ANTHROPIC } from '../../../core/providers';
import type { Reader } from '../reading';

/** The AI SDK's tracer name, i.e. the instrumentation scope of its spans. */
const VERCEL_AI_SCOPE = 'ai';

const INNER_CALL = /\.(doGenerate|doStream|doEmbed)$/;
const V6_DETAIL_KEYS = [
  ATTR_AI_USAGE_INPUT_NO_CACHE_TOKENS,
  ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS,
  ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS,
];

export const readVercelAi: Reader = (span, ctx) => {
  const a = span.attributes;
  const operationId = strAttr(a, ATTR_AI_OPERATION_ID);
  const isVercel =
    operationId.startsWith('ai.') ||
    (ctx.scopeName === VERCEL_AI_SCOPE && span.name.startsWith('ai.')) ||
    (span.name.startsWith('ai.') && a[ATTR_AI_MODEL_ID] !== undefined);
  if (!isVercel) return null;
  const op = operationId || span.name;
  if (!INNER_CALL.test(op)) return 'skip'; // outer ai.generateText etc., ai.toolCall
  const provider = strAttr(a, ATTR_AI_MODEL_PROVIDER);
  const isEmbed = op.endsWith('.doEmbed');
  const v6 = hasAny(a, V6_DETAIL_KEYS);
  const anthropic = normaliseProvider(provider) === PROVIDER_ANTHROPIC;
  const counts = new TokenCounts(a);
  return {
    convention: 'vercel_ai',
    provider,
    operation: isEmbed ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_CHAT,
    requestModel: strAttr(a, ATTR_AI_MODEL_ID),
    responseModel: strAttr(a, ATTR_AI_RESPONSE_MODEL, ATTR_GEN_AI_RESPONSE_MODEL),
    inputTokens:
      counts.get(
        ATTR_AI_USAGE_INPUT_TOKENS,
        ATTR_AI_USAGE_PROMPT_TOKENS,
        ATTR_GEN_AI_USAGE_INPUT_TOKENS,
        ATTR_AI_USAGE_TOKENS,
      ) ?? 0,
    outputTokens:
      counts.get(
        ATTR_AI_USAGE_OUTPUT_TOKENS,
        ATTR_AI_USAGE_COMPLETION_TOKENS,
        ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      ) ?? 0,
    cacheReadTokens:
      counts.get(ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS, ATTR_AI_USAGE_CACHED_INPUT_TOKENS) ?? 0,
    cacheWriteTokens:
      counts.get(ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS) ??
      (anthropic ? anthropicCacheWrites(a[ATTR_AI_RESPONSE_PROVIDER_METADATA]) : 0),
    cacheWrite1hTokens: 0,
    reasoningTokens: counts.get(ATTR_AI_USAGE_OUTPUT_REASONING_TOKENS, ATTR_AI_USAGE_REASONING_TOKENS) ?? 0,
    streaming: op.endsWith('.doStream'),
    inputIncludesCache: v6 ? true : anthropic ? false : undefined,
    // the counts.get() calls above fill it
    invalidCounts: counts.invalid,
  };
};

/** anthropic.cacheCreationInputTokens from the JSON text of ai.response.providerMetadata (SDK ≤ v5). */
function anthropicCacheWrites(meta: unknown): number {
  if (typeof meta !== 'string' || !meta.includes('cacheCreationInputTokens')) return 0;
  try {
    const parsed = JSON.parse(meta) as { anthropic?: { cacheCreationInputTokens?: unknown } };
    const n = parsed.anthropic?.cacheCreationInputTokens;
    return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  } catch {
    return 0;
  }
}

/** OpenInference (Arize Phoenix): `llm.*` attributes on spans of kind LLM or EMBEDDING. */
import {
  ATTR_OI_EMBEDDING_MODEL_NAME,
  ATTR_OI_LLM_MODEL_NAME,
  ATTR_OI_LLM_PROVIDER,
  ATTR_OI_LLM_SYSTEM,
  ATTR_OI_SPAN_KIND,
  ATTR_OI_TOKEN_COUNT_COMPLETION,
  ATTR_OI_TOKEN_COUNT_COMPLETION_REASONING,
  ATTR_OI_TOKEN_COUNT_PROMPT,
  ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_READ,
  ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_WRITE,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
} from 'tokenledger/semconv';
import { TokenCounts, hasAny, strAttr } from '../attrs';
import type { Reader } from '../reading';

const TOKEN_KEYS = [ATTR_OI_TOKEN_COUNT_PROMPT, ATTR_OI_TOKEN_COUNT_COMPLETION];

export const readOpenInference: Reader = (span) => {
  const a = span.attributes;
  const kind = strAttr(a, ATTR_OI_SPAN_KIND).toUpperCase();
  const hasTokens = hasAny(a, TOKEN_KEYS);
  const model = strAttr(a, ATTR_OI_LLM_MODEL_NAME, ATTR_OI_EMBEDDING_MODEL_NAME);
  if (kind === '' && !(hasTokens && model !== '')) return null;
  // CHAIN / AGENT / ... spans may roll up their children's counts: only LLM and EMBEDDING bill.
  if (kind !== '' && kind !== 'LLM' && kind !== 'EMBEDDING') return hasTokens ? 'skip' : null;
  if (!hasTokens && model === '') return null;
  const counts = new TokenCounts(a);
  return {
    convention: 'openinference',
    provider: strAttr(a, ATTR_OI_LLM_PROVIDER, ATTR_OI_LLM_SYSTEM),
    operation: kind === 'EMBEDDING' ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_CHAT,
    requestModel: model,
    responseModel: '',
    inputTokens: counts.get(ATTR_OI_TOKEN_COUNT_PROMPT) ?? 0,
    outputTokens: counts.get(ATTR_OI_TOKEN_COUNT_COMPLETION) ?? 0,
    cacheReadTokens: counts.get(ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_READ) ?? 0,
    cacheWriteTokens: counts.get(ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_WRITE) ?? 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: counts.get(ATTR_OI_TOKEN_COUNT_COMPLETION_REASONING) ?? 0,
    streaming: false,
    // OpenInference's prompt count is the total; the consistency check in normalise() still applies.
    inputIncludesCache: undefined,
    // the counts.get() calls above fill it
    invalidCounts: counts.invalid,
  };
};

export {
  extractCalls,
  normaliseTokens,
  TOKENLEDGER_SCOPE_PREFIX,
  type ExtractResult,
  type GenAiSpanRef,
} from './extract';
export { normaliseProvider, providerFromHost } from '../../core/providers';
export { attributionOf } from './attribution';
export type { Reading, Reader, SpanContext } from './reading';
export type { PriorCall, PriorCalls } from './repeats';
export { isUsageMissing, type UsageFlag } from './usage';

/**
 * tokenledger: OpenTelemetry-native cost governance for LLM spend.
 *
 * Start it with `node --require tokenledger/register app.js` (CommonJS) or
 * `node --import tokenledger/register app.mjs` (ESM). In code:
 *
 *   import { withAttribution } from 'tokenledger';
 *   await withAttribution({ team: 'search', feature: 'summarizer' }, () => handler(req));
 */
export { withAttribution, getAttribution } from './attribution';
export { flush, type FlushOptions } from './exit-flush';
export { estimateCost, type EstimateCostInput, type CostEstimate } from './estimate';
export {
  requestApproval,
  getApproval,
  waitForApproval,
  type Approval,
  type ApprovalRequestInput,
  type ApprovalStatus,
} from './approvals/client';
export { withApproval } from './approvals/grant';
export { CollectorApiError } from './collector-api';
export {
  PolicyError,
  BudgetExceededError,
  BudgetBusyError,
  AttributionRequiredError,
  ModelNotAllowedError,
  RateLimitedError,
  ApprovalRequiredError,
  MaxTokensExceededError,
  KillSwitchError,
  CollectorUnreachableError,
  isPolicyError,
  type BudgetNumbers,
} from './errors';
export { whenGuardReady } from './guard/install';
export { start, type StartMode } from './start';
export {
  OpenAIInstrumentation,
  type OpenAIInstrumentationConfig,
} from './instrumentations/openai/instrumentation';
export {
  BedrockInstrumentation,
  type BedrockInstrumentationConfig,
} from './instrumentations/bedrock/instrumentation';
export {
  AnthropicInstrumentation,
  type AnthropicInstrumentationConfig,
} from './instrumentations/anthropic/instrumentation';
export * from './semconv';
export {
  GoogleGenAIInstrumentation,
  type GoogleGenAIInstrumentationConfig,
} from './instrumentations/google-genai/instrumentation';
export {
  MistralInstrumentation,
  type MistralInstrumentationConfig,
} from './instrumentations/mistral/instrumentation';

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
export { flush } from './exit-flush';
export { start, type StartMode } from './start';
export {
  OpenAIInstrumentation,
  type OpenAIInstrumentationConfig,
} from './instrumentations/openai/instrumentation';
export * from './semconv';

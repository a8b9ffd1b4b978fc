/**
 * Attribute names some producers write that are in no semantic-convention release we import.
 * (They belong beside the others in tokenledger/semconv; kept here until that module carries them.)
 */

/** The Anthropic TypeScript SDK's own spans (scope `com.anthropic.sdk.typescript`): cache writes. */
export const ATTR_GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC_SDK =
  'gen_ai.usage.cache_write.input_tokens';

/*
 * The npm modules tokenledger's instrumentations patch. The ESM entry (register.mts) limits the
 * import hook to these, so other ESM imports of the app are not wrapped. Each provider folder adds
 * its module names here (one line each).
 */

/**
 * The packages whose imports are hooked.
 * @public register.mts reads this through require(), which knip does not follow.
 */
export const HOOKED_MODULES: string[] = [
  'openai',
  '@anthropic-ai/sdk',
  '@google/genai',
  '@mistralai/mistralai',
  '@aws-sdk/client-bedrock-runtime',
];

/**
 * Files inside those packages that an instrumentation patches too; the import hook only sees a
 * relative import of one when its resolved URL is listed (a pattern, as the hook allows).
 * @public register.mts reads this through require(), which knip does not follow.
 */
export const HOOKED_FILES: RegExp[] = [/\/@anthropic-ai\/sdk\/core\/streaming\.mjs$/];

/**
 * One canonical set of provider names: the `gen_ai.provider.name` well-known values of the
 * current GenAI semantic conventions. Older `gen_ai.system` values, OpenInference's
 * `llm.provider` / `llm.system`, the Vercel AI SDK's `ai.model.provider` ('openai.chat',
 * 'amazon-bedrock', ...) and producers' capitalised spellings ('Anthropic') all map onto it.
 */

export const PROVIDER_OPENAI = 'openai';
export const PROVIDER_AZURE_OPENAI = 'azure.ai.openai';
export const PROVIDER_AZURE_INFERENCE = 'azure.ai.inference';
export const PROVIDER_ANTHROPIC = 'anthropic';
export const PROVIDER_GEMINI = 'gcp.gemini';
export const PROVIDER_VERTEX = 'gcp.vertex_ai';
export const PROVIDER_GCP_GEN_AI = 'gcp.gen_ai';
export const PROVIDER_BEDROCK = 'aws.bedrock';
export const PROVIDER_MISTRAL = 'mistral_ai';
export const PROVIDER_GROQ = 'groq';
export const PROVIDER_DEEPSEEK = 'deepseek';
export const PROVIDER_XAI = 'x_ai';
export const PROVIDER_COHERE = 'cohere';
export const PROVIDER_PERPLEXITY = 'perplexity';
export const PROVIDER_WATSONX = 'ibm.watsonx.ai';
/** Not semconv well-known values: named as the genai-prices catalog names them. */
export const PROVIDER_TOGETHER = 'together';
export const PROVIDER_OPENROUTER = 'openrouter';
export const PROVIDER_FIREWORKS = 'fireworks';
/** A self-hosted or unknown OpenAI-compatible server (vLLM, Ollama, ...): priced by overrides. */
export const PROVIDER_OPENAI_COMPATIBLE = 'openai_compatible';

const ALIASES: Record<string, string> = {
  openai: PROVIDER_OPENAI,
  'azure.ai.openai': PROVIDER_AZURE_OPENAI,
  'az.ai.openai': PROVIDER_AZURE_OPENAI,
  azure_openai: PROVIDER_AZURE_OPENAI,
  'azure-openai': PROVIDER_AZURE_OPENAI,
  azure: PROVIDER_AZURE_OPENAI,
  'azure.ai.inference': PROVIDER_AZURE_INFERENCE,
  'az.ai.inference': PROVIDER_AZURE_INFERENCE,
  anthropic: PROVIDER_ANTHROPIC,
  'gcp.gemini': PROVIDER_GEMINI,
  gemini: PROVIDER_GEMINI,
  google: PROVIDER_GEMINI,
  'google.generative-ai': PROVIDER_GEMINI,
  'google-generative-ai': PROVIDER_GEMINI,
  'gcp.vertex_ai': PROVIDER_VERTEX,
  vertex_ai: PROVIDER_VERTEX,
  vertexai: PROVIDER_VERTEX,
  'google.vertex': PROVIDER_VERTEX,
  'gcp.gen_ai': PROVIDER_GCP_GEN_AI,
  'aws.bedrock': PROVIDER_BEDROCK,
  aws_bedrock: PROVIDER_BEDROCK,
  'amazon-bedrock': PROVIDER_BEDROCK,
  bedrock: PROVIDER_BEDROCK,
  aws: PROVIDER_BEDROCK,
  mistral_ai: PROVIDER_MISTRAL,
  mistralai: PROVIDER_MISTRAL,
  mistral: PROVIDER_MISTRAL,
  groq: PROVIDER_GROQ,
  deepseek: PROVIDER_DEEPSEEK,
  x_ai: PROVIDER_XAI,
  xai: PROVIDER_XAI,
  'x-ai': PROVIDER_XAI,
  cohere: PROVIDER_COHERE,
  perplexity: PROVIDER_PERPLEXITY,
  'ibm.watsonx.ai': PROVIDER_WATSONX,
  watsonx: PROVIDER_WATSONX,
  together: PROVIDER_TOGETHER,
  together_ai: PROVIDER_TOGETHER,
  togetherai: PROVIDER_TOGETHER,
  'together.ai': PROVIDER_TOGETHER,
  openrouter: PROVIDER_OPENROUTER,
  fireworks: PROVIDER_FIREWORKS,
  fireworks_ai: PROVIDER_FIREWORKS,
  fireworksai: PROVIDER_FIREWORKS,
  openai_compatible: PROVIDER_OPENAI_COMPATIBLE,
  'openai-compatible': PROVIDER_OPENAI_COMPATIBLE,
  vllm: PROVIDER_OPENAI_COMPATIBLE,
};

/**
 * The canonical name of a provider as any producer spells it; unknown names are kept,
 * lowercased. The Vercel AI SDK suffixes the API flavour ('openai.chat', 'google.vertex.chat'),
 * so the longest known dotted prefix wins.
 */
export function normaliseProvider(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name === '') return '';
  const direct = ALIASES[name];
  if (direct) return direct;
  const parts = name.split('.');
  for (let n = parts.length - 1; n >= 1; n--) {
    const hit = ALIASES[parts.slice(0, n).join('.')];
    if (hit) return hit;
  }
  return name;
}

/** Known API hosts → provider, for spans that name the server but not the provider. */
const HOSTS: [RegExp, string][] = [
  [/(^|\.)api\.openai\.com$/, PROVIDER_OPENAI],
  [/\.openai\.azure\.com$/, PROVIDER_AZURE_OPENAI],
  [/\.cognitiveservices\.azure\.com$/, PROVIDER_AZURE_OPENAI],
  [/\.services\.ai\.azure\.com$/, PROVIDER_AZURE_INFERENCE],
  [/\.models\.ai\.azure\.com$/, PROVIDER_AZURE_INFERENCE],
  [/(^|\.)api\.anthropic\.com$/, PROVIDER_ANTHROPIC],
  [/(^|\.)generativelanguage\.googleapis\.com$/, PROVIDER_GEMINI],
  [/(^|\.)aiplatform\.googleapis\.com$/, PROVIDER_VERTEX],
  [/^bedrock-runtime(-fips)?\.[a-z0-9-]+\.amazonaws\.com$/, PROVIDER_BEDROCK],
  [/(^|\.)api\.mistral\.ai$/, PROVIDER_MISTRAL],
  [/(^|\.)api\.groq\.com$/, PROVIDER_GROQ],
  [/(^|\.)api\.deepseek\.com$/, PROVIDER_DEEPSEEK],
  [/(^|\.)api\.x\.ai$/, PROVIDER_XAI],
  [/(^|\.)api\.cohere\.(com|ai)$/, PROVIDER_COHERE],
  [/(^|\.)api\.perplexity\.ai$/, PROVIDER_PERPLEXITY],
  [/(^|\.)api\.together\.(xyz|ai)$/, PROVIDER_TOGETHER],
  [/(^|\.)openrouter\.ai$/, PROVIDER_OPENROUTER],
  [/(^|\.)api\.fireworks\.ai$/, PROVIDER_FIREWORKS],
];

/** The provider behind a known API host name, '' when the host is not a known AI API. */
export function providerFromHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h === '') return '';
  for (const [re, provider] of HOSTS) if (re.test(h)) return provider;
  return '';
}

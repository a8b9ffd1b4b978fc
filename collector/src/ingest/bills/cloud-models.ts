/**
 * Which model a cloud bill line is for, where the cloud's own strings name it: the usage type of an
 * Amazon Bedrock CUR line, the meter name of an Azure OpenAI line (a maintained table: each entry
 * is a string the provider publishes, with where it was read), the SKU description of a Google
 * Cloud Vertex AI or Gemini API line (its token-type phrase read from published SKU descriptions,
 * its model matched against the price catalog's own model names). A line that names no model known
 * here has model '' and its day is compared per day (decisions 0076, 0090).
 *
 * The model given is one the priced catalog resolves (reconciliation normalises both sides to the
 * catalog id), so a bill's `Claude4.6Sonnet` and the meter's `anthropic.claude-sonnet-4-6` meet.
 */
import { findProvider } from '@pydantic/genai-prices';
import type { PricingKind } from '../../core/bill';

interface ModelEntry {
  /** The model segment as the provider writes it. */
  segment: string;
  /** A model id the catalog resolves for that provider. */
  model: string;
  /** Where the string was read. */
  source: string;
}

const AWS_BLOG_2026_04 =
  'AWS Machine Learning blog, "Introducing granular cost attribution for Amazon Bedrock" (April 2026), CUR 2.0 example rows';

/**
 * Bedrock usage types are `<region>-<model>-<token type>[-<tier or routing>]`; the token types are
 * the ones AWS documents ("Understanding your Amazon Bedrock Cost and Usage Report data",
 * docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html): `-input-tokens`,
 * `-output-tokens`, `-cache-read-input-token-count`, `-cache-write-input-token-count`.
 */
const BEDROCK_USAGE_TYPE_MODELS: readonly ModelEntry[] = [
  { segment: 'Claude4.6Sonnet', model: 'anthropic.claude-sonnet-4-6', source: AWS_BLOG_2026_04 },
  { segment: 'Claude4.6Opus', model: 'anthropic.claude-opus-4-6', source: AWS_BLOG_2026_04 },
];

const BEDROCK_TOKEN_TYPE =
  /^[A-Z]{2,4}\d?-(.+?)-(input-tokens|output-tokens|cache-read-input-token-count|cache-write-input-token-count)(-|$)/;

/** The model a Bedrock usage type names, and whether it is a cache read; '' when the table does not know it. */
export function bedrockModelOfUsageType(usageType: string): { model: string; pricing?: PricingKind } {
  const m = BEDROCK_TOKEN_TYPE.exec(usageType.trim());
  if (!m) return { model: '' };
  const entry = BEDROCK_USAGE_TYPE_MODELS.find((e) => e.segment === m[1]);
  return {
    model: entry?.model ?? '',
    ...(m[2] === 'cache-read-input-token-count' ? { pricing: 'cached' as const } : {}),
  };
}

const AZURE_RETAIL_PRICES =
  'Azure Retail Prices API (prices.azure.com, Azure OpenAI skuName / meterName), as recorded in infracost internal/resources/azure cognitive deployment SKUs';

/**
 * Azure OpenAI meter names: `<model> <version> [cached|Batch] Inp|Outp <deployment> Tokens`, with
 * hyphens and spaces used interchangeably (`gpt-4o-0806-Inp-glbl Tokens`, `gpt 4o 0806 cached Inp
 * glbl Tokens`). Segments are compared with both written as single spaces, lower case.
 */
const AZURE_OPENAI_METER_MODELS: readonly ModelEntry[] = [
  { segment: 'gpt 4o mini 0718', model: 'gpt-4o-mini-2024-07-18', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4o mini0718', model: 'gpt-4o-mini-2024-07-18', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4o 0806', model: 'gpt-4o-2024-08-06', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4o 1120', model: 'gpt-4o-2024-11-20', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4o 0513', model: 'gpt-4o-2024-05-13', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 35 turbo 16k', model: 'gpt-3.5-turbo-16k', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 35 turbo16k', model: 'gpt-3.5-turbo-16k', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 35 turbo', model: 'gpt-3.5-turbo', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4 turbo', model: 'gpt-4-turbo', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4 32k', model: 'gpt-4-32k', source: AZURE_RETAIL_PRICES },
  { segment: 'gpt 4 8k', model: 'gpt-4', source: AZURE_RETAIL_PRICES },
];

const words = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[-\s_]+/g, ' ')
    .trim();

/** The model an Azure OpenAI meter name names, and how it was priced; '' when the table does not know it. */
export function azureModelOfMeter(meterName: string): { model: string; pricing?: PricingKind } {
  const name = words(meterName);
  // Longest segment first: `gpt 4o mini 0718` before any shorter one it starts with; a segment
  // ends at a space or runs into a size (`gpt-35-turbo4K-Inp-glbl`).
  const entry = [...AZURE_OPENAI_METER_MODELS]
    .sort((a, b) => b.segment.length - a.segment.length)
    .find((e) => name.startsWith(e.segment) && /^($|[\s\d])/.test(name.slice(e.segment.length)));
  if (!entry) return { model: '' };
  const rest = ` ${name.slice(entry.segment.length)} `;
  const pricing: PricingKind | undefined = / batch ?/.test(rest)
    ? 'batch'
    : / (cached|cchd|cd) /.test(rest)
      ? 'cached'
      : undefined;
  return { model: entry.model, ...(pricing ? { pricing } : {}) };
}

/*
 * Google Cloud. The billing export's sku.description names the model in free text, in two families
 * (read in the Cloud Billing Catalog's Vertex AI SKUs, service C7E2-9256-1C43, and in billing
 * exports quoted by public cost tools; sources in docs/decisions/0090):
 *   Vertex AI:  `Gemini 2.5 Pro Text Input - Predictions`, `Gemini 2.5 Flash GA Text Output -
 *               Predictions`, `Gemini 3.5 Flash Global Text Input - Predictions`, `Gemini 2.5 Flash
 *               GA Thinking Text Output - Predictions`, `Gemini 2.5 Flash Text Output (Thinking On)
 *               - Predictions`, `Gemini 2.5 Pro Input Text Caching (Long)`, `Gemini 3 Flash Text
 *               Input Caching`, `Gemini 2.5 Flash Text Input - Batch Predictions`;
 *   Gemini API: `Generate content input token count gemini 3.5 flash text`, `Generate content cached
 *               input token count gemini 3.5 flash text`, `Generate_content text input token count
 *               for gemini 3 pro short`.
 * The model is the words before the token type (Vertex AI, less the tier words GA, Global,
 * Regional, Thinking) or after it (Gemini API), and names a model only when those words are a
 * catalog model's own name (`Gemini 2.5 Flash` is gemini-2.5-flash's name). Caching storage (per
 * hour, not tokens), grounding, image/audio/video-only SKUs and names the catalog does not carry
 * name no model.
 */

const googleWords = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[-_\s]+/g, ' ')
    .trim();

/** Vertex AI: `<model> [tier words] <token type> …`; the token types read in the SKU descriptions. */
const VERTEX_TOKEN_TYPE = /^(.+?) (input text caching|text input caching|text input|text output)( |$)(.*)$/;
const VERTEX_TIER_WORDS = new Set(['ga', 'global', 'regional', 'thinking']);
/** Gemini API: `generate content [modality] [cached] input|output token count [for] <model> …`. */
const GEMINI_API_TOKEN_TYPE =
  /^generate content (?:(?:text|audio|image|video) )?(cached )?(input|output) token count (?:for )?(.+)$/;

let catalogNames: Map<string, string> | undefined;

/**
 * The catalog's Google models by name, as words. Where two models share a name (`gemini 1.5
 * flash`), the one whose id is that name is kept; a name still shared by others names none.
 */
function googleCatalogNames(): Map<string, string> {
  if (catalogNames) return catalogNames;
  const byName = new Map<string, string[]>();
  for (const m of findProvider({ providerId: 'google' })?.models ?? []) {
    if (!m.name) continue;
    const name = googleWords(m.name);
    byName.set(name, [...(byName.get(name) ?? []), m.id]);
  }
  catalogNames = new Map();
  for (const [name, ids] of byName) {
    const id = ids.length === 1 ? ids[0] : ids.find((i) => googleWords(i) === name);
    if (id) catalogNames.set(name, id);
  }
  return catalogNames;
}

/** The catalog model named by `words` exactly, or by its longest leading run of words. */
function catalogModelNamed(words: string, leading: boolean): string {
  const names = googleCatalogNames();
  if (!leading) return names.get(words) ?? '';
  const parts = words.split(' ');
  for (let n = parts.length; n > 0; n--) {
    const id = names.get(parts.slice(0, n).join(' '));
    if (id) return id;
  }
  return '';
}

/** The model a Google Cloud SKU description names, and how it was priced; '' when it names none. */
export function googleModelOfSku(description: string): { model: string; pricing?: PricingKind } {
  const sku = googleWords(description);
  const api = GEMINI_API_TOKEN_TYPE.exec(sku);
  if (api) {
    const [, cached = '', , named = ''] = api;
    const model = catalogModelNamed(named, true);
    return model && cached ? { model, pricing: 'cached' } : { model };
  }
  const [, before = '', tokenType = '', , after = ''] = VERTEX_TOKEN_TYPE.exec(sku) ?? [];
  if (tokenType === '' || /\bstorage\b/.test(after)) return { model: '' };
  const words = before.split(' ');
  while (words.length > 1 && VERTEX_TIER_WORDS.has(words[words.length - 1] ?? '')) words.pop();
  const model = catalogModelNamed(words.join(' '), false);
  if (!model) return { model: '' };
  if (tokenType.endsWith('caching')) return { model, pricing: 'cached' };
  return /\bbatch predictions$/.test(after) ? { model, pricing: 'batch' } : { model };
}

/**
 * Which model a cloud bill line is for, where the cloud's own strings name it: the usage type of an
 * Amazon Bedrock CUR line, the meter name of an Azure OpenAI line. A maintained table: each entry
 * is a string the provider publishes, with where it was read. A line the table does not know names
 * no model ('') and its day is compared per day (decision 0076). Google Cloud's Vertex AI SKU
 * descriptions are not mapped: no published list of them could be read.
 *
 * The model given is one the priced catalog resolves (reconciliation normalises both sides to the
 * catalog id), so a bill's `Claude4.6Sonnet` and the meter's `anthropic.claude-sonnet-4-6` meet.
 */
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

/**
 * AI vendors as they appear on card statements and expense reports, so a company's AI spend
 * outside the APIs (seats, subscriptions, tools) can be found among its expenses. Edit this list
 * to add a vendor: `match` is tested against the merchant text (case-insensitive); the first hit
 * wins, so specific entries come before general ones.
 * A charge that is an API bill (paid by card) is marked `api: true` and left out of "outside the
 * API" — the provider's own bill import covers it.
 */
export interface AiVendor {
  vendor: string;
  product: string;
  match: RegExp;
  api?: boolean;
}

const AI_VENDORS: readonly AiVendor[] = [
  { vendor: 'OpenAI', product: 'API', match: /openai.*\bapi\b/i, api: true },
  { vendor: 'OpenAI', product: 'ChatGPT', match: /chatgpt|openai/i },
  { vendor: 'Anthropic', product: 'API', match: /anthropic.*\bapi\b/i, api: true },
  { vendor: 'Anthropic', product: 'Claude', match: /claude\.ai|anthropic/i },
  { vendor: 'Cursor', product: 'Cursor', match: /\bcursor\b|anysphere/i },
  { vendor: 'Midjourney', product: 'Midjourney', match: /midjourney/i },
  { vendor: 'Perplexity', product: 'Perplexity Pro', match: /perplexity/i },
  { vendor: 'Google', product: 'Gemini', match: /gemini|google\s*one\s*ai/i },
  // Microsoft's before GitHub's: both say Copilot.
  { vendor: 'Microsoft', product: 'Copilot Pro', match: /microsoft.*copilot/i },
  { vendor: 'GitHub', product: 'Copilot', match: /copilot/i },
  { vendor: 'Mistral AI', product: 'Le Chat', match: /mistral/i },
  { vendor: 'Jasper', product: 'Jasper', match: /jasper\.ai|jasper ai/i },
  { vendor: 'ElevenLabs', product: 'ElevenLabs', match: /elevenlabs|eleven labs/i },
  { vendor: 'Runway', product: 'Runway', match: /runwayml|runway ai/i },
  { vendor: 'Replit', product: 'Replit', match: /replit/i },
  { vendor: 'Codeium', product: 'Windsurf', match: /codeium|windsurf/i },
  { vendor: 'Tabnine', product: 'Tabnine', match: /tabnine/i },
  { vendor: 'Poe', product: 'Poe', match: /\bpoe\.com\b|quora.*poe/i },
  { vendor: 'Otter.ai', product: 'Otter', match: /otter\.ai/i },
  { vendor: 'Synthesia', product: 'Synthesia', match: /synthesia/i },
  { vendor: 'Grammarly', product: 'Grammarly', match: /grammarly/i },
  { vendor: 'Notion', product: 'Notion AI', match: /notion.*\bai\b/i },
];

/** The AI vendor a merchant text names, or undefined. */
export function aiVendorOf(merchant: string): AiVendor | undefined {
  return AI_VENDORS.find((v) => v.match.test(merchant));
}

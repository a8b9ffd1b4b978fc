/**
 * A model's family: its id without release dates and tier words, so that gpt-4o and gpt-4o-mini,
 * claude-3-5-sonnet and claude-3-5-haiku, or gemini-2.5-pro and gemini-2.5-flash-lite group
 * together. A heuristic over catalog ids (the catalog has no family field); it only decides which
 * cheaper models the savings panel offers.
 */
const TIER_WORDS = new Set([
  'nano',
  'micro',
  'mini',
  'tiny',
  'small',
  'medium',
  'large',
  'lite',
  'flash',
  'pro',
  'plus',
  'max',
  'haiku',
  'sonnet',
  'opus',
  'turbo',
  'instant',
  'fast',
  'latest',
  'preview',
  'exp',
  'chat',
]);
const DATE_SUFFIX = /[-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$/;

export function modelFamily(modelId: string): string {
  let id = modelId.toLowerCase();
  while (DATE_SUFFIX.test(id)) id = id.replace(DATE_SUFFIX, '');
  const kept = id.split('-').filter((part) => part !== '' && !TIER_WORDS.has(part));
  return kept.length > 0 ? kept.join('-') : id;
}

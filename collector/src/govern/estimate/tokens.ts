/**
 * Token counts of chat messages before they are sent, with OpenAI's tokenizers (js-tiktoken).
 * Other providers' tokenizers are not public; for them the o200k_base count is an approximation,
 * and the result says so.
 */
import type { Tiktoken, TiktokenEncoding } from 'js-tiktoken' with { 'resolution-mode': 'import' };

/**
 * js-tiktoken, loaded on the first estimate: its ranks take ~19 MB, which a collector that serves no
 * estimates should not hold. It ships CommonJS too (its `require` export); only its types are ESM.
 */
function getEncoding(name: TiktokenEncoding): Tiktoken {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tiktoken = require('js-tiktoken') as { getEncoding(name: TiktokenEncoding): Tiktoken };
  return tiktoken.getEncoding(name);
}

export interface ChatMessage {
  role: string;
  content: string | Array<{ type?: string; text?: string }> | null;
  name?: string;
}

export interface TokenCount {
  tokens: number;
  tokenizer: TiktokenEncoding;
  /** True when the model is not one the tokenizer was made for. */
  approximate: boolean;
}

const encodings = new Map<TiktokenEncoding, Tiktoken>();

function encoding(name: TiktokenEncoding): Tiktoken {
  let e = encodings.get(name);
  if (!e) {
    e = getEncoding(name);
    encodings.set(name, e);
  }
  return e;
}

/** The tokenizer of an OpenAI model family; undefined for other providers' models. */
function openaiEncodingFor(model: string): TiktokenEncoding | undefined {
  const m = model.toLowerCase();
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|text-embedding-)/.test(m)) return 'cl100k_base';
  return undefined;
}

// OpenAI's documented chat framing: every message costs 3 tokens of wrapping (+1 with a name),
// and every reply is primed with 3.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
}

export function countChatTokens(model: string, messages: ChatMessage[]): TokenCount {
  const known = openaiEncodingFor(model);
  const name = known ?? 'o200k_base';
  const enc = encoding(name);
  let tokens = REPLY_PRIMING;
  for (const m of messages) {
    tokens += TOKENS_PER_MESSAGE + enc.encode(m.role ?? '').length + enc.encode(textOf(m.content)).length;
    if (typeof m.name === 'string' && m.name !== '') tokens += TOKENS_PER_NAME + enc.encode(m.name).length;
  }
  return { tokens, tokenizer: name, approximate: known === undefined };
}

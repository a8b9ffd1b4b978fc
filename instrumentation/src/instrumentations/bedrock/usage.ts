/**
 * Token usage from Bedrock responses, whatever shape the command or model family reports it in,
 * collected into one accumulator and written as span attributes by the span contract: input is
 * the TOTAL input (Bedrock's own `inputTokens` / Anthropic's `input_tokens` exclude cache reads and
 * writes, so they are added).
 */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
} from '../../semconv';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyRecord = Record<string, any>;

/** Usage as Bedrock counts it: `input` excludes the cache reads and writes. */
export interface BedrockUsage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  /** The part of cacheWrite written with a 1-hour TTL (billed higher than 5-minute writes). */
  cacheWrite1h?: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Later readings fill what earlier ones left out, and a later count of the same field wins. */
export function mergeUsage(into: BedrockUsage, from: BedrockUsage | undefined): void {
  if (!from) return;
  if (from.input !== undefined) into.input = from.input;
  if (from.output !== undefined) into.output = from.output;
  if (from.cacheRead !== undefined) into.cacheRead = from.cacheRead;
  if (from.cacheWrite !== undefined) into.cacheWrite = from.cacheWrite;
  if (from.cacheWrite1h !== undefined) into.cacheWrite1h = from.cacheWrite1h;
}

function usageOrUndefined(u: BedrockUsage): BedrockUsage | undefined {
  return u.input === undefined &&
    u.output === undefined &&
    u.cacheRead === undefined &&
    u.cacheWrite === undefined
    ? undefined
    : u;
}

/**
 * Converse / ConverseStream `usage` (TokenUsage): inputTokens, outputTokens, cache*InputTokens, and
 * `cacheDetails` ([{ ttl: '5m' | '1h', inputTokens }]) splitting the cache writes by TTL.
 */
export function converseUsage(u: AnyRecord | undefined): BedrockUsage | undefined {
  if (u === null || typeof u !== 'object') return undefined;
  return usageOrUndefined({
    input: num(u.inputTokens),
    output: num(u.outputTokens),
    cacheRead: num(u.cacheReadInputTokens),
    cacheWrite: num(u.cacheWriteInputTokens),
    cacheWrite1h: oneHourWrites(u.cacheDetails),
  });
}

function oneHourWrites(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  let total: number | undefined;
  for (const d of details) {
    const n = d?.ttl === '1h' ? num(d.inputTokens) : undefined;
    if (n !== undefined) total = (total ?? 0) + n;
  }
  return total;
}

/**
 * An InvokeModel response body (or one decoded stream chunk), by model family:
 *   Anthropic   usage.{input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens,
 *               cache_creation.ephemeral_1h_input_tokens},
 *               message_start → message.usage, message_delta → usage
 *   Amazon Nova usage (stream: metadata.usage).{inputTokens, outputTokens, cacheReadInputTokenCount, cacheWriteInputTokenCount}
 *   OpenAI-style (Mistral chat, AI21, DeepSeek, gpt-oss) usage.{prompt_tokens, completion_tokens}
 *   Amazon Titan inputTextTokenCount, results[].tokenCount
 *   Meta Llama  prompt_token_count, generation_token_count
 *   Cohere      meta.billed_units.{input_tokens, output_tokens}
 *   any stream  "amazon-bedrock-invocationMetrics".{inputTokenCount, outputTokenCount, cache*}
 */
export function bodyUsage(body: AnyRecord | undefined): BedrockUsage | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const out: BedrockUsage = {};
  const usage = body.usage ?? body.message?.usage ?? body.metadata?.usage;
  if (usage !== null && typeof usage === 'object') {
    mergeUsage(out, {
      input: num(usage.input_tokens) ?? num(usage.inputTokens) ?? num(usage.prompt_tokens),
      output: num(usage.output_tokens) ?? num(usage.outputTokens) ?? num(usage.completion_tokens),
      cacheRead:
        num(usage.cache_read_input_tokens) ??
        num(usage.cacheReadInputTokenCount) ??
        num(usage.cacheReadInputTokens),
      cacheWrite:
        num(usage.cache_creation_input_tokens) ??
        num(usage.cacheWriteInputTokenCount) ??
        num(usage.cacheWriteInputTokens),
      cacheWrite1h: num(usage.cache_creation?.ephemeral_1h_input_tokens),
    });
  }
  const titanIn = num(body.inputTextTokenCount);
  if (titanIn !== undefined) {
    out.input = titanIn;
    if (Array.isArray(body.results)) {
      let total = 0;
      for (const r of body.results) total += num(r?.tokenCount) ?? 0;
      out.output = total;
    }
  }
  const llamaIn = num(body.prompt_token_count);
  if (llamaIn !== undefined) out.input = llamaIn;
  const llamaOut = num(body.generation_token_count);
  if (llamaOut !== undefined) out.output = llamaOut;
  const billed = body.meta?.billed_units;
  if (billed !== null && typeof billed === 'object') {
    mergeUsage(out, { input: num(billed.input_tokens), output: num(billed.output_tokens) });
  }
  const metrics = body['amazon-bedrock-invocationMetrics'];
  if (metrics !== null && typeof metrics === 'object') {
    // The service's own count: fills only what the model's events did not say.
    const m: BedrockUsage = {
      input: num(metrics.inputTokenCount),
      output: num(metrics.outputTokenCount),
      cacheRead: num(metrics.cacheReadInputTokenCount),
      cacheWrite: num(metrics.cacheWriteInputTokenCount),
    };
    out.input ??= m.input;
    out.output ??= m.output;
    out.cacheRead ??= m.cacheRead;
    out.cacheWrite ??= m.cacheWrite;
  }
  return usageOrUndefined(out);
}

/** The `x-amzn-bedrock-*-token-count` response headers InvokeModel answers with. */
export function headerUsage(
  headers: Record<string, string | undefined> | undefined,
): BedrockUsage | undefined {
  if (!headers) return undefined;
  const int = (name: string): number | undefined => {
    const v = headers[name];
    if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
    return Number(v);
  };
  return usageOrUndefined({
    input: int('x-amzn-bedrock-input-token-count'),
    output: int('x-amzn-bedrock-output-token-count'),
    cacheRead: int('x-amzn-bedrock-cache-read-input-token-count'),
    cacheWrite: int('x-amzn-bedrock-cache-write-input-token-count'),
  });
}

export function setUsageAttributes(attrs: Attributes, u: BedrockUsage): void {
  const cacheRead = u.cacheRead ?? 0;
  const cacheWrite = u.cacheWrite ?? 0;
  if (u.input !== undefined) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = u.input + cacheRead + cacheWrite;
  if (u.output !== undefined) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = u.output;
  if (u.cacheRead !== undefined) attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = u.cacheRead;
  if (u.cacheWrite !== undefined) attrs[ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWrite;
  if (u.cacheWrite1h) attrs[ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS] = u.cacheWrite1h;
}

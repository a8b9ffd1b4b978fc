/**
 * Pure helpers for the Google Gen AI (`@google/genai`) instrumentation: request attributes, usage
 * from `usageMetadata`, the guard verdict on a copy of the params.
 * No OpenTelemetry state here, so they are unit-testable.
 */
import type { Attributes } from '@opentelemetry/api';
import type { GuardVerdict } from '../../guard/hook';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_OPERATION_GENERATE_CONTENT,
  GEN_AI_PROVIDER_GCP_GEMINI,
  GEN_AI_PROVIDER_GCP_VERTEX_AI,
} from '../../semconv';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyRecord = Record<string, any>;

/** The patched `Models` methods, one HTTP request each. */
export enum GeminiOperation {
  Generate = 0,
  Stream = 1,
  Embed = 2,
}

export interface ServerInfo {
  address: string | undefined;
  port: number | undefined;
  provider: string;
}

export function operationName(op: GeminiOperation): string {
  return op === GeminiOperation.Embed ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_GENERATE_CONTENT;
}

/** Provider and server from the SDK's ApiClient (`isVertexAI()`, `getBaseUrl()`). */
export function serverInfo(apiClient: unknown): ServerInfo {
  const client = apiClient as AnyRecord | undefined;
  let vertex = false;
  let address: string | undefined;
  let port: number | undefined;
  try {
    vertex = typeof client?.isVertexAI === 'function' && client.isVertexAI() === true;
  } catch {
    // unknown client shape: the Gemini API is the default
  }
  try {
    const base: unknown = typeof client?.getBaseUrl === 'function' ? client.getBaseUrl() : undefined;
    if (typeof base === 'string' && base !== '') {
      const u = new URL(base);
      address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
    }
  } catch {
    // no base URL: leave the address out
  }
  return { address, port, provider: vertex ? GEN_AI_PROVIDER_GCP_VERTEX_AI : GEN_AI_PROVIDER_GCP_GEMINI };
}

export function requestedModel(params: AnyRecord): string | undefined {
  return typeof params.model === 'string' ? params.model : undefined;
}

/** `config.maxOutputTokens`, the Gemini name for the output cap. */
export function requestedMaxTokens(op: GeminiOperation, params: AnyRecord): number | undefined {
  if (op === GeminiOperation.Embed) return undefined;
  const v = params.config?.maxOutputTokens;
  return typeof v === 'number' ? v : undefined;
}

/** Request-side span attributes. Reads a few scalar fields; never serialises contents. */
export function requestAttributes(op: GeminiOperation, params: AnyRecord, server: ServerInfo): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operationName(op),
    [ATTR_GEN_AI_PROVIDER_NAME]: server.provider,
  };
  const model = requestedModel(params);
  if (model !== undefined) attrs[ATTR_GEN_AI_REQUEST_MODEL] = model;
  if (server.address !== undefined) attrs[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attrs[ATTR_SERVER_PORT] = server.port;
  if (op !== GeminiOperation.Embed) {
    attrs[ATTR_GEN_AI_REQUEST_STREAM] = op === GeminiOperation.Stream;
    const maxTokens = requestedMaxTokens(op, params);
    if (maxTokens !== undefined) attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
    const temperature = params.config?.temperature;
    if (typeof temperature === 'number') attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = temperature;
  }
  return attrs;
}

export function spanName(op: GeminiOperation, params: AnyRecord): string {
  const model = requestedModel(params);
  return model ? `${operationName(op)} ${model}` : operationName(op);
}

/**
 * The params to send after a guard verdict: a shallow copy with `model` and/or
 * `config.maxOutputTokens` replaced (config copied too); the app's objects are not mutated.
 */
export function paramsWithVerdict(op: GeminiOperation, params: AnyRecord, verdict: GuardVerdict): AnyRecord {
  const clamp = verdict.maxTokens !== undefined && op !== GeminiOperation.Embed;
  if (verdict.model === undefined && !clamp) return params;
  const out: AnyRecord = { ...params };
  if (verdict.model !== undefined) out.model = verdict.model;
  if (clamp) out.config = { ...(params.config ?? {}), maxOutputTokens: verdict.maxTokens };
  return out;
}

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Usage attributes from a `usageMetadata` object, normalised to the span contract:
 *   input  = promptTokenCount (cached content included) + toolUsePromptTokenCount
 *   output = candidatesTokenCount + thoughtsTokenCount (thinking is billed as output)
 *   cache_read = cachedContentTokenCount, reasoning = thoughtsTokenCount
 * as Google bills them and as genai-prices' own Google extractor reads them.
 */
export function setUsageAttributes(attrs: Attributes, usage: AnyRecord | null | undefined): void {
  if (usage === null || typeof usage !== 'object') return;
  const prompt = num(usage.promptTokenCount) ? usage.promptTokenCount : undefined;
  const toolUse = num(usage.toolUsePromptTokenCount) ? usage.toolUsePromptTokenCount : 0;
  const candidates = num(usage.candidatesTokenCount) ? usage.candidatesTokenCount : undefined;
  const thoughts = num(usage.thoughtsTokenCount) ? usage.thoughtsTokenCount : undefined;
  if (prompt !== undefined || toolUse > 0) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = (prompt ?? 0) + toolUse;
  if (candidates !== undefined || thoughts !== undefined)
    attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = (candidates ?? 0) + (thoughts ?? 0);
  if (num(usage.cachedContentTokenCount))
    attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cachedContentTokenCount;
  if (thoughts !== undefined) attrs[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts;
}

/** Embedding input tokens: `usageMetadata`, else Vertex's per-embedding `statistics.tokenCount`. */
export function setEmbeddingUsageAttributes(attrs: Attributes, response: AnyRecord): void {
  const usage = response.usageMetadata;
  if (usage !== null && typeof usage === 'object' && num(usage.promptTokenCount)) {
    attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = usage.promptTokenCount;
    return;
  }
  const embeddings = response.embeddings;
  if (!Array.isArray(embeddings)) return;
  let total = 0;
  let seen = false;
  for (const e of embeddings) {
    const count = e?.statistics?.tokenCount;
    if (num(count)) {
      total += count;
      seen = true;
    }
  }
  if (seen) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = total;
}

/** Response id, model version and finish reasons of a GenerateContentResponse (or one stream chunk). */
export function setResponseAttributes(attrs: Attributes, response: AnyRecord): void {
  if (typeof response.responseId === 'string') attrs[ATTR_GEN_AI_RESPONSE_ID] = response.responseId;
  if (typeof response.modelVersion === 'string' && response.modelVersion !== '')
    attrs[ATTR_GEN_AI_RESPONSE_MODEL] = response.modelVersion;
  const candidates = response.candidates;
  if (Array.isArray(candidates)) {
    const reasons: string[] = [];
    for (const c of candidates) if (typeof c?.finishReason === 'string') reasons.push(c.finishReason);
    if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
  }
}

/**
 * Pure helpers for the Google Gen AI (`@google/genai`) instrumentation: request attributes, usage
 * from `usageMetadata`, the guard verdict on a copy of the params.
 * No OpenTelemetry state here, so they are unit-testable.
 */
import type { Attributes } from '@opentelemetry/api';
import type { GuardVerdict } from '../../guard/hook';
import {
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_OPERATION_GENERATE_CONTENT,
  GEN_AI_PROVIDER_GCP_GEMINI,
  GEN_AI_PROVIDER_GCP_VERTEX_AI,
} from '../../semconv';
import {
  finishReasons,
  isCount,
  modelOf,
  requestAttributes as genAIRequestAttributes,
  serverOfURL,
  spanName as operationSpanName,
  type ServerAddress,
} from '../shared/request-attributes';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyRecord = Record<string, any>;

/** The patched `Models` methods, one HTTP request each. */
export enum GeminiOperation {
  Generate = 0,
  Stream = 1,
  Embed = 2,
}

export interface ServerInfo extends ServerAddress {
  provider: string;
}

export function operationName(op: GeminiOperation): string {
  return op === GeminiOperation.Embed ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_GENERATE_CONTENT;
}

/** Provider and server from the SDK's ApiClient (`isVertexAI()`, `getBaseUrl()`). */
export function serverInfo(apiClient: unknown): ServerInfo {
  const client = apiClient as AnyRecord | undefined;
  let vertex = false;
  let server: ServerAddress = { address: undefined, port: undefined };
  try {
    vertex = typeof client?.isVertexAI === 'function' && client.isVertexAI() === true;
  } catch {
    // unknown client shape: the Gemini API is the default
  }
  try {
    const base: unknown = typeof client?.getBaseUrl === 'function' ? client.getBaseUrl() : undefined;
    if (typeof base === 'string' && base !== '') server = serverOfURL(new URL(base));
  } catch {
    // no base URL: leave the address out
  }
  return { ...server, provider: vertex ? GEN_AI_PROVIDER_GCP_VERTEX_AI : GEN_AI_PROVIDER_GCP_GEMINI };
}

export const requestedModel: (params: AnyRecord) => string | undefined = modelOf;

/** `config.maxOutputTokens`, the Gemini name for the output cap. */
export function requestedMaxTokens(op: GeminiOperation, params: AnyRecord): number | undefined {
  if (op === GeminiOperation.Embed) return undefined;
  const v = params.config?.maxOutputTokens;
  return typeof v === 'number' ? v : undefined;
}

/** Request-side span attributes. Reads a few scalar fields; never serialises contents. */
export function requestAttributes(op: GeminiOperation, params: AnyRecord, server: ServerInfo): Attributes {
  const generation =
    op === GeminiOperation.Embed
      ? undefined
      : {
          stream: op === GeminiOperation.Stream,
          maxTokens: requestedMaxTokens(op, params),
          temperature: params.config?.temperature,
        };
  return genAIRequestAttributes(
    operationName(op),
    server.provider,
    requestedModel(params),
    server,
    generation,
  );
}

export function spanName(op: GeminiOperation, params: AnyRecord): string {
  return operationSpanName(operationName(op), requestedModel(params));
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

/**
 * Usage attributes from a `usageMetadata` object, normalised to the span contract:
 *   input  = promptTokenCount (cached content included) + toolUsePromptTokenCount
 *   output = candidatesTokenCount + thoughtsTokenCount (thinking is billed as output)
 *   cache_read = cachedContentTokenCount, reasoning = thoughtsTokenCount
 * as Google bills them and as genai-prices' own Google extractor reads them.
 */
export function setUsageAttributes(attrs: Attributes, usage: AnyRecord | null | undefined): void {
  if (usage === null || typeof usage !== 'object') return;
  const prompt = isCount(usage.promptTokenCount) ? usage.promptTokenCount : undefined;
  const toolUse = isCount(usage.toolUsePromptTokenCount) ? usage.toolUsePromptTokenCount : 0;
  const candidates = isCount(usage.candidatesTokenCount) ? usage.candidatesTokenCount : undefined;
  const thoughts = isCount(usage.thoughtsTokenCount) ? usage.thoughtsTokenCount : undefined;
  if (prompt !== undefined || toolUse > 0) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = (prompt ?? 0) + toolUse;
  if (candidates !== undefined || thoughts !== undefined)
    attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = (candidates ?? 0) + (thoughts ?? 0);
  if (isCount(usage.cachedContentTokenCount))
    attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cachedContentTokenCount;
  if (thoughts !== undefined) attrs[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts;
}

/** Embedding input tokens: `usageMetadata`, else Vertex's per-embedding `statistics.tokenCount`. */
export function setEmbeddingUsageAttributes(attrs: Attributes, response: AnyRecord): void {
  const usage = response.usageMetadata;
  if (usage !== null && typeof usage === 'object' && isCount(usage.promptTokenCount)) {
    attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = usage.promptTokenCount;
    return;
  }
  const embeddings = response.embeddings;
  if (!Array.isArray(embeddings)) return;
  let total = 0;
  let seen = false;
  for (const e of embeddings) {
    const count = e?.statistics?.tokenCount;
    if (isCount(count)) {
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
  const reasons = finishReasons(response.candidates);
  if (reasons) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
}

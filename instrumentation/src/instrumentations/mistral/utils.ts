/**
 * Pure helpers for the Mistral (`@mistralai/mistralai`) instrumentation: request attributes, usage,
 * the guard verdict on a copy of the request. No OpenTelemetry state here, so they are unit-testable.
 *
 * The SDK hands back parsed objects with camelCase fields (`promptTokens`, `finishReason`, ...);
 * fields its schema does not know stay as sent (2.x: on the object, snake_case; 1.x: under
 * `additionalProperties`).
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
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_PROVIDER_MISTRAL_AI,
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

/** The patched SDK methods. */
export enum MistralOperation {
  /** chat.complete */
  Complete = 0,
  /** chat.stream */
  Stream = 1,
  /** embeddings.create */
  Embed = 2,
}

export type ServerInfo = ServerAddress;

export function operationName(op: MistralOperation): string {
  return op === MistralOperation.Embed ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_CHAT;
}

/** server.address / port from the SDK object's `_baseURL` (a URL; both majors' ClientSDK set it). */
export function serverInfo(sdk: unknown): ServerInfo {
  try {
    const base = (sdk as AnyRecord | undefined)?._baseURL as unknown;
    const u =
      base instanceof URL ? base : typeof base === 'string' && base !== '' ? new URL(base) : undefined;
    return u ? serverOfURL(u) : { address: undefined, port: undefined };
  } catch {
    return { address: undefined, port: undefined };
  }
}

export const requestedModel: (request: AnyRecord) => string | undefined = modelOf;

export function requestedMaxTokens(op: MistralOperation, request: AnyRecord): number | undefined {
  if (op === MistralOperation.Embed) return undefined;
  return typeof request.maxTokens === 'number' ? request.maxTokens : undefined;
}

/** Request-side span attributes. Reads a few scalar fields; never serialises messages. */
export function requestAttributes(op: MistralOperation, request: AnyRecord, server: ServerInfo): Attributes {
  const generation =
    op === MistralOperation.Embed
      ? undefined
      : {
          stream: op === MistralOperation.Stream,
          maxTokens: requestedMaxTokens(op, request),
          temperature: request.temperature,
        };
  return genAIRequestAttributes(
    operationName(op),
    GEN_AI_PROVIDER_MISTRAL_AI,
    requestedModel(request),
    server,
    generation,
  );
}

export function spanName(op: MistralOperation, request: AnyRecord): string {
  return operationSpanName(operationName(op), requestedModel(request));
}

/** The request to send after a guard verdict: a shallow copy with `model` / `maxTokens` replaced. */
export function requestWithVerdict(
  op: MistralOperation,
  request: AnyRecord,
  verdict: GuardVerdict,
): AnyRecord {
  const clamp = verdict.maxTokens !== undefined && op !== MistralOperation.Embed;
  if (verdict.model === undefined && !clamp) return request;
  const out: AnyRecord = { ...request };
  if (verdict.model !== undefined) out.model = verdict.model;
  if (clamp) out.maxTokens = verdict.maxTokens;
  return out;
}

/** A usage field the SDK schema does not model: top level (2.x) or under additionalProperties (1.x). */
function extraField(usage: AnyRecord, key: string): AnyRecord | undefined {
  const v = usage[key] ?? usage.additionalProperties?.[key];
  return v !== null && typeof v === 'object' ? (v as AnyRecord) : undefined;
}

/**
 * Usage attributes from a Mistral usage object. `prompt_tokens` already includes cached tokens
 * (`prompt_tokens_details.cached_tokens`) and `completion_tokens` reasoning tokens, as for OpenAI.
 */
export function setUsageAttributes(attrs: Attributes, usage: AnyRecord | null | undefined): void {
  if (usage === null || typeof usage !== 'object') return;
  const input = usage.promptTokens ?? usage.prompt_tokens;
  const output = usage.completionTokens ?? usage.completion_tokens;
  if (isCount(input)) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = input;
  if (isCount(output)) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = output;
  const cached = extraField(usage, 'prompt_tokens_details')?.cached_tokens;
  if (isCount(cached)) attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached;
  const reasoning = extraField(usage, 'completion_tokens_details')?.reasoning_tokens;
  if (isCount(reasoning)) attrs[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning;
}

/** id, model and finish reasons of a ChatCompletionResponse, CompletionChunk or EmbeddingResponse. */
export function setResponseAttributes(attrs: Attributes, response: AnyRecord): void {
  if (typeof response.id === 'string' && response.id !== '') attrs[ATTR_GEN_AI_RESPONSE_ID] = response.id;
  if (typeof response.model === 'string' && response.model !== '')
    attrs[ATTR_GEN_AI_RESPONSE_MODEL] = response.model;
  const reasons = finishReasons(response.choices);
  if (reasons) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
}

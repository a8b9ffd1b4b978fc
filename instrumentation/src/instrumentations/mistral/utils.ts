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
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_PROVIDER_MISTRAL_AI,
} from '../../semconv';

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

export interface ServerInfo {
  address: string | undefined;
  port: number | undefined;
}

export function operationName(op: MistralOperation): string {
  return op === MistralOperation.Embed ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_CHAT;
}

/** server.address / port from the SDK object's `_baseURL` (a URL; both majors' ClientSDK set it). */
export function serverInfo(sdk: unknown): ServerInfo {
  try {
    const base = (sdk as AnyRecord | undefined)?._baseURL as unknown;
    const u =
      base instanceof URL ? base : typeof base === 'string' && base !== '' ? new URL(base) : undefined;
    if (!u) return { address: undefined, port: undefined };
    const address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
    return { address, port };
  } catch {
    return { address: undefined, port: undefined };
  }
}

export function requestedModel(request: AnyRecord): string | undefined {
  return typeof request.model === 'string' ? request.model : undefined;
}

export function requestedMaxTokens(op: MistralOperation, request: AnyRecord): number | undefined {
  if (op === MistralOperation.Embed) return undefined;
  return typeof request.maxTokens === 'number' ? request.maxTokens : undefined;
}

/** Request-side span attributes. Reads a few scalar fields; never serialises messages. */
export function requestAttributes(op: MistralOperation, request: AnyRecord, server: ServerInfo): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operationName(op),
    [ATTR_GEN_AI_PROVIDER_NAME]: GEN_AI_PROVIDER_MISTRAL_AI,
  };
  const model = requestedModel(request);
  if (model !== undefined) attrs[ATTR_GEN_AI_REQUEST_MODEL] = model;
  if (server.address !== undefined) attrs[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attrs[ATTR_SERVER_PORT] = server.port;
  if (op !== MistralOperation.Embed) {
    attrs[ATTR_GEN_AI_REQUEST_STREAM] = op === MistralOperation.Stream;
    const maxTokens = requestedMaxTokens(op, request);
    if (maxTokens !== undefined) attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
    if (typeof request.temperature === 'number') attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = request.temperature;
  }
  return attrs;
}

export function spanName(op: MistralOperation, request: AnyRecord): string {
  const model = requestedModel(request);
  return model ? `${operationName(op)} ${model}` : operationName(op);
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

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
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
  if (num(input)) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = input;
  if (num(output)) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = output;
  const cached = extraField(usage, 'prompt_tokens_details')?.cached_tokens;
  if (num(cached)) attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached;
  const reasoning = extraField(usage, 'completion_tokens_details')?.reasoning_tokens;
  if (num(reasoning)) attrs[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning;
}

/** id, model and finish reasons of a ChatCompletionResponse, CompletionChunk or EmbeddingResponse. */
export function setResponseAttributes(attrs: Attributes, response: AnyRecord): void {
  if (typeof response.id === 'string' && response.id !== '') attrs[ATTR_GEN_AI_RESPONSE_ID] = response.id;
  if (typeof response.model === 'string' && response.model !== '')
    attrs[ATTR_GEN_AI_RESPONSE_MODEL] = response.model;
  const choices = response.choices;
  if (Array.isArray(choices)) {
    const reasons: string[] = [];
    for (const c of choices) if (typeof c?.finishReason === 'string') reasons.push(c.finishReason);
    if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
  }
}

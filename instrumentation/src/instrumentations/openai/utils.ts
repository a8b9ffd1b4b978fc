/**
 * Pure helpers for the OpenAI instrumentation: request attributes, usage extraction, server
 * address. No OpenTelemetry state here, so they are unit-testable.
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
  ATTR_OPENAI_API_TYPE,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_PROVIDER_AZURE_OPENAI,
  GEN_AI_PROVIDER_OPENAI,
  OPENAI_API_TYPE_CHAT_COMPLETIONS,
  OPENAI_API_TYPE_RESPONSES,
} from '../../semconv';
import { providerForHost } from './providers';

/** The three patched operations. */
export enum OpenAIOperation {
  ChatCompletions = 0,
  Responses = 1,
  Embeddings = 2,
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyRecord = Record<string, any>;

export interface ServerInfo {
  address: string | undefined;
  port: number | undefined;
  provider: string;
}

const serverInfoCache = new WeakMap<object, ServerInfo>();

/** server.address / server.port / provider from the client's baseURL; cached per client object. */
export function serverInfo(client: unknown): ServerInfo {
  if (client === null || typeof client !== 'object')
    return { address: undefined, port: undefined, provider: GEN_AI_PROVIDER_OPENAI };
  let info = serverInfoCache.get(client);
  if (info) return info;
  info = computeServerInfo(client as AnyRecord);
  serverInfoCache.set(client, info);
  return info;
}

function computeServerInfo(client: AnyRecord): ServerInfo {
  let address: string | undefined;
  let port: number | undefined;
  try {
    const base = client.baseURL;
    if (typeof base === 'string' && base !== '') {
      const u = new URL(base);
      address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      port = u.port
        ? Number(u.port)
        : u.protocol === 'http:'
          ? 80
          : u.protocol === 'https:'
            ? 443
            : undefined;
    }
  } catch {
    // unparsable baseURL: leave the address out
  }
  // An AzureOpenAI client is Azure whatever its host (custom domains, API Management gateways).
  const provider =
    client.constructor?.name === 'AzureOpenAI'
      ? GEN_AI_PROVIDER_AZURE_OPENAI
      : providerForHost(address, port);
  return { address, port, provider };
}

export function operationName(op: OpenAIOperation): string {
  return op === OpenAIOperation.Embeddings ? GEN_AI_OPERATION_EMBEDDINGS : GEN_AI_OPERATION_CHAT;
}

/** Request-side span attributes. Reads a few scalar fields of the body; never serialises it. */
export function requestAttributes(op: OpenAIOperation, body: AnyRecord, server: ServerInfo): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operationName(op),
    [ATTR_GEN_AI_PROVIDER_NAME]: server.provider,
  };
  const model = body.model;
  if (typeof model === 'string') attrs[ATTR_GEN_AI_REQUEST_MODEL] = model;
  if (server.address !== undefined) attrs[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attrs[ATTR_SERVER_PORT] = server.port;
  if (op !== OpenAIOperation.Embeddings) {
    attrs[ATTR_OPENAI_API_TYPE] =
      op === OpenAIOperation.Responses ? OPENAI_API_TYPE_RESPONSES : OPENAI_API_TYPE_CHAT_COMPLETIONS;
    attrs[ATTR_GEN_AI_REQUEST_STREAM] = body.stream === true;
    const maxTokens = requestedMaxTokens(op, body);
    if (maxTokens !== undefined) attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
    if (typeof body.temperature === 'number') attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = body.temperature;
  }
  return attrs;
}

/** The max output tokens the request asks for, whichever field the app used. */
export function requestedMaxTokens(op: OpenAIOperation, body: AnyRecord): number | undefined {
  if (op === OpenAIOperation.Embeddings) return undefined;
  const v =
    op === OpenAIOperation.Responses
      ? body.max_output_tokens
      : (body.max_completion_tokens ?? body.max_tokens);
  return typeof v === 'number' ? v : undefined;
}

/** The body to send after a guard verdict: a shallow copy with the model and/or max tokens replaced. */
export function bodyWithVerdict(op: OpenAIOperation, body: AnyRecord, verdict: GuardVerdict): AnyRecord {
  if (verdict.model === undefined && verdict.maxTokens === undefined) return body;
  const out: AnyRecord = { ...body };
  if (verdict.model !== undefined) out.model = verdict.model;
  if (verdict.maxTokens !== undefined && op !== OpenAIOperation.Embeddings) {
    if (op === OpenAIOperation.Responses) out.max_output_tokens = verdict.maxTokens;
    else if (body.max_tokens !== undefined && body.max_completion_tokens === undefined)
      out.max_tokens = verdict.maxTokens;
    else out.max_completion_tokens = verdict.maxTokens;
  }
  return out;
}

export function spanName(op: OpenAIOperation, body: AnyRecord): string {
  const model = body.model;
  return typeof model === 'string' && model !== '' ? `${operationName(op)} ${model}` : operationName(op);
}

/**
 * For a streamed chat completion without `stream_options.include_usage: true`, the body to send
 * instead (a shallow copy with include_usage set; the app's object is not mutated), else undefined.
 */
export function bodyWithStreamUsage(body: AnyRecord): AnyRecord | undefined {
  if (body.stream !== true) return undefined;
  const so = body.stream_options;
  if (so !== null && typeof so === 'object' && so.include_usage === true) return undefined;
  return {
    ...body,
    stream_options:
      so !== null && typeof so === 'object' ? { ...so, include_usage: true } : { include_usage: true },
  };
}

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Usage attributes from an OpenAI usage object. Handles both shapes: Chat Completions / Embeddings
 * (`prompt_tokens`, `completion_tokens`, `*_tokens_details`) and Responses (`input_tokens`,
 * `output_tokens`, `*_tokens_details`). OpenAI's input count already includes cached tokens.
 */
export function setUsageAttributes(attrs: Attributes, usage: AnyRecord | null | undefined): void {
  if (usage === null || typeof usage !== 'object') return;
  const input = num(usage.prompt_tokens) ? usage.prompt_tokens : usage.input_tokens;
  const output = num(usage.completion_tokens) ? usage.completion_tokens : usage.output_tokens;
  if (num(input)) attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = input;
  if (num(output)) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = output;
  const inDetails = usage.prompt_tokens_details ?? usage.input_tokens_details;
  if (inDetails && num(inDetails.cached_tokens))
    attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = inDetails.cached_tokens;
  const outDetails = usage.completion_tokens_details ?? usage.output_tokens_details;
  if (outDetails && num(outDetails.reasoning_tokens)) {
    attrs[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = outDetails.reasoning_tokens;
  }
}

/**
 * Response-side attributes from a parsed result (a chat completion, a Responses API response, an
 * embeddings list): id, model, service tier, finish reasons, usage.
 */
export function setResultAttributes(attrs: Attributes, op: OpenAIOperation, r: AnyRecord): void {
  if (typeof r.id === 'string') attrs[ATTR_GEN_AI_RESPONSE_ID] = r.id;
  if (typeof r.model === 'string') attrs[ATTR_GEN_AI_RESPONSE_MODEL] = r.model;
  if (typeof r.service_tier === 'string') attrs[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = r.service_tier;
  if (op === OpenAIOperation.ChatCompletions) {
    const choices = r.choices;
    if (Array.isArray(choices)) {
      const reasons: string[] = [];
      for (let i = 0; i < choices.length; i++) {
        const fr = choices[i]?.finish_reason;
        if (typeof fr === 'string') reasons.push(fr);
      }
      if (reasons.length) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
    }
  } else if (op === OpenAIOperation.Responses) {
    const reason = responsesFinishReason(r);
    if (reason) attrs[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [reason];
  }
  setUsageAttributes(attrs, r.usage);
}

/** error.type of a Responses API response that ended `failed`: its error code, else `response.failed`. */
export function responseFailedType(r: AnyRecord): string {
  const code = r.error?.code;
  return typeof code === 'string' && code !== '' ? code : 'response.failed';
}

/** A Responses API response's finish reason: its status, or why it is `incomplete`. */
export function responsesFinishReason(r: AnyRecord): string | undefined {
  const status = r.status;
  // A background response still running has no finish reason yet.
  if (status === 'queued' || status === 'in_progress') return undefined;
  if (status === 'incomplete') {
    const reason = r.incomplete_details?.reason;
    return typeof reason === 'string' ? reason : status;
  }
  return typeof status === 'string' ? status : undefined;
}

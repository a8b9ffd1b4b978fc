/**
 * Pure helpers for the Anthropic instrumentation: request attributes, usage, verdicts, error types.
 * No OpenTelemetry state here, so they are unit-testable.
 */
import type { Attributes } from '@opentelemetry/api';
import type { GuardVerdict } from '../../guard/hook';
import {
  ATTR_ANTHROPIC_RESPONSE_SERVICE_TIER,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_PROVIDER_ANTHROPIC,
} from '../../semconv';
import { sdkErrorReader } from '../shared/errors';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyRecord = Record<string, any>;

export interface ServerInfo {
  address: string | undefined;
  port: number | undefined;
}

const serverInfoCache = new WeakMap<object, ServerInfo>();

/** server.address / server.port from the client's baseURL; cached per client object. */
export function serverInfo(client: unknown): ServerInfo {
  if (client === null || typeof client !== 'object') return { address: undefined, port: undefined };
  let info = serverInfoCache.get(client);
  if (!info) {
    info = parseBaseURL((client as AnyRecord).baseURL);
    serverInfoCache.set(client, info);
  }
  return info;
}

function parseBaseURL(base: unknown): ServerInfo {
  try {
    if (typeof base !== 'string' || base === '') return { address: undefined, port: undefined };
    const u = new URL(base);
    const address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = u.port
      ? Number(u.port)
      : u.protocol === 'http:'
        ? 80
        : u.protocol === 'https:'
          ? 443
          : undefined;
    return { address, port };
  } catch {
    return { address: undefined, port: undefined };
  }
}

/** Request-side span attributes of `messages.create`. Reads a few scalar fields; never the prompt. */
export function requestAttributes(body: AnyRecord, server: ServerInfo): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_CHAT,
    [ATTR_GEN_AI_PROVIDER_NAME]: GEN_AI_PROVIDER_ANTHROPIC,
    [ATTR_GEN_AI_REQUEST_STREAM]: body.stream === true,
  };
  if (typeof body.model === 'string') attrs[ATTR_GEN_AI_REQUEST_MODEL] = body.model;
  if (typeof body.max_tokens === 'number') attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = body.max_tokens;
  if (typeof body.temperature === 'number') attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = body.temperature;
  if (server.address !== undefined) attrs[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attrs[ATTR_SERVER_PORT] = server.port;
  return attrs;
}

export function spanName(body: AnyRecord): string {
  return typeof body.model === 'string' && body.model !== ''
    ? `${GEN_AI_OPERATION_CHAT} ${body.model}`
    : GEN_AI_OPERATION_CHAT;
}

/**
 * The request to send after a guard verdict: a shallow copy with `model` and/or `max_tokens`
 * replaced (Anthropic's own names; `max_tokens` is required there, so a clamp always has a field).
 */
export function bodyWithVerdict(body: AnyRecord, verdict: GuardVerdict | undefined): AnyRecord {
  if (!verdict || (verdict.model === undefined && verdict.maxTokens === undefined)) return body;
  const out: AnyRecord = { ...body };
  if (verdict.model !== undefined) out.model = verdict.model;
  if (verdict.maxTokens !== undefined) out.max_tokens = verdict.maxTokens;
  return out;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * Usage attributes from an Anthropic usage object. Anthropic's `input_tokens` EXCLUDES cache reads
 * and cache writes; the span contract's `gen_ai.usage.input_tokens` is the total, so they are added.
 * Writes to the 1-hour cache cost more than 5-minute ones, so their share is recorded when non-zero.
 */
export function setUsageAttributes(attrs: Attributes, usage: AnyRecord | null | undefined): void {
  if (usage === null || typeof usage !== 'object') return;
  const input = count(usage.input_tokens);
  const cacheRead = count(usage.cache_read_input_tokens);
  const cacheWrite = count(usage.cache_creation_input_tokens);
  const output = count(usage.output_tokens);
  if (input !== undefined || cacheRead !== undefined || cacheWrite !== undefined) {
    attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = (input ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0);
  }
  if (cacheRead !== undefined) attrs[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cacheRead;
  if (cacheWrite !== undefined) attrs[ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cacheWrite;
  const cacheWrite1h = count(usage.cache_creation?.ephemeral_1h_input_tokens);
  if (cacheWrite1h) attrs[ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS] = cacheWrite1h;
  if (output !== undefined) attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = output;
  if (typeof usage.service_tier === 'string')
    attrs[ATTR_ANTHROPIC_RESPONSE_SERVICE_TIER] = usage.service_tier;
}

/**
 * Folds a streamed usage into what the stream reported so far. `message_start` carries the input
 * side (and a provisional output count); each `message_delta` carries cumulative totals, which
 * replace earlier values field by field (null fields are not reported).
 */
export function mergeUsage(into: AnyRecord | undefined, delta: unknown): AnyRecord | undefined {
  if (delta === null || typeof delta !== 'object') return into;
  const out: AnyRecord = { ...into };
  for (const [k, v] of Object.entries(delta as AnyRecord)) {
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The Anthropic SDK's errors: as OpenAI's; for the generic APIError of an `error` event inside a
 * stream, Anthropic's own error type (`overloaded_error`), which says more than the class.
 */
export const ANTHROPIC_ERRORS = sdkErrorReader({
  abortNames: ['AbortError', 'APIUserAbortError'],
  apiType: (err) => (err.constructor?.name === 'APIError' ? (err.error?.error?.type ?? err.type) : undefined),
});

/** error.type of an Anthropic SDK error. */
export const errorType = ANTHROPIC_ERRORS.type;

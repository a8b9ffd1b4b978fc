/**
 * Request-side span attributes and names every provider builds the same way from the few scalar
 * fields it reads (never message contents). Pure functions, no OpenTelemetry state.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '../../semconv';

export interface ServerAddress {
  address: string | undefined;
  port: number | undefined;
}

/** What a generation (not an embedding) request asks for. */
export interface GenerationRequest {
  stream: boolean;
  maxTokens: number | undefined;
  temperature: unknown;
}

/** server.address (IPv6 brackets dropped) and server.port (else the scheme's: 80 for http, else 443). */
export function serverOfURL(u: URL): ServerAddress {
  const address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
  return { address, port };
}

/** Operation, provider, model and server attributes, plus stream / max tokens / temperature for a generation. */
export function requestAttributes(
  operation: string,
  provider: string,
  model: string | undefined,
  server: ServerAddress,
  generation?: GenerationRequest,
): Attributes {
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operation,
    [ATTR_GEN_AI_PROVIDER_NAME]: provider,
  };
  if (model !== undefined) attrs[ATTR_GEN_AI_REQUEST_MODEL] = model;
  if (server.address !== undefined) attrs[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attrs[ATTR_SERVER_PORT] = server.port;
  if (generation) {
    attrs[ATTR_GEN_AI_REQUEST_STREAM] = generation.stream;
    if (generation.maxTokens !== undefined) attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = generation.maxTokens;
    if (typeof generation.temperature === 'number')
      attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = generation.temperature;
  }
  return attrs;
}

/** `{operation} {model}`, or the operation alone when the model is unknown. */
export function spanName(operation: string, model: string | undefined): string {
  return model ? `${operation} ${model}` : operation;
}

/** A string `model` field, else undefined. */
export function modelOf(params: { model?: unknown }): string | undefined {
  return typeof params.model === 'string' ? params.model : undefined;
}

/** A finite number (token counts). */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** The string `finishReason`s of a list of candidates / choices, in order; undefined when none. */
export function finishReasons(list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const reasons: string[] = [];
  for (const c of list) if (typeof c?.finishReason === 'string') reasons.push(c.finishReason);
  return reasons.length ? reasons : undefined;
}

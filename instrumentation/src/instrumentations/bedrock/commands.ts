/**
 * The Bedrock runtime commands tokenledger meters, what their input says (model, max tokens,
 * temperature), and the input to send after a guard verdict. Pure helpers, unit-testable.
 */
import type { Attributes } from '@opentelemetry/api';
import type { GuardVerdict } from '../../guard/hook';
import {
  ATTR_AWS_BEDROCK_COMMAND,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_PROVIDER_AWS_BEDROCK,
} from '../../semconv';
import type { AnyRecord } from './usage';

export enum BedrockCommand {
  Converse = 'Converse',
  ConverseStream = 'ConverseStream',
  InvokeModel = 'InvokeModel',
  InvokeModelWithResponseStream = 'InvokeModelWithResponseStream',
}

const BY_CLASS_NAME: Record<string, BedrockCommand> = {
  ConverseCommand: BedrockCommand.Converse,
  ConverseStreamCommand: BedrockCommand.ConverseStream,
  InvokeModelCommand: BedrockCommand.InvokeModel,
  InvokeModelWithResponseStreamCommand: BedrockCommand.InvokeModelWithResponseStream,
};

/** The metered command a `send()` argument is, by class name (works across copies of the SDK). */
export function commandKind(command: unknown): BedrockCommand | undefined {
  if (command === null || typeof command !== 'object') return undefined;
  const name = (command as AnyRecord).constructor?.name;
  return typeof name === 'string' ? BY_CLASS_NAME[name] : undefined;
}

function isStreamCommand(kind: BedrockCommand): boolean {
  return kind === BedrockCommand.ConverseStream || kind === BedrockCommand.InvokeModelWithResponseStream;
}

function isInvokeCommand(kind: BedrockCommand): boolean {
  return kind === BedrockCommand.InvokeModel || kind === BedrockCommand.InvokeModelWithResponseStream;
}

/** Model vendors as they prefix Bedrock model ids (`anthropic.claude-...`, `meta.llama3-...`). */
const VENDORS = new Set([
  'anthropic',
  'amazon',
  'meta',
  'mistral',
  'cohere',
  'ai21',
  'deepseek',
  'openai',
  'qwen',
  'writer',
]);

/**
 * The vendor of a model id, ARN or inference profile id: `us.anthropic.claude-...` and
 * `arn:aws:bedrock:...:inference-profile/eu.anthropic.claude-...` are both `anthropic`.
 */
export function modelVendor(modelId: string): string | undefined {
  const last = modelId.slice(modelId.lastIndexOf('/') + 1).toLowerCase();
  const parts = last.split('.');
  for (let i = 0; i < parts.length - 1 && i < 3; i++) if (VENDORS.has(parts[i]!)) return parts[i];
  return undefined;
}

export function operationName(kind: BedrockCommand, modelId: string | undefined): string {
  return isInvokeCommand(kind) && modelId !== undefined && /embed/i.test(modelId)
    ? GEN_AI_OPERATION_EMBEDDINGS
    : GEN_AI_OPERATION_CHAT;
}

export function modelIdOf(input: AnyRecord): string | undefined {
  return typeof input.modelId === 'string' && input.modelId !== '' ? input.modelId : undefined;
}

/** Request-side span attributes; reads scalar fields only (an InvokeModel body is not parsed here). */
export function requestAttributes(kind: BedrockCommand, input: AnyRecord): Attributes {
  const modelId = modelIdOf(input);
  const attrs: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operationName(kind, modelId),
    [ATTR_GEN_AI_PROVIDER_NAME]: GEN_AI_PROVIDER_AWS_BEDROCK,
    [ATTR_AWS_BEDROCK_COMMAND]: kind,
    [ATTR_GEN_AI_REQUEST_STREAM]: isStreamCommand(kind),
  };
  if (modelId !== undefined) attrs[ATTR_GEN_AI_REQUEST_MODEL] = modelId;
  if (!isInvokeCommand(kind)) {
    const cfg = input.inferenceConfig;
    if (cfg !== null && typeof cfg === 'object') {
      if (typeof cfg.maxTokens === 'number') attrs[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = cfg.maxTokens;
      if (typeof cfg.temperature === 'number') attrs[ATTR_GEN_AI_REQUEST_TEMPERATURE] = cfg.temperature;
    }
  }
  return attrs;
}

export function spanName(kind: BedrockCommand, input: AnyRecord): string {
  const modelId = modelIdOf(input);
  const op = operationName(kind, modelId);
  return modelId !== undefined ? `${op} ${modelId}` : op;
}

// --- InvokeModel bodies: the model family's own max-tokens field ---

/** Path of the max output tokens field in an InvokeModel body, by model vendor and body shape. */
function maxTokensPath(vendor: string | undefined, body: AnyRecord): string[] {
  if (vendor === 'meta') return ['max_gen_len'];
  if (vendor === 'amazon') {
    if (body.textGenerationConfig !== undefined) return ['textGenerationConfig', 'maxTokenCount'];
    if (body.inferenceConfig?.max_new_tokens !== undefined) return ['inferenceConfig', 'max_new_tokens'];
    return ['inferenceConfig', 'maxTokens'];
  }
  return ['max_tokens'];
}

function parseBody(body: unknown): AnyRecord | undefined {
  try {
    const text =
      typeof body === 'string'
        ? body
        : body instanceof Uint8Array
          ? new TextDecoder().decode(body)
          : undefined;
    if (text === undefined) return undefined;
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as AnyRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Max output tokens the app asked for. For InvokeModel this parses the body: call it only when needed. */
export function requestedMaxTokens(kind: BedrockCommand, input: AnyRecord): number | undefined {
  if (!isInvokeCommand(kind)) {
    const v = input.inferenceConfig?.maxTokens;
    return typeof v === 'number' ? v : undefined;
  }
  const body = parseBody(input.body);
  if (!body) return undefined;
  let v: unknown = body;
  for (const key of maxTokensPath(modelVendor(modelIdOf(input) ?? ''), body)) v = (v as AnyRecord)?.[key];
  return typeof v === 'number' ? v : undefined;
}

/**
 * The command input to send after a guard verdict: a shallow copy with `modelId` and the max output
 * tokens replaced (Converse: inferenceConfig.maxTokens; InvokeModel: the family's body field, the
 * body re-serialised in the type the app gave). The app's objects are never mutated.
 */
export function inputWithVerdict(kind: BedrockCommand, input: AnyRecord, verdict: GuardVerdict): AnyRecord {
  if (verdict.model === undefined && verdict.maxTokens === undefined) return input;
  const out: AnyRecord = { ...input };
  if (verdict.model !== undefined) out.modelId = verdict.model;
  if (verdict.maxTokens === undefined) return out;
  if (!isInvokeCommand(kind)) {
    out.inferenceConfig = { ...input.inferenceConfig, maxTokens: verdict.maxTokens };
    return out;
  }
  const body = parseBody(input.body);
  if (!body) return out;
  const path = maxTokensPath(modelVendor(out.modelId ?? ''), body);
  const copy: AnyRecord = { ...body };
  let target = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    target[key] = { ...target[key] };
    target = target[key] as AnyRecord;
  }
  target[path[path.length - 1]!] = verdict.maxTokens;
  const json = JSON.stringify(copy);
  out.body = typeof input.body === 'string' ? json : new TextEncoder().encode(json);
  return out;
}

/**
 * The command to send with another input: an object inheriting from the app's command (its class,
 * middleware stack and options) with its own `input`, so the app's command stays as it was.
 */
export function commandWithInput<T extends object>(command: T, input: AnyRecord): T {
  const copy = Object.create(command) as T & { input: AnyRecord };
  copy.input = input;
  return copy;
}

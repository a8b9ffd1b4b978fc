/**
 * Pre-execution cost estimates: the same Pricer as ingestion (catalog + policy overrides), applied
 * to the tokens a job is about to use — given as counts, or as chat messages counted with the
 * model's tokenizer — times the number of calls the job will make. Money stays Decimal.
 */
import Decimal from 'decimal.js';
import type { EstimateRequest, EstimateResponse, Unchecked, UnitPricesMtok } from 'tokenledger/wire';
import { callToPrice } from '../../core/call-builder';
import type { Pricer } from '../../pricing/pricer';
import { countChatTokens, type ChatMessage } from './tokens';

export interface EstimateInput {
  model: string;
  provider?: string;
  inputTokens?: number;
  messages?: ChatMessage[];
  outputTokens: number;
  cachedInputTokens?: number;
  /** How many such calls the job makes (default 1). */
  count?: number;
}

export class EstimateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EstimateError';
  }
}

const MAX_COUNT = 1e9;

function nonNegativeInt(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new EstimateError(`${field} must be a whole number >= 0`);
  return v;
}

/** Validates a JSON body (snake_case or camelCase fields). */
export function parseEstimateInput(body: unknown): EstimateInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new EstimateError('expected a JSON object { model, input_tokens | messages, output_tokens }');
  // The wire's snake_case fields, or their camelCase spelling.
  const b = body as Unchecked<EstimateRequest> & {
    inputTokens?: unknown;
    outputTokens?: unknown;
    cachedInputTokens?: unknown;
  };
  const model = b.model;
  if (typeof model !== 'string' || model.trim() === '' || model.length > 200)
    throw new EstimateError('model is required, e.g. "gpt-4o"');
  const provider = b.provider;
  if (provider !== undefined && typeof provider !== 'string')
    throw new EstimateError('provider must be a string');
  const inputTokens = nonNegativeInt(b.input_tokens ?? b.inputTokens, 'input_tokens');
  const messages = b.messages;
  if (messages !== undefined) {
    if (!Array.isArray(messages) || messages.length > 10_000)
      throw new EstimateError('messages must be an array of { role, content }');
    for (const m of messages)
      if (m === null || typeof m !== 'object' || typeof (m as ChatMessage).role !== 'string')
        throw new EstimateError('each message needs a role and content');
  }
  if ((inputTokens === undefined) === (messages === undefined))
    throw new EstimateError('give either input_tokens or messages');
  const outputTokens = nonNegativeInt(b.output_tokens ?? b.outputTokens, 'output_tokens');
  if (outputTokens === undefined)
    throw new EstimateError(
      'output_tokens is required: the most the job lets the model write (its max_tokens)',
    );
  const count = nonNegativeInt(b.count, 'count') ?? 1;
  if (count < 1 || count > MAX_COUNT) throw new EstimateError(`count must be 1..${MAX_COUNT}`);
  return {
    model: model.trim(),
    ...(typeof provider === 'string' && provider.trim() !== '' ? { provider: provider.trim() } : {}),
    ...(inputTokens !== undefined ? { inputTokens } : {}),
    ...(messages !== undefined ? { messages: messages as ChatMessage[] } : {}),
    outputTokens,
    cachedInputTokens:
      nonNegativeInt(b.cached_input_tokens ?? b.cachedInputTokens, 'cached_input_tokens') ?? 0,
    count,
  };
}

export function estimateCost(pricer: Pricer, input: EstimateInput): EstimateResponse {
  let inputTokens = input.inputTokens ?? 0;
  let tokenizer: string | undefined;
  let note: string | undefined;
  if (input.messages) {
    const counted = countChatTokens(input.model, input.messages);
    inputTokens = counted.tokens;
    tokenizer = counted.tokenizer;
    if (counted.approximate)
      note = `input counted with ${counted.tokenizer}; ${input.model}'s own tokenizer may differ by a few percent`;
  }
  const cached = Math.min(input.cachedInputTokens ?? 0, inputTokens);
  const call = callToPrice(input.provider ?? '', input.model, 'estimate', {
    inputTokens,
    outputTokens: input.outputTokens,
    cacheReadTokens: cached,
  });
  const priced = pricer.price(call);
  const count = input.count ?? 1;
  const perCall = priced.priced ? new Decimal(priced.costUsd) : undefined;
  return {
    model: input.model,
    provider: priced.pricedProvider || input.provider || '',
    priced: priced.priced,
    priced_model: priced.pricedModel,
    input_tokens: inputTokens,
    output_tokens: input.outputTokens,
    cached_input_tokens: cached,
    count,
    cost_per_call_usd: perCall ? perCall.toFixed() : null,
    cost_usd: perCall ? perCall.times(count).toFixed() : null,
    unit_prices_mtok: priced.priced ? unitPrices(pricer, input.provider ?? '', input.model) : null,
    ...(tokenizer ? { tokenizer } : {}),
    ...(priced.priced
      ? note
        ? { note }
        : {}
      : { note: `no price for ${input.model}: add one under pricing.overrides in the policy file` }),
  };
}

/** The per-million-token prices of a model: the price of a million of each kind of token alone. */
function unitPrices(pricer: Pricer, provider: string, model: string): UnitPricesMtok {
  const M = 1_000_000;
  const cost = (over: Parameters<typeof callToPrice>[3]): string =>
    pricer.price(callToPrice(provider, model, 'estimate', over)).costUsd;
  return {
    input: cost({ inputTokens: M }),
    cached_input: cost({ inputTokens: M, cacheReadTokens: M }),
    output: cost({ outputTokens: M }),
  };
}

/** `POST /v1/estimate`: what a call or a job will cost before it runs, priced by the collector. */

export interface EstimateRequest {
  model: string;
  provider?: string;
  /** Input tokens per call; or `messages`, which the collector counts with a tokenizer. */
  input_tokens?: number;
  messages?: ChatMessage[];
  /** Output tokens per call: the max_tokens the job sets. */
  output_tokens: number;
  cached_input_tokens?: number;
  /** Number of calls in the job (default 1). */
  count?: number;
}

export interface ChatMessage {
  role: string;
  content: unknown;
  name?: string;
}

/** USD per million input, cached-input and output tokens (decimal strings). */
export interface UnitPricesMtok {
  input: string;
  cached_input: string;
  output: string;
}

export interface EstimateResponse {
  model: string;
  provider: string;
  priced: boolean;
  /** The catalog entry the price came from ('' when unpriced). */
  priced_model: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  count: number;
  /** Per call and for the whole job; null when the model has no price. */
  cost_per_call_usd: string | null;
  cost_usd: string | null;
  tokenizer?: string;
  note?: string;
  /** The prices this estimate used (null when unpriced), so a client can cost its calls without asking again. */
  unit_prices_mtok: UnitPricesMtok | null;
}

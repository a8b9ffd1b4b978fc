/** PricedCall → the llm_calls row (column names as in clickhouse/migrations/0001_llm_calls.sql). */
import type { PricedCall } from '../model';

export interface CallRow {
  trace_id: string;
  span_id: string;
  start_time: string;
  duration_ms: number;
  provider: string;
  operation: string;
  request_model: string;
  response_model: string;
  priced_provider: string;
  priced_model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  streaming: number;
  error_type: string;
  server_address: string;
  enforcement: string;
  source: string;
  team: string;
  department: string;
  cost_center: string;
  feature: string;
  workflow: string;
  customer: string;
  user_tier: string;
  environment: string;
  service: string;
  end_user: string;
  approval_id: string;
  cost_usd: string;
  input_cost_usd: string;
  output_cost_usd: string;
  priced: number;
}

const NS_PER_S = 1_000_000_000n;

/**
 * Nanoseconds since the epoch (decimal string) → `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` (UTC), the one text
 * form DateTime64(9) reads exactly. A bare integer string is guessed at by ClickHouse's parser: it
 * reads 19 digits as nanoseconds but refuses 18 (any time before 2001-09-09), which would make a
 * batch with an old or zero timestamp fail, and be retried, forever.
 */
export function nanosToDateTime64(ns: string): string {
  const n = BigInt(ns);
  let seconds = n / NS_PER_S;
  let frac = n % NS_PER_S;
  if (frac < 0n) {
    seconds -= 1n;
    frac += NS_PER_S;
  }
  const date = new Date(Number(seconds) * 1000).toISOString(); // 2026-11-15T12:34:56.000Z
  return `${date.slice(0, 10)} ${date.slice(11, 19)}.${frac.toString().padStart(9, '0')}`;
}

export function toRow(c: PricedCall): CallRow {
  const a = c.attribution;
  return {
    trace_id: c.traceId,
    span_id: c.spanId,
    start_time: nanosToDateTime64(c.startTimeUnixNano),
    duration_ms: c.durationMs,
    provider: c.provider,
    operation: c.operation,
    request_model: c.requestModel,
    response_model: c.responseModel,
    priced_provider: c.pricedProvider,
    priced_model: c.pricedModel,
    input_tokens: c.inputTokens,
    output_tokens: c.outputTokens,
    cache_read_tokens: c.cacheReadTokens,
    cache_write_tokens: c.cacheWriteTokens,
    reasoning_tokens: c.reasoningTokens,
    streaming: c.streaming ? 1 : 0,
    error_type: c.errorType,
    server_address: c.serverAddress,
    enforcement: c.enforcement,
    source: c.source,
    team: a.team,
    department: a.department,
    cost_center: a.costCenter,
    feature: a.feature,
    workflow: a.workflow,
    customer: a.customer,
    user_tier: a.userTier,
    environment: a.environment,
    service: a.service,
    end_user: a.endUser,
    approval_id: a.approvalId,
    // Decimal columns take the exact decimal string.
    cost_usd: c.costUsd,
    input_cost_usd: c.inputCostUsd,
    output_cost_usd: c.outputCostUsd,
    priced: c.priced ? 1 : 0,
  };
}

/**
 * Metered calls written straight into `llm_calls`, as the collector stores a priced call: for the
 * reconciliation suites, which need the meter's side of a seeded month and nothing else.
 */
import type { Storage } from '../../collector/src/storage/client';

export interface MeteredCall {
  provider: string;
  /** The model as priced. */
  model: string;
  service: string;
  /** ISO 8601 instant, UTC. */
  at: string;
  cost: string;
  input?: number;
  /** Cached input read (a part of `input`). */
  cached?: number;
  output?: number;
  /** The service tier the provider served it on (`service_tier`), '' when unknown. */
  tier?: string;
}

/** Inserts the calls; `idPrefix` keeps each suite's trace ids apart. */
export async function insertMeteredCalls(
  storage: Storage,
  calls: MeteredCall[],
  idPrefix: string,
): Promise<void> {
  await storage.client.insert({
    table: `${storage.database}.llm_calls`,
    format: 'JSONEachRow',
    values: calls.map((c, i) => ({
      trace_id: `${idPrefix}${i}`.padEnd(32, '0'),
      span_id: `${idPrefix}${i}`.padEnd(16, '0'),
      start_time: c.at.replace('T', ' ').replace('Z', ''),
      provider: c.provider,
      request_model: c.model,
      response_model: c.model,
      priced_provider: c.provider,
      priced_model: c.model,
      service: c.service,
      input_tokens: c.input ?? 0,
      cache_read_tokens: c.cached ?? 0,
      output_tokens: c.output ?? 0,
      cost_usd: c.cost,
      priced: 1,
      ...(c.tier ? { service_tier: c.tier } : {}),
    })),
  });
}

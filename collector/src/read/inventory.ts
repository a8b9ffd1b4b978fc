/**
 * The AI inventory over a period: which models, providers, services and instrumentations the
 * collector has seen, and the AI API hosts each service calls without GenAI instrumentation.
 */
import Decimal from 'decimal.js';
import { resolvePeriod } from './period';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { MODEL_SQL } from '../storage/rows';

interface InventoryModel {
  provider: string;
  /** The catalog id the calls were priced as (else the model as reported), as every report names it. */
  model: string;
  /** What the application sent (gen_ai.request.model). */
  sent_model: string;
  calls: number;
  spend_usd: string;
  first_seen: string;
  last_seen: string;
}
interface InventoryProvider {
  provider: string;
  calls: number;
  spend_usd: string;
}
interface InventoryService {
  service: string;
  calls: number;
  spend_usd: string;
  providers: string[];
  models: string[];
  sources: string[];
}
interface InventorySource {
  source: string;
  calls: number;
  services: string[];
}
interface UninstrumentedHost {
  service: string;
  host: string;
  provider: string;
  requests: number;
  first_seen: string;
  last_seen: string;
}
export interface Inventory {
  period: string;
  from: string;
  to: string;
  models: InventoryModel[];
  providers: InventoryProvider[];
  services: InventoryService[];
  sources: InventorySource[];
  uninstrumented: UninstrumentedHost[];
}

const RANGE = `start_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
           AND start_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`;

/** llm_calls deduplicated by span key (the raw table converges only at merge time). */
const CALLS = (db: string): string =>
  `(SELECT * FROM ${db}.llm_calls WHERE ${RANGE} LIMIT 1 BY trace_id, span_id)`;
const HTTP = (db: string): string =>
  `(SELECT * FROM ${db}.ai_http_calls WHERE ${RANGE} LIMIT 1 BY trace_id, span_id)`;
const SEEN = `toString(min(start_time)) AS first_seen, toString(max(start_time)) AS last_seen`;

export async function inventory(
  storage: Storage,
  input: { period?: string; from?: string; to?: string },
  now: Date = new Date(),
): Promise<Inventory> {
  const range = resolvePeriod(input, now);
  const db = storage.database;
  const params = { from: range.from.getTime(), to: range.to.getTime() };
  const run = async <T>(query: string, what: string): Promise<T[]> => {
    try {
      const rs = await storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (cause) {
      throw new StorageError(`reading the inventory (${what})`, { cause });
    }
  };
  // One query at a time: the embedded engine serves one at a time anyway.
  const models = await run<InventoryModel>(
    `SELECT provider, ${MODEL_SQL} AS model, request_model AS sent_model,
              toUInt64(count()) AS calls, toString(sum(cost_usd)) AS spend_usd, ${SEEN}
       FROM ${CALLS(db)} GROUP BY provider, model, sent_model ORDER BY provider, model, sent_model`,
    'models',
  );
  const providers = await run<InventoryProvider>(
    `SELECT provider, toUInt64(count()) AS calls, toString(sum(cost_usd)) AS spend_usd
       FROM ${CALLS(db)} GROUP BY provider ORDER BY provider`,
    'providers',
  );
  const services = await run<InventoryService>(
    `SELECT service, toUInt64(count()) AS calls, toString(sum(cost_usd)) AS spend_usd,
              arraySort(groupUniqArray(provider)) AS providers,
              arraySort(groupUniqArray(${MODEL_SQL})) AS models,
              arraySort(groupUniqArray(source)) AS sources
       FROM ${CALLS(db)} GROUP BY service ORDER BY service`,
    'services',
  );
  const sources = await run<InventorySource>(
    `SELECT source, toUInt64(count()) AS calls, arraySort(groupUniqArray(service)) AS services
       FROM ${CALLS(db)} GROUP BY source ORDER BY source`,
    'sources',
  );
  const uninstrumented = await run<UninstrumentedHost>(
    `SELECT service, host, provider, toUInt64(count()) AS requests, ${SEEN}
       FROM ${HTTP(db)} GROUP BY service, host, provider ORDER BY service, host`,
    'uninstrumented hosts',
  );
  // UInt64 arrives as a string and Decimal with trailing zeros: plain numbers, exact decimal strings.
  const num = <T extends { calls?: number; requests?: number; spend_usd?: string }>(rows: T[]): T[] =>
    rows.map((r) => ({
      ...r,
      ...(r.calls !== undefined ? { calls: Number(r.calls) } : {}),
      ...(r.requests !== undefined ? { requests: Number(r.requests) } : {}),
      ...(r.spend_usd !== undefined ? { spend_usd: new Decimal(r.spend_usd).toFixed() } : {}),
    }));
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    models: num(models),
    providers: num(providers),
    services: num(services),
    sources: num(sources),
    uninstrumented: num(uninstrumented),
  };
}

/**
 * The AI inventory over a period: which models, providers, services and instrumentations the
 * collector has seen, and the AI API hosts each service calls without GenAI instrumentation.
 */
import Decimal from 'decimal.js';
import { resolvePeriod } from './period';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { MODEL_SQL } from '../storage/rows';
import { currentExpenseLines } from '../storage/expenses';

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
/** What each ingest key sent; calls it attributed outside its scope are recorded under the scope. */
interface InventoryIngestKey {
  key: string;
  /** Its scope as of its latest call (`team=search`), '' when unscoped or sent before scopes were stored. */
  scope: string;
  calls: number;
  spend_usd: string;
  out_of_scope_calls: number;
  /** The attributions claimed outside the scope, as JSON (`{"team":"billing"}`), distinct. */
  claimed: string[];
}
interface InventorySource {
  source: string;
  calls: number;
  services: string[];
}
export interface UninstrumentedHost {
  service: string;
  host: string;
  provider: string;
  requests: number;
  first_seen: string;
  last_seen: string;
}
/** An AI vendor paid outside the APIs (card or expense tool), per owner. */
interface AiSubscription {
  vendor: string;
  product: string;
  /** The employee on the expense, else its department. */
  owner: string;
  department: string;
  charges: number;
  spend_usd: string;
  /** What the latest month with a charge cost: the subscription's monthly run rate. */
  monthly_run_rate_usd: string;
  first_seen: string;
  last_seen: string;
  /** Charges without a USD rate for their currency (not in the sums). */
  unconverted: number;
}

export interface Inventory {
  period: string;
  from: string;
  to: string;
  models: InventoryModel[];
  providers: InventoryProvider[];
  services: InventoryService[];
  sources: InventorySource[];
  ingest_keys: InventoryIngestKey[];
  uninstrumented: UninstrumentedHost[];
  subscriptions: AiSubscription[];
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
  const ingestKeys = await run<InventoryIngestKey>(
    `SELECT ingest_key AS key, argMax(ingest_key_scope, start_time) AS scope, toUInt64(count()) AS calls, toString(sum(cost_usd)) AS spend_usd,
              toUInt64(countIf(claimed_attribution != '')) AS out_of_scope_calls,
              arraySort(groupUniqArrayIf(claimed_attribution, claimed_attribution != '')) AS claimed
       FROM ${CALLS(db)} WHERE ingest_key != '' GROUP BY ingest_key ORDER BY ingest_key`,
    'ingest keys',
  );
  const uninstrumented = await uninstrumentedTraffic(storage, range);
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    models: num(models),
    providers: num(providers),
    services: num(services),
    sources: num(sources),
    ingest_keys: num(ingestKeys).map((k) => ({ ...k, out_of_scope_calls: Number(k.out_of_scope_calls) })),
    uninstrumented,
    subscriptions: await aiSubscriptions(storage, range),
  };
}

/** UInt64 arrives as a string and Decimal with trailing zeros: plain numbers, exact decimal strings. */
const num = <T extends { calls?: number; requests?: number; spend_usd?: string }>(rows: T[]): T[] =>
  rows.map((r) => ({
    ...r,
    ...(r.calls !== undefined ? { calls: Number(r.calls) } : {}),
    ...(r.requests !== undefined ? { requests: Number(r.requests) } : {}),
    ...(r.spend_usd !== undefined ? { spend_usd: new Decimal(r.spend_usd).toFixed() } : {}),
  }));

/**
 * Requests to AI API hosts that no GenAI span covered, per service × host × provider, in a range:
 * the inventory's shadow AI list, and where a bill's unmetered remainder most likely comes from.
 */
export async function uninstrumentedTraffic(
  storage: Storage,
  range: { from: Date; to: Date },
): Promise<UninstrumentedHost[]> {
  const query = `SELECT service, host, provider, toUInt64(count()) AS requests, ${SEEN}
       FROM ${HTTP(storage.database)} GROUP BY service, host, provider ORDER BY service, host`;
  try {
    const rs = await storage.client.query({
      query,
      query_params: { from: range.from.getTime(), to: range.to.getTime() },
      format: 'JSONEachRow',
    });
    return num(await rs.json<UninstrumentedHost>());
  } catch (cause) {
    throw new StorageError('reading the inventory (uninstrumented hosts)', { cause });
  }
}

/** AI vendors among the imported expenses in the range, per vendor × product × owner. */
async function aiSubscriptions(storage: Storage, range: { from: Date; to: Date }): Promise<AiSubscription[]> {
  const query = `
    SELECT vendor, product, owner, any(dept) AS department, toUInt64(sum(n)) AS charges,
      toString(sum(month_usd)) AS spend_usd, toString(argMax(month_usd, month)) AS monthly_run_rate_usd,
      toString(min(first_day)) AS first_seen, toString(max(last_day)) AS last_seen,
      toUInt64(sum(unconverted_n)) AS unconverted
    FROM (
      SELECT vendor, product, if(employee != '', employee, department) AS owner, any(department) AS dept,
        toStartOfMonth(day) AS month, count() AS n, sum(ifNull(amount_usd, 0)) AS month_usd,
        min(day) AS first_day, max(day) AS last_day, countIf(amount_usd IS NULL) AS unconverted_n
      FROM ${currentExpenseLines(storage.database)}
      WHERE vendor != ''
        AND day >= toDate(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
        AND day < toDate(fromUnixTimestamp64Milli({to:Int64}, 'UTC'))
      GROUP BY vendor, product, owner, month)
    GROUP BY vendor, product, owner
    ORDER BY vendor, product, owner`;
  try {
    const rs = await storage.client.query({
      query,
      query_params: { from: range.from.getTime(), to: range.to.getTime() },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<AiSubscription>();
    return rows.map((r) => ({
      ...r,
      charges: Number(r.charges),
      unconverted: Number(r.unconverted),
      spend_usd: new Decimal(r.spend_usd).toFixed(),
      monthly_run_rate_usd: new Decimal(r.monthly_run_rate_usd).toFixed(),
    }));
  } catch (cause) {
    throw new StorageError('reading the inventory (AI subscriptions)', { cause });
  }
}

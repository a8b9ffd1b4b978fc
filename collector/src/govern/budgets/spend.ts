/**
 * Stored spend of one policy over [from, to): the hourly rollup for whole hours, the raw calls
 * (FINAL: deduplicated) for the partial hours at either end — a period in a zone like
 * Asia/Kolkata does not start on a UTC hour. Values only as query parameters.
 */
import type { PolicyMatch } from 'tokenledger/policy';
import { matchCondition } from '../policy/match';
import { Money } from '../../core/money';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';

const HOUR_MS = 3_600_000;

export async function storedSpend(
  storage: Storage,
  match: PolicyMatch | undefined,
  from: Date,
  to: Date,
): Promise<Money> {
  const f = from.getTime();
  const t = to.getTime();
  let wholeFrom = Math.ceil(f / HOUR_MS) * HOUR_MS;
  let wholeTo = Math.floor(t / HOUR_MS) * HOUR_MS;
  // No whole hour inside: everything from the raw calls.
  if (wholeFrom >= wholeTo) wholeFrom = wholeTo = f;
  const rollup = matchCondition(match, 'rollup', 'r');
  const raw = matchCondition(match, 'raw', 'c');
  const db = storage.database;
  try {
    const rs = await storage.client.query({
      query: `SELECT toString(sum(spend)) AS spent FROM (
                SELECT sum(cost_usd) AS spend FROM ${db}.spend_hourly
                WHERE hour >= toDateTime({whole_from:UInt32}, 'UTC') AND hour < toDateTime({whole_to:UInt32}, 'UTC')
                  AND ${rollup.sql}
                UNION ALL
                SELECT sum(cost_usd) AS spend FROM ${db}.llm_calls FINAL
                WHERE ((start_time >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
                        AND start_time < fromUnixTimestamp64Milli({whole_from_ms:Int64}, 'UTC'))
                    OR (start_time >= fromUnixTimestamp64Milli({whole_to_ms:Int64}, 'UTC')
                        AND start_time < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')))
                  AND ${raw.sql})`,
      query_params: {
        whole_from: wholeFrom / 1000,
        whole_to: wholeTo / 1000,
        from_ms: f,
        whole_from_ms: wholeFrom,
        whole_to_ms: wholeTo,
        to_ms: t,
        ...rollup.params,
        ...raw.params,
      },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ spent: string | null }>();
    return new Money(row?.spent ?? '0');
  } catch (cause) {
    throw new StorageError('reading budget spend', { cause, detail: `${db}.spend_hourly, ${db}.llm_calls` });
  }
}

/** (provider, model) pairs with spend since `from` — their prices go to the guard. */
export async function modelsSeen(
  storage: Storage,
  from: Date,
): Promise<Array<{ provider: string; model: string }>> {
  const db = storage.database;
  try {
    const rs = await storage.client.query({
      query: `SELECT DISTINCT provider, model FROM ${db}.spend_hourly
              WHERE hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND model != ''
              LIMIT 1000`,
      query_params: { from: Math.floor(from.getTime() / 1000) },
      format: 'JSONEachRow',
    });
    return await rs.json<{ provider: string; model: string }>();
  } catch (cause) {
    throw new StorageError('reading the models seen', { cause, detail: `${db}.spend_hourly` });
  }
}

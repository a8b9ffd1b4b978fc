/** `budget_snapshots` rows (migration 0005): the budget state of every policy, once a minute. */
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import type { BudgetStatus } from './status';

export async function writeSnapshots(storage: Storage, statuses: BudgetStatus[], at: Date): Promise<void> {
  if (statuses.length === 0) return;
  const { client, database } = storage;
  const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
  try {
    await client.insert({
      table: `${database}.budget_snapshots`,
      values: statuses.map((s) => ({
        policy: s.policy,
        period: s.period,
        period_start: seconds(s.periodStart),
        period_end: seconds(s.periodEnd),
        at: at.getTime(),
        limit_usd: s.limitUsd.toFixed(),
        spent_usd: s.spentUsd.toFixed(),
        forecast_usd: s.forecastUsd.toFixed(),
        state: s.state,
      })),
      format: 'JSONEachRow',
    });
  } catch (cause) {
    throw new StorageError('writing budget snapshots', { cause, detail: `${database}.budget_snapshots` });
  }
}

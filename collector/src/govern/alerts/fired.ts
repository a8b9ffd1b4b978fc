/**
 * Which alerts were already delivered (`budget_alerts_fired`, migration 0005). Looked up before
 * every send, so a threshold fires once per period per channel — across restarts too.
 */
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';

export interface FiredKey {
  policy: string;
  periodStart: Date;
  /** A fraction of the budget, e.g. 0.8. */
  threshold: number;
  channel: 'log' | 'webhook' | 'email';
  target: string;
}

export const firedKeyText = (k: FiredKey): string =>
  [k.policy, k.periodStart.getTime(), k.threshold, k.channel, k.target].join('\u0000');

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

export class FiredAlerts {
  /** Keys known fired; only grows within a process (a few per policy per period). */
  private readonly known = new Set<string>();

  constructor(private readonly storage: Storage) {}

  async wasFired(k: FiredKey): Promise<boolean> {
    if (this.known.has(firedKeyText(k))) return true;
    const db = this.storage.database;
    try {
      const rs = await this.storage.client.query({
        query: `SELECT count() AS n FROM ${db}.budget_alerts_fired
                WHERE policy = {policy:String} AND period_start = toDateTime({start:UInt32}, 'UTC')
                  AND threshold = toDecimal32({threshold:String}, 4)
                  AND channel = {channel:String} AND target = {target:String}`,
        query_params: {
          policy: k.policy,
          start: seconds(k.periodStart),
          threshold: String(k.threshold),
          channel: k.channel,
          target: k.target,
        },
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ n: string | number }>();
      const fired = Number(row?.n ?? 0) > 0;
      if (fired) this.known.add(firedKeyText(k));
      return fired;
    } catch (cause) {
      throw new StorageError('reading fired alerts', { cause, detail: `${db}.budget_alerts_fired` });
    }
  }

  async record(k: FiredKey, limitUsd: string, spentUsd: string, at: Date): Promise<void> {
    const db = this.storage.database;
    try {
      await this.storage.client.insert({
        table: `${db}.budget_alerts_fired`,
        values: [
          {
            policy: k.policy,
            period_start: seconds(k.periodStart),
            threshold: String(k.threshold),
            channel: k.channel,
            target: k.target,
            fired_at: at.getTime(),
            limit_usd: limitUsd,
            spent_usd: spentUsd,
          },
        ],
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError('recording a fired alert', { cause, detail: `${db}.budget_alerts_fired` });
    }
    this.known.add(firedKeyText(k));
  }
}

/**
 * Which alerts were already delivered (`budget_alerts_fired`, migration 0005). Looked up before
 * every send, so a threshold fires once per period per channel — across restarts too.
 *
 * Several collectors on one store check the same thresholds: before sending, a collector claims
 * the alert (`budget_alert_claims`). Claims of one alert in one round (CLAIM_ROUND_MS) carry the
 * same insert deduplication token, so the engine stores the first and drops the rest; each reads
 * back the stored claimant and only the winner sends. A claim younger than a round by another
 * collector means it is sending now; if it never records the delivery (it died, the send failed),
 * the alert is claimed again in a later round.
 */
import { createHash, randomUUID } from 'node:crypto';
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

/** A claim holds this long: longer than any send (webhook and SMTP sends time out well before). */
const CLAIM_ROUND_MS = 120_000;

/** The alert's columns as query parameters (shared by the fired and claim tables). */
function keyParams(k: FiredKey): Record<string, string | number> {
  return {
    policy: k.policy,
    start: seconds(k.periodStart),
    threshold: String(k.threshold),
    channel: k.channel,
    target: k.target,
  };
}

const KEY_WHERE = `policy = {policy:String} AND period_start = toDateTime({start:UInt32}, 'UTC')
                  AND threshold = toDecimal32({threshold:String}, 4)
                  AND channel = {channel:String} AND target = {target:String}`;

export class FiredAlerts {
  /** Keys known fired; only grows within a process (a few per policy per period). */
  private readonly known = new Set<string>();

  /** This collector process, in the claims it makes. */
  private readonly claimant = randomUUID();

  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Whether this collector may send the alert now: no other collector's claim of it is younger
   * than a round, and this round's claim (made here if none) is this collector's.
   */
  async claim(k: FiredKey): Promise<boolean> {
    const db = this.storage.database;
    const now = this.now().getTime();
    const round = Math.floor(now / CLAIM_ROUND_MS);
    try {
      const recent = await this.storage.client.query({
        query: `SELECT claimant FROM ${db}.budget_alert_claims
                WHERE ${KEY_WHERE} AND claimed_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')
                ORDER BY claimed_at LIMIT 1`,
        query_params: { ...keyParams(k), since: now - CLAIM_ROUND_MS },
        format: 'JSONEachRow',
      });
      const [held] = await recent.json<{ claimant: string }>();
      if (held) return held.claimant === this.claimant;
      const token = createHash('sha256')
        .update(`${firedKeyText(k)}\u0000${round}`)
        .digest('hex');
      await this.storage.client.insert({
        // The token in the statement (as the call writer does: chdb applies clickhouse_settings
        // session-wide); it is our own hex digest.
        table: `${db}.budget_alert_claims (policy, period_start, threshold, channel, target, round, claimant, claimed_at) SETTINGS insert_deduplication_token = '${token}'`,
        values: [
          [
            k.policy,
            seconds(k.periodStart),
            String(k.threshold),
            k.channel,
            k.target,
            round,
            this.claimant,
            now,
          ],
        ],
        format: 'JSONCompactEachRow',
      });
      const won = await this.storage.client.query({
        query: `SELECT claimant FROM ${db}.budget_alert_claims WHERE ${KEY_WHERE} AND round = {round:UInt64} LIMIT 1`,
        query_params: { ...keyParams(k), round },
        format: 'JSONEachRow',
      });
      const [winner] = await won.json<{ claimant: string }>();
      return winner?.claimant === this.claimant;
    } catch (cause) {
      throw new StorageError('claiming an alert', { cause, detail: `${db}.budget_alert_claims` });
    }
  }

  async wasFired(k: FiredKey): Promise<boolean> {
    if (this.known.has(firedKeyText(k))) return true;
    const db = this.storage.database;
    try {
      const rs = await this.storage.client.query({
        query: `SELECT count() AS n FROM ${db}.budget_alerts_fired WHERE ${KEY_WHERE}`,
        query_params: keyParams(k),
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

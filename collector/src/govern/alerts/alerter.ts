/**
 * Budget threshold alerts. For each policy with `alerts.at`, every threshold the period's spend has
 * reached is delivered once per period to each channel — a log line + audit entry always, plus the
 * policy's webhooks and e-mail recipients (or the file's `channels` when the policy names none).
 * A delivery is recorded only once it succeeded; a failed one is retried on a later check.
 */
import { createHash } from 'node:crypto';
import type { Policy, PolicyFile } from 'tokenledger/policy';
import type { AuditEntry } from '../audit';
import type { BudgetStatus } from '../budgets/status';
import { postWebhook, type Mailer } from './channels';
import { FiredAlerts, firedKeyText, type FiredKey } from './fired';
import { alertMessage } from './message';
import type { Storage } from '../../storage/client';

export interface BudgetAlerterDeps {
  storage: Storage;
  policy: () => PolicyFile | undefined;
  statuses: () => Promise<BudgetStatus[]>;
  /** Absent: e-mail recipients are skipped with a log line (TOKENLEDGER_SMTP_URL unset). */
  mailer?: Mailer;
  audit?: (entry: AuditEntry) => Promise<void>;
  log: (line: string) => void;
  now?: () => Date;
}

const RETRY_AFTER_FAILURE_MS = 60_000;

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

export class BudgetAlerter {
  private readonly fired: FiredAlerts;
  private readonly failedAt = new Map<string, number>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => Date;
  private warnedNoMailer = false;
  private stopped = false;

  constructor(private readonly deps: BudgetAlerterDeps) {
    this.now = deps.now ?? (() => new Date());
    this.fired = new FiredAlerts(deps.storage, this.now);
  }

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.check(), everyMs);
    this.timer.unref();
  }

  /**
   * No check starts after this; resolves once the one in flight (if any) has finished, so its
   * delivery is recorded before the storage closes (else the alert would fire again after a restart).
   */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** One pass over every budget; passes never overlap (a slow webhook delays the next one). */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.checkNow()
      .catch((err: unknown) => this.deps.log(`budget alerts: ${(err as Error).message}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkNow(): Promise<void> {
    const file = this.deps.policy();
    if (!file) return;
    for (const status of await this.deps.statuses()) {
      const policy = file.policies.find((p) => p.name === status.policy);
      if (!policy?.alerts) continue;
      for (const threshold of [...policy.alerts.at].sort((a, b) => a - b)) {
        if (status.spentUsd.lt(status.limitUsd.times(threshold))) break;
        await this.deliver(file, policy, status, threshold);
      }
    }
  }

  private async deliver(
    file: PolicyFile,
    policy: Policy,
    status: BudgetStatus,
    threshold: number,
  ): Promise<void> {
    const message = alertMessage(policy, status, threshold);
    let webhooks = list(policy.alerts?.webhook);
    let emails = list(policy.alerts?.email);
    if (webhooks.length === 0 && emails.length === 0) {
      webhooks = file.channels?.webhook ?? [];
      emails = file.channels?.email ?? [];
    }
    const targets: Array<{ channel: FiredKey['channel']; target: string; send: () => Promise<void> }> = [
      { channel: 'log', target: '', send: async () => this.deps.log(`budget alert: ${message.subject}`) },
      ...webhooks.map((url) => ({
        channel: 'webhook' as const,
        target: webhookId(url),
        send: () => postWebhook(url, message),
      })),
      ...emails.map((to) => ({
        channel: 'email' as const,
        target: to,
        send: () => {
          if (!this.deps.mailer) throw new Error('TOKENLEDGER_SMTP_URL is not set');
          return this.deps.mailer.send(to, message);
        },
      })),
    ];
    for (const t of targets) {
      const key: FiredKey = {
        policy: policy.name,
        periodStart: status.periodStart,
        threshold,
        channel: t.channel,
        target: t.target,
      };
      const keyText = firedKeyText(key);
      const failed = this.failedAt.get(keyText);
      if (failed !== undefined && this.now().getTime() - failed < RETRY_AFTER_FAILURE_MS) continue;
      if (await this.fired.wasFired(key)) continue;
      if (t.channel === 'email' && !this.deps.mailer) {
        if (!this.warnedNoMailer)
          this.deps.log('budget alerts: e-mail recipients configured but TOKENLEDGER_SMTP_URL is not set');
        this.warnedNoMailer = true;
        continue;
      }
      // Another collector on the same store may be sending it right now: one sender per alert.
      if (!(await this.fired.claim(key))) continue;
      const details = {
        policy: policy.name,
        threshold,
        period: status.period,
        period_start: status.periodStart.toISOString(),
        limit_usd: status.limitUsd.toFixed(),
        spent_usd: status.spentUsd.toFixed(),
        channel: t.channel,
        target: t.channel === 'webhook' ? t.target.replace(/#.*$/, '/…') : t.target,
      };
      try {
        await t.send();
      } catch (err) {
        this.failedAt.set(keyText, this.now().getTime());
        this.deps.log(`budget alert to ${t.channel} ${details.target} failed: ${(err as Error).message}`);
        await this.audit({
          actor: 'system',
          action: 'alert.failed',
          subject: policy.name,
          details: { ...details, error: (err as Error).message },
        });
        continue;
      }
      this.failedAt.delete(keyText);
      await this.fired.record(key, status.limitUsd.toFixed(), status.spentUsd.toFixed(), this.now());
      await this.audit({ actor: 'system', action: 'alert.sent', subject: policy.name, details });
    }
  }

  private async audit(entry: AuditEntry): Promise<void> {
    try {
      await this.deps.audit?.(entry);
    } catch (err) {
      this.deps.log(`audit: ${(err as Error).message}`);
    }
  }
}

/**
 * Webhook URLs carry their secret in the path (Slack's do): tables, logs and audit get the origin
 * and a digest that tells two URLs apart, never the URL.
 */
function webhookId(url: string): string {
  let origin = 'webhook';
  try {
    origin = new URL(url).origin;
  } catch {
    // The schema checked it is a URI; keep the digest alone if it still does not parse.
  }
  return `${origin}#${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

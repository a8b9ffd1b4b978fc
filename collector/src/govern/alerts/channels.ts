/** Delivery of an alert: Slack-compatible webhooks (JSON `{ text, blocks }`) and e-mail over SMTP. */
import nodemailer, { type Transporter } from 'nodemailer';
import type { AlertMessage } from './message';

const WEBHOOK_TIMEOUT_MS = 5_000;
/**
 * nodemailer waits up to 2 min to connect and 10 min on a silent socket. Alert checks run one at a
 * time, so a mail server that does not answer would hold every alert (webhooks too), and a
 * collector's shutdown. Query parameters of TOKENLEDGER_SMTP_URL (`?socketTimeout=60000`) override.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

export async function postWebhook(url: string, message: AlertMessage): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: message.text, blocks: message.blocks }),
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
  // Drain the body: the connection is then reused, and its text explains a refusal.
  const body = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`webhook answered ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`);
}

export interface MailSettings {
  /** smtp://user:pass@host:587 or smtps://…:465 (TOKENLEDGER_SMTP_URL). */
  url: string;
  /** Sender address (TOKENLEDGER_ALERT_FROM). */
  from: string;
}

export class Mailer {
  private readonly transport: Transporter;

  constructor(
    private readonly settings: MailSettings,
    timeouts: Partial<typeof SMTP_TIMEOUTS> = {},
  ) {
    this.transport = nodemailer.createTransport({ url: settings.url, ...SMTP_TIMEOUTS, ...timeouts });
  }

  async send(to: string, message: AlertMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.settings.from,
      to,
      subject: message.subject,
      text: message.text.replace(/\*/g, ''),
    });
  }

  close(): void {
    this.transport.close();
  }
}

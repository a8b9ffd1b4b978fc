/**
 * Key creations and revocations in the audit log. `tokenledger keys create | revoke` runs beside the
 * collector and writes only the key store (it cannot open the collector's storage); the collector
 * writes what the store records to `audit_log` — at start, and within a second of a change — once
 * each: an event already audited (same id in its details) is not written again, across restarts.
 */
import { statSync } from 'node:fs';
import type { AuditEntry, AuditLog } from '../audit';
import { formatScope } from './scope';
import type { KeyEvent, KeyStore } from './store';

const CHECK_EVERY_MS = 1_000;

export class KeyAuditor {
  private audited: Set<string> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** The key file's mtime when last audited (-1: no file). */
  private auditedMtime: number | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly log: AuditLog,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  /** Audits what is pending now, then whenever the key file changes. */
  start(): Promise<void> {
    // Its own look at the file: the key ring's (one stat a second, on requests) stays as it was.
    this.timer = setInterval(() => {
      if (this.mtime() !== this.auditedMtime) void this.sync();
    }, CHECK_EVERY_MS);
    this.timer.unref();
    return this.sync();
  }

  private mtime(): number {
    try {
      return statSync(this.store.file).mtimeMs;
    } catch {
      return -1;
    }
  }

  /** Resolves once what it is writing now is written. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** Writes every event of the store not audited yet. Never rejects. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.write()
      .catch((err: unknown) => this.onError(`auditing keys: ${(err as Error).message}`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.sync();
        }
      });
    return this.running;
  }

  private async write(): Promise<void> {
    const mtime = this.mtime();
    this.audited ??= new Set(
      (await this.log.recent({ action: 'key.', limit: 100_000 })).map((r) => String(r.details.event ?? '')),
    );
    for (const e of this.store.events()) {
      if (this.audited.has(e.id)) continue;
      await this.log.audit(entryOf(e));
      this.audited.add(e.id);
    }
    // Only once everything it records is written: a failed write is tried again on the next tick.
    this.auditedMtime = mtime;
  }
}

function entryOf(e: KeyEvent): AuditEntry {
  return {
    actor: e.actor,
    action: e.action,
    subject: e.name,
    details: {
      event: e.id,
      role: e.role,
      fingerprint: e.fingerprint,
      at: e.at,
      ...(e.scope ? { scope: formatScope(e.scope) } : {}),
    },
  };
}

/**
 * The append-only audit log (`audit_log`, migration 0006): who did what to which subject, when.
 * Rows are only ever inserted; there is no update or delete path.
 */
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';

export interface AuditEntry {
  /** A person (key name), a service, or `system` / `policy:<name>` for automatic actions. */
  actor: string;
  /** Dotted verb, e.g. `policy.reloaded`, `policy.rejected`, `approval.approved`, `alert.sent`. */
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

export interface AuditRecord extends Omit<AuditEntry, 'details'> {
  at: string;
  details: Record<string, unknown>;
}

export class AuditLog {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async audit(entry: AuditEntry): Promise<void> {
    const { client, database } = this.storage;
    try {
      await client.insert({
        table: `${database}.audit_log`,
        values: [
          {
            at: this.now().getTime(),
            actor: entry.actor,
            action: entry.action,
            subject: entry.subject,
            details: JSON.stringify(entry.details),
          },
        ],
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError('writing the audit log', { cause, detail: `${database}.audit_log` });
    }
  }

  /**
   * Newest first; `action` narrows to one action or a prefix ending in '.' (e.g. `policy.`);
   * `since` / `until` (until exclusive) to a time range.
   */
  async recent(
    opts: { action?: string; limit?: number; since?: Date; until?: Date } = {},
  ): Promise<AuditRecord[]> {
    const { client, database } = this.storage;
    const action = opts.action ?? '';
    const rs = await client.query({
      // The time as text under another name: an alias `at` would shadow the column in WHERE.
      query: `SELECT toString(at) AS at_text, actor, action, subject, details FROM ${database}.audit_log
              WHERE ({action:String} = '' OR action = {action:String}
                 OR (endsWith({action:String}, '.') AND startsWith(action, {action:String})))
                AND at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
                AND at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
              ORDER BY at DESC LIMIT {limit:UInt32}`,
      query_params: {
        action,
        limit: opts.limit ?? 100,
        since: String(opts.since?.getTime() ?? 0),
        until: String(opts.until?.getTime() ?? 4_102_444_800_000),
      },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{
      at_text: string;
      actor: string;
      action: string;
      subject: string;
      details: string;
    }>();
    return rows.map(({ at_text, ...r }) => ({
      ...r,
      at: at_text,
      details: JSON.parse(r.details) as Record<string, unknown>,
    }));
  }
}

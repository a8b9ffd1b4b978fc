/** `GET /v1/audit` (admin): the append-only audit log, newest first. */

export interface AuditEntryView {
  /** ISO 8601, UTC. */
  at: string;
  /** A key's name, an operating-system user for `keys` commands, `system`, or `policy:<name>`. */
  actor: string;
  /** Dotted verb: `policy.reloaded`, `approval.approved`, `key.created`, `key.revoked`, ... */
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

export interface AuditList {
  entries: AuditEntryView[];
}

/**
 * GET /v1/audit (admin): the audit log, newest first — policy loads and reloads, approvals, alerts,
 * key creations and revocations. `since` / `until` (ISO 8601, `until` exclusive), `action` (one
 * action, or a prefix ending in '.', e.g. `key.`), `limit` (1–10000, default 100).
 */
import express from 'express';
import type { AuditEntryView, AuditList } from 'tokenledger/wire';
import type { AuditLog } from '../govern/audit';
import type { KeyRing } from '../govern/keys/keys';
import { StorageError } from '../storage/errors';
import { requireScope } from './auth';

const MAX_LIMIT = 10_000;
const PARAMS = ['since', 'until', 'action', 'limit'];

class AuditQueryError extends Error {}

function time(v: unknown, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime()))
    throw new AuditQueryError(`${name} must be an ISO 8601 time, e.g. 2026-11-01T00:00:00Z`);
  return d;
}

/** ClickHouse's `2026-11-20 12:00:00.123` (UTC) as ISO 8601. */
const iso = (at: string): string => `${at.replace(' ', 'T')}Z`;

export function auditRouter(keys: KeyRing, log: AuditLog): express.Router {
  const router = express.Router();
  router.get('/v1/audit', requireScope(keys, 'admin'), async (req, res, next) => {
    try {
      const q = req.query as Record<string, unknown>;
      const unknown = Object.keys(q).find((k) => !PARAMS.includes(k));
      if (unknown) throw new AuditQueryError(`unknown parameter "${unknown}": use ${PARAMS.join(', ')}`);
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        throw new AuditQueryError(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
      if (q.action !== undefined && typeof q.action !== 'string')
        throw new AuditQueryError('action must be given once');
      const since = time(q.since, 'since');
      const until = time(q.until, 'until');
      let records;
      try {
        records = await log.recent({
          limit,
          ...(q.action ? { action: q.action as string } : {}),
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
        });
      } catch (cause) {
        throw new StorageError('reading the audit log', { cause });
      }
      const entries: AuditEntryView[] = records.map((r) => ({ ...r, at: iso(r.at) }));
      const body: AuditList = { entries };
      res.json(body);
    } catch (err) {
      if (err instanceof AuditQueryError) res.status(400).json({ error: err.message });
      else next(err);
    }
  });
  return router;
}

/**
 * Budget leases for the in-app guard (scope ingest): `POST /v1/budgets/leases`
 * `{ policy, period_start, holder, requested_usd, need_usd?, used_usd?, returned_usd? }` →
 * `{ granted_usd, lease_id, state, spent_usd, limit_usd, contended, retry_after_seconds?, ... }`
 * (tokenledger/wire) and `DELETE /v1/budgets/leases/:id[?used_usd=]` → `{ returned_usd }`. Money as
 * decimal strings. The holder is filed under the key's name; a key reaches only its own leases.
 */
import express, { type Request, type Response } from 'express';
import type { KeyRing } from '../govern/keys/keys';
import { requireScope } from './auth';
import { LeaseError, type LeaseBook } from '../govern/budgets/leases';
import { Money } from '../core/money';
import type {
  LeaseReleaseQuery,
  LeaseReleaseResponse,
  LeaseRequest,
  LeaseResponse,
  Unchecked,
} from 'tokenledger/wire';
import { jsonBody } from './json-body';

const USD = /^\d+(\.\d+)?$/;

function money(v: unknown, field: string, required: boolean): Money | undefined {
  if (v === undefined || v === null) {
    if (required) throw new LeaseError(`${field} is required (a decimal string, e.g. "0.25")`, 400);
    return undefined;
  }
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || !USD.test(text))
    throw new LeaseError(`${field} must be a non-negative decimal, e.g. "0.25"`, 400);
  return new Money(text);
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new LeaseError(`${field} is required`, 400);
  return v;
}

function fail(res: Response, err: unknown, next: express.NextFunction): void {
  if (err instanceof LeaseError) res.status(err.status).json({ error: err.message });
  else next(err);
}

export function leasesRouter(keys: KeyRing, book: LeaseBook): express.Router {
  const router = express.Router();
  router.post(
    '/v1/budgets/leases',
    requireScope(keys, 'ingest'),
    jsonBody('16kb'),
    async (req: Request, res: Response, next) => {
      try {
        const b = (req.body ?? {}) as Unchecked<LeaseRequest>;
        const periodStart = new Date(text(b.period_start, 'period_start'));
        if (Number.isNaN(periodStart.getTime()))
          throw new LeaseError('period_start must be an ISO 8601 time', 400);
        const used = money(b.used_usd, 'used_usd', false);
        const returned = money(b.returned_usd, 'returned_usd', false);
        const need = money(b.need_usd, 'need_usd', false);
        const grant = await book.grant({
          policy: text(b.policy, 'policy'),
          periodStart,
          keyName: req.principal!.name,
          scope: req.principal!.scope,
          holder: text(b.holder, 'holder'),
          requestedUsd: money(b.requested_usd, 'requested_usd', true)!,
          ...(used ? { usedUsd: used } : {}),
          ...(returned ? { returnedUsd: returned } : {}),
          ...(need ? { needUsd: need } : {}),
        });
        const body: LeaseResponse = {
          granted_usd: grant.grantedUsd.toFixed(),
          lease_id: grant.leaseId,
          expires_at: grant.expiresAt.toISOString(),
          total_granted_usd: grant.totalGrantedUsd.toFixed(),
          unleased_usd: grant.unleasedUsd.toFixed(),
          holders: grant.holders,
          spent_usd: grant.spentUsd.toFixed(),
          limit_usd: grant.limitUsd.toFixed(),
          state: grant.state,
          contended: grant.contended,
          ...(grant.retryAfterSeconds !== undefined ? { retry_after_seconds: grant.retryAfterSeconds } : {}),
        };
        res.json(body);
      } catch (err) {
        fail(res, err, next);
      }
    },
  );
  router.delete(
    '/v1/budgets/leases/:id',
    requireScope(keys, 'ingest'),
    (req: Request, res: Response, next) => {
      try {
        const query = req.query as Unchecked<LeaseReleaseQuery>;
        const returned = book.release(
          String(req.params.id),
          req.principal!.name,
          money(query.used_usd, 'used_usd', false),
        );
        if (returned === undefined) throw new LeaseError(`no open lease ${String(req.params.id)}`, 404);
        const body: LeaseReleaseResponse = { returned_usd: returned.toFixed() };
        res.json(body);
      } catch (err) {
        fail(res, err, next);
      }
    },
  );
  return router;
}

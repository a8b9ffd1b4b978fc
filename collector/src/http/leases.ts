/**
 * Budget leases for the in-app guard (scope ingest): `POST /v1/budgets/leases`
 * `{ policy, period_start, holder, requested_usd, need_usd?, used_usd?, returned_usd? }` →
 * `{ granted_usd, lease_id, state, spent_usd, limit_usd, contended, retry_after_seconds?, ... }`
 * (tokenledger/wire) and `DELETE /v1/budgets/leases/:id[?used_usd=]` → `{ returned_usd }`. Money as
 * decimal strings. The holder is filed under the key's name; a key reaches only its own leases.
 *
 * Several collectors on one store (decision 0069): only the elected lease owner grants. Another
 * collector forwards each request, with the app's own key, to the owner's advertised URL and
 * passes its answer on; while no owner can grant (it is changing, waits out an older owner's
 * leases, or cannot be reached) the answer is `busy` with `owner_pending`, never `exceeded`.
 * `POST /v1/budgets/leases/landed` is how a collector that stored calls tells the owner they landed.
 */
import express, { type Request, type Response } from 'express';
import type { KeyRing } from '../govern/keys/keys';
import { requireScope } from './auth';
import { LeaseError, type LandedCall, type LeaseBook, type LeaseGrant } from '../govern/budgets/leases';
import { soleLeaseOwner, type LeaseAuthority, type LeaseOwnerView } from '../govern/budgets/lease-owner';
import { forwardToOwner, FORWARDED_HEADER } from './lease-forward';
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

/** What is sent for a grant (or a standby answer). */
function grantBody(grant: LeaseGrant): LeaseResponse {
  return {
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
    expires_in_seconds: grant.expiresInMs / 1000,
    ...(grant.retryAfterSeconds !== undefined ? { retry_after_seconds: grant.retryAfterSeconds } : {}),
    ...(grant.ownerPending ? { owner_pending: true } : {}),
  };
}

/** Seconds until an owner may grant again, as a busy answer's retry hint (1–30). */
function retryAfter(view: LeaseOwnerView, now: number): number {
  if (view.role !== 'waiting') return 1;
  return Math.min(30, Math.max(1, Math.ceil((view.until - now) / 1000)));
}

/** A request another collector forwarded here is never forwarded again (ownership moved meanwhile). */
const forwarded = (req: Request): boolean => req.headers[FORWARDED_HEADER] !== undefined;

/** A call stored here and reserved from leases, as the owner's landed endpoint takes it. */
interface LandedWire {
  lease_ids: string[];
  span_key: string;
  cost_usd: string;
}

/** Attempts to tell the owner of stored calls, a second apart (its answer may be lost at a turn). */
const LANDING_ATTEMPTS = 3;

/**
 * Tells the lease owner that calls a guard reserved from its leases are stored: this collector's
 * own book always (it holds them if it granted them; landing is harmless to a book that does not),
 * and the owner's, with the exporting app's key, when another collector owns leases. Until the
 * owner hears it, those calls count twice (stored and held) — never zero times.
 */
export function leaseLanding(
  book: LeaseBook,
  authority: LeaseAuthority = soleLeaseOwner,
  log: (line: string) => void = () => undefined,
): (req: Request, calls: LandedCall[]) => void {
  return (req, calls) => {
    if (calls.length === 0 || !req.principal) return;
    book.landed(req.principal.name, calls);
    const url = authority.landingUrl?.();
    if (url === undefined) return;
    const body: { calls: LandedWire[] } = {
      calls: calls.map((c) => ({
        lease_ids: c.leaseIds,
        span_key: c.spanKey,
        cost_usd: c.costUsd.toFixed(),
      })),
    };
    const auth = req.headers.authorization;
    void (async () => {
      for (let attempt = 1; attempt <= LANDING_ATTEMPTS; attempt++) {
        const r = await forwardToOwner(url, 'POST', '/v1/budgets/leases/landed', auth, body);
        if (r && r.status < 500) return;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      log(
        `lease landing: the lease owner at ${url} did not answer; ${calls.length} call(s) count as held until their leases are returned`,
      );
    })();
  };
}

export function leasesRouter(
  keys: KeyRing,
  book: LeaseBook,
  authority: LeaseAuthority = soleLeaseOwner,
): express.Router {
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
        const request = {
          policy: text(b.policy, 'policy'),
          periodStart,
          keyName: req.principal!.name,
          scope: req.principal!.scope,
          holder: text(b.holder, 'holder'),
          requestedUsd: money(b.requested_usd, 'requested_usd', true)!,
          ...(used ? { usedUsd: used } : {}),
          ...(returned ? { returnedUsd: returned } : {}),
          ...(need ? { needUsd: need } : {}),
        };
        const now = Date.now();
        const view = authority.view(now);
        if (view.role === 'owner') {
          res.json(grantBody(await book.grant(request)));
          return;
        }
        if (view.role === 'forward' && !forwarded(req)) {
          const answer = await forwardToOwner(
            view.url,
            'POST',
            '/v1/budgets/leases',
            req.headers.authorization,
            b,
          );
          // The owner's answer, refusals included; none (down, cut off, failing): standby.
          if (answer && answer.status < 500) {
            res.status(answer.status).json(answer.body);
            return;
          }
        }
        res.json(grantBody(await book.standby(request, retryAfter(view, now))));
      } catch (err) {
        fail(res, err, next);
      }
    },
  );
  router.delete(
    '/v1/budgets/leases/:id',
    requireScope(keys, 'ingest'),
    async (req: Request, res: Response, next) => {
      try {
        const query = req.query as Unchecked<LeaseReleaseQuery>;
        const used = money(query.used_usd, 'used_usd', false);
        const view = authority.view();
        if (view.role !== 'owner') {
          // The lease is the owner's; without one, its unused part comes back when it expires.
          const path = req.originalUrl;
          const answer =
            view.role === 'forward' && !forwarded(req)
              ? await forwardToOwner(view.url, 'DELETE', path, req.headers.authorization)
              : undefined;
          if (answer) res.status(answer.status).json(answer.body);
          else
            res
              .status(503)
              .json({ error: 'no budget lease owner can take the lease back now; it expires on its own' });
          return;
        }
        const returned = book.release(String(req.params.id), req.principal!.name, used);
        if (returned === undefined) throw new LeaseError(`no open lease ${String(req.params.id)}`, 404);
        const body: LeaseReleaseResponse = { returned_usd: returned.toFixed() };
        res.json(body);
      } catch (err) {
        fail(res, err, next);
      }
    },
  );
  router.post(
    '/v1/budgets/leases/landed',
    requireScope(keys, 'ingest'),
    jsonBody('1mb'),
    (req: Request, res: Response, next) => {
      try {
        const calls = (req.body as { calls?: unknown } | undefined)?.calls;
        if (!Array.isArray(calls)) throw new LeaseError('calls must be a list', 400);
        const landed: LandedCall[] = calls.map((c: Unchecked<LandedWire>, i) => {
          if (!Array.isArray(c?.lease_ids) || !c.lease_ids.every((id) => typeof id === 'string'))
            throw new LeaseError(`calls[${i}].lease_ids must be a list of lease ids`, 400);
          return {
            leaseIds: c.lease_ids as string[],
            spanKey: text(c.span_key, `calls[${i}].span_key`),
            costUsd: money(c.cost_usd, `calls[${i}].cost_usd`, true)!,
          };
        });
        // Whoever owns leases now: a book that never granted these leases ignores them.
        book.landed(req.principal!.name, landed);
        res.status(204).end();
      } catch (err) {
        fail(res, err, next);
      }
    },
  );
  return router;
}

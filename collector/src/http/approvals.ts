/** Approval workflow routes: request, read, list, decide. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { requireScope } from './auth';
import type { KeyRing } from '../govern/keys/keys';
import { ApprovalError } from '../govern/approvals/model';
import type { ApprovalService } from '../govern/approvals/service';
import type { ApprovalList } from 'tokenledger/wire';
import { jsonBody } from './json-body';

type Handler = (req: Request, res: Response) => Promise<void>;

/** Answers ApprovalErrors with their status; anything else goes to the app's error handler. */
const handle =
  (fn: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((err: unknown) => {
      if (err instanceof ApprovalError) res.status(err.status).json({ error: err.message });
      else next(err);
    });
  };

export function approvalsRouter(keys: KeyRing, approvals: ApprovalService): express.Router {
  const router = express.Router();
  const json = jsonBody('64kb');
  // Jobs ask with their ingest key; people with theirs.
  const anyKey = requireScope(keys, ['ingest', 'read']);

  router.post(
    '/v1/approvals',
    anyKey,
    json,
    handle(async (req, res) => {
      res.status(201).json(await approvals.request(req.body, req.principal!));
    }),
  );
  router.get(
    '/v1/approvals',
    requireScope(keys, 'read'),
    handle(async (req, res) => {
      const list: ApprovalList = { approvals: await approvals.list(req.query.status) };
      res.json(list);
    }),
  );
  router.get(
    '/v1/approvals/:id',
    anyKey,
    handle(async (req, res) => {
      res.json(await approvals.get(String(req.params.id)));
    }),
  );
  router.post(
    '/v1/approvals/:id/decision',
    requireScope(keys, 'approve'),
    json,
    handle(async (req, res) => {
      res.json(await approvals.decide(String(req.params.id), req.body, req.principal!));
    }),
  );
  return router;
}

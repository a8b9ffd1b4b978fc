/**
 * Card and expense-tool exports (AI bought outside the APIs):
 *
 *   POST /v1/expenses/imports  (admin)  the CSV as the body; ?preset=&map=&source=&currency=&file_name=&rate=EUR=1.08
 *   GET  /v1/expenses/imports  (read)   every import, newest first
 *
 * The AI vendors found show in GET /v1/inventory (`subscriptions`) and on the CFO board.
 */
import express from 'express';
import type { PolicyFile } from 'tokenledger/policy';
import { BillImportError } from '../govern/bills/import';
import { ExpenseImporter } from '../govern/expenses/import';
import type { KeyRing } from '../govern/keys/keys';
import { ExpenseFormatError, parseColumnMap } from '../ingest/expenses/read';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import { requireScope } from './auth';
import { allowOnly, one, policyRates, QueryError, ratesFrom } from './reconciliation';

const MAX_EXPENSE_BYTES = 64 * 1024 * 1024;

export function expensesRouter(deps: {
  keys: KeyRing;
  storage: Storage;
  policy: () => PolicyFile | undefined;
}): express.Router {
  const router = express.Router();
  const importer = new ExpenseImporter(deps.storage);

  router.post(
    '/v1/expenses/imports',
    requireScope(deps.keys, 'admin'),
    express.raw({ type: () => true, limit: MAX_EXPENSE_BYTES }),
    async (req, res, next) => {
      try {
        allowOnly(req, ['preset', 'map', 'source', 'currency', 'file_name', 'rate']);
        const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (bytes.length === 0) throw new QueryError('the body must be the expense export (CSV)');
        const map = one(req, 'map');
        const result = await importer.import({
          bytes,
          fileName: one(req, 'file_name') ?? 'upload.csv',
          importedBy: req.principal?.name ?? '',
          source: one(req, 'source'),
          preset: one(req, 'preset'),
          ...(map ? { map: parseColumnMap(map) } : {}),
          currency: one(req, 'currency'),
          rates: { ...policyRates(deps.policy()), ...ratesFrom(req) },
        });
        res.status(result.duplicate ? 200 : 201).json(result);
      } catch (err) {
        if (
          err instanceof QueryError ||
          err instanceof ExpenseFormatError ||
          err instanceof BillImportError
        ) {
          res.status(400).json({ error: err.message });
          return;
        }
        next(err);
      }
    },
  );

  router.get('/v1/expenses/imports', requireScope(deps.keys, 'read'), async (req, res, next) => {
    try {
      allowOnly(req, []);
    } catch (err) {
      res.status(400).json({ error: (err as Error).message });
      return;
    }
    try {
      const rs = await deps.storage.client.query({
        query: `SELECT * FROM ${deps.storage.database}.expense_imports ORDER BY imported_at DESC, import_id`,
        format: 'JSONEachRow',
      });
      res.json({ imports: await rs.json() });
    } catch (cause) {
      next(new StorageError('listing expense imports', { cause }));
    }
  });
  return router;
}

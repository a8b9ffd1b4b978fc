/**
 * Provider bills and their reconciliation with the meter:
 *
 *   POST /v1/reconciliation/imports   (admin)  the file as the body; ?format=&provider=&file_name=&from=&to=&rate=EUR=1.08
 *   GET  /v1/reconciliation/imports   (read)   every import, newest first
 *   GET  /v1/reconciliation           (read)   ?period=|from=&to=, provider=, format=json|csv, lines=amounts|tokens (csv)
 */
import express, { type Request, type Response } from 'express';
import type { PolicyFile } from 'tokenledger/policy';
import { normaliseProvider } from '../core/providers';
import { BillImporter, BillImportError } from '../govern/bills/import';
import type { KeyRing } from '../govern/keys/keys';
import { BillFormatError } from '../ingest/bills/read';
import { PeriodError } from '../read/period';
import { reconcile, reconciliationCsv, settingsFromPolicy } from '../read/reconciliation';
import { BillStore } from '../storage/bills';
import { ParquetSchemaError } from '../storage/parquet';
import type { Storage } from '../storage/client';
import { requireScope } from './auth';

/** Bills are month-long exports: far larger than a span batch, bounded all the same. */
const MAX_BILL_BYTES = 256 * 1024 * 1024;

export class QueryError extends Error {}

export const one = (req: Request, name: string): string | undefined => {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new QueryError(`${name} must be given once`);
  return v;
};

export function allowOnly(req: Request, names: string[]): void {
  const unknown = Object.keys(req.query as object).find((k) => !names.includes(k));
  if (unknown !== undefined) throw new QueryError(`unknown parameter "${unknown}": use ${names.join(', ')}`);
}

/** `rate=EUR=1.08` (repeatable) → { EUR: '1.08' }. */
export function ratesFrom(req: Request): Record<string, string> {
  const raw = (req.query as Record<string, unknown>).rate;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const rates: Record<string, string> = {};
  for (const r of list) {
    const m = typeof r === 'string' ? /^([A-Za-z]{3})=(.+)$/.exec(r.trim()) : null;
    if (!m) throw new QueryError(`rate must be CUR=USD-per-unit, e.g. rate=EUR=1.08, got "${String(r)}"`);
    rates[m[1]!.toUpperCase()] = m[2]!;
  }
  return rates;
}

export function policyRates(policy: PolicyFile | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(policy?.reconciliation?.currency_rates ?? {}).map(([c, r]) => [c, String(r)]),
  );
}

export function reconciliationRouter(deps: {
  keys: KeyRing;
  storage: Storage;
  policy: () => PolicyFile | undefined;
  log: (line: string) => void;
}): express.Router {
  const router = express.Router();
  const importer = new BillImporter(deps.storage);
  const fail = (res: Response, err: unknown): boolean => {
    if (
      err instanceof QueryError ||
      err instanceof PeriodError ||
      err instanceof BillFormatError ||
      err instanceof BillImportError ||
      err instanceof ParquetSchemaError
    ) {
      res.status(400).json({ error: err.message });
      return true;
    }
    return false;
  };

  router.post(
    '/v1/reconciliation/imports',
    requireScope(deps.keys, 'admin'),
    express.raw({ type: () => true, limit: MAX_BILL_BYTES }),
    async (req, res, next) => {
      try {
        allowOnly(req, ['format', 'provider', 'file_name', 'from', 'to', 'rate']);
        const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (bytes.length === 0) throw new QueryError('the body must be the bill file (CSV or JSON)');
        const policy = deps.policy();
        const provider = one(req, 'provider');
        const result = await importer.import({
          bytes,
          fileName: one(req, 'file_name') ?? 'upload',
          importedBy: req.principal?.name ?? '',
          format: one(req, 'format'),
          ...(provider ? { provider } : {}),
          from: one(req, 'from'),
          to: one(req, 'to'),
          rates: ratesFrom(req),
          policyRates: policyRates(policy),
        });
        if (!result.duplicate && result.period_from) {
          // The dashboards read stored runs: refresh the months this bill touches now.
          await reconcile(
            deps.storage,
            { from: result.period_from, to: result.period_to },
            settingsFromPolicy(policy),
          ).catch((err: Error) =>
            deps.log(`reconciliation after import ${result.import_id}: ${err.message}`),
          );
        }
        res.status(result.duplicate ? 200 : 201).json(result);
      } catch (err) {
        if (!fail(res, err)) next(err);
      }
    },
  );

  router.get('/v1/reconciliation/imports', requireScope(deps.keys, 'read'), async (req, res, next) => {
    try {
      allowOnly(req, []);
      const imports = await new BillStore(deps.storage).imports();
      res.json({
        imports: imports.map((i) => ({
          ...i,
          problems: JSON.parse(i.problems || '{}') as unknown,
          rates: JSON.parse(i.rates || '{}') as unknown,
        })),
      });
    } catch (err) {
      if (!fail(res, err)) next(err);
    }
  });

  router.get('/v1/reconciliation', requireScope(deps.keys, 'read'), async (req, res, next) => {
    try {
      allowOnly(req, ['period', 'from', 'to', 'provider', 'format', 'lines']);
      const format = one(req, 'format') ?? 'json';
      if (format !== 'json' && format !== 'csv')
        throw new QueryError(`format must be json or csv, got "${format}"`);
      const lines = one(req, 'lines') ?? 'amounts';
      if (lines !== 'amounts' && lines !== 'tokens')
        throw new QueryError(`lines must be amounts or tokens, got "${lines}"`);
      const provider = one(req, 'provider');
      const report = await reconcile(
        deps.storage,
        {
          period: one(req, 'period'),
          from: one(req, 'from'),
          to: one(req, 'to'),
          ...(provider ? { provider: normaliseProvider(provider) } : {}),
        },
        settingsFromPolicy(deps.policy()),
      );
      if (format === 'csv') res.type('text/csv').send(reconciliationCsv(report, lines));
      else res.json(report);
    } catch (err) {
      if (!fail(res, err)) next(err);
    }
  });
  return router;
}

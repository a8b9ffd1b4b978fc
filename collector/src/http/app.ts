/** The collector's HTTP surface: OTLP receiver + API on one port. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { requireScope } from './auth';
import { ApprovalService } from '../govern/approvals/service';
import { ApprovalStore } from '../govern/approvals/store';
import { approvalsRouter } from './approvals';
import { budgetsRouter } from './budgets';
import { leasesRouter } from './leases';
import type { LeaseBook } from '../govern/budgets/leases';
import type { BudgetEngine } from '../govern/budgets/engine';
import type { BudgetLedger } from '../govern/budgets/ledger';
import { forecastRouter } from './forecast';
import { baselinesRouter } from './baselines';
import { BaselineStore } from '../govern/baselines/store';
import type { LoadedPolicy } from '../govern/policy/load';
import { reportPageRouter } from './report-page';
import { panelsRouter } from './panels';
import { estimateRouter } from './estimate';
import { outcomesRouter } from './outcomes';
import { inventoryHandler } from './inventory';
import { reconciliationRouter } from './reconciliation';
import { expensesRouter } from './expenses';
import type { KeyRing } from '../govern/keys/keys';
import type { Pricer } from '../pricing/pricer';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import type { CallWriter } from '../storage/writer';
import type { CollectorMetrics } from './metrics';
import { sendOtlpError } from './otlp-response';
import { spendReportHandler } from './reports';
import { RETRY_AFTER_SECONDS, tracesHandler } from './traces';

/** ~100 MiB of queued calls: far above a healthy queue (a few batches), low enough to protect memory. */
const DEFAULT_MAX_QUEUED_CALLS = 100_000;

export interface AppDeps {
  storage: Storage;
  writer: CallWriter;
  pricer: Pricer;
  keys: KeyRing;
  metrics: CollectorMetrics;
  maxBodyBytes: number;
  /** Backpressure threshold (calls waiting to be written); default DEFAULT_MAX_QUEUED_CALLS. */
  maxQueuedCalls?: number;
  log: (line: string) => void;
  /** Default: approvals in this storage, without policy rules or audit. */
  approvals?: ApprovalService;
  /** Budget state for GET /v1/budgets (absent: the route is not served). */
  budgets?: BudgetEngine;
  /** Where before/after baselines are stored (default: this storage). */
  baselines?: BaselineStore;
  /** Budgets of any period and forecasts (absent: /v1/budgets/report and /v1/forecast are not served). */
  ledger?: BudgetLedger;
  /** The current policy file, if any. */
  policy?: () => LoadedPolicy | undefined;
  /** Budget leases for the in-app guard (absent: POST/DELETE /v1/budgets/leases are not served). */
  leases?: LeaseBook;
}

const HEALTH_TIMEOUT_MS = 2_000;

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', async (_req, res) => {
    // Bounded: a hung ClickHouse must not hang the health check.
    const reachable = await Promise.race([
      deps.storage.client
        .query({ query: 'SELECT 1', format: 'JSONEachRow' })
        .then((r) => r.json())
        .then(
          () => true,
          () => false,
        ),
      new Promise<boolean>((resolve) => setTimeout(resolve, HEALTH_TIMEOUT_MS, false).unref()),
    ]);
    res
      .status(reachable ? 200 : 503)
      .json({ status: reachable ? 'ok' : 'degraded', storage: reachable ? 'ok' : 'unreachable' });
  });

  app.post(
    '/v1/traces',
    requireScope(deps.keys, 'ingest', sendOtlpError),
    // Any content type as raw bytes (the decoder answers 415 for unknown ones); gzip/deflate inflated here.
    express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: true }),
    tracesHandler({ ...deps, maxQueuedCalls: deps.maxQueuedCalls ?? DEFAULT_MAX_QUEUED_CALLS }),
  );

  app.get('/v1/reports/spend', requireScope(deps.keys, 'read'), spendReportHandler(deps.storage));
  app.get('/v1/inventory', requireScope(deps.keys, 'read'), inventoryHandler(deps.storage));

  app.use(
    reconciliationRouter({
      keys: deps.keys,
      storage: deps.storage,
      policy: () => deps.policy?.()?.policy,
      log: deps.log,
    }),
  );

  app.use(expensesRouter({ keys: deps.keys, storage: deps.storage, policy: () => deps.policy?.()?.policy }));

  app.use(approvalsRouter(deps.keys, deps.approvals ?? new ApprovalService(new ApprovalStore(deps.storage))));

  app.use(estimateRouter(deps.keys, deps.pricer));
  app.use(outcomesRouter(deps.keys, deps.storage));
  app.use(baselinesRouter(deps.keys, deps.storage, deps.baselines ?? new BaselineStore(deps.storage)));

  if (deps.budgets)
    app.use(budgetsRouter({ ...deps, engine: deps.budgets, policy: deps.policy ?? (() => undefined) }));

  if (deps.ledger)
    app.use(
      forecastRouter({
        keys: deps.keys,
        storage: deps.storage,
        ledger: deps.ledger,
        policy: deps.policy ?? (() => undefined),
      }),
    );

  if (deps.leases) app.use(leasesRouter(deps.keys, deps.leases));

  app.get('/metrics', requireScope(deps.keys, 'read'), (_req, res) => {
    res.type('text/plain; version=0.0.4').send(deps.metrics.render());
  });

  // The report page (public, holds no data) and the keyed panel API it reads.
  app.use(panelsRouter(deps.keys, deps.storage));
  app.use(reportPageRouter());

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  // Errors: body-parser's (413, bad gzip → 400, unknown encoding → 415), storage (503), anything
  // else 500 without internals. On the OTLP route the body is a google.rpc.Status.
  app.use(
    (err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
      const otlp = req.path === '/v1/traces';
      const fail = (status: number, message: string): void => {
        if (otlp) sendOtlpError(req, res, status, message);
        else res.status(status).json({ error: message });
      };
      if (err.status && err.status >= 400 && err.status < 500) {
        fail(
          err.status,
          err.type === 'entity.too.large'
            ? `body larger than ${deps.maxBodyBytes} bytes`
            : `bad request body: ${err.message}`,
        );
        return;
      }
      if (err instanceof StorageError) {
        deps.log(err.message);
        res.set('Retry-After', String(RETRY_AFTER_SECONDS));
        fail(503, 'storage unavailable; retry later');
        return;
      }
      deps.log(`internal error: ${err.stack ?? err.message}`);
      fail(500, 'internal error');
    },
  );
  return app;
}

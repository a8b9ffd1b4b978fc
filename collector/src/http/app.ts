/** The collector's HTTP surface: OTLP receiver + API on one port. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { requireScope } from './auth';
import { ApprovalService } from '../govern/approvals/service';
import { ApprovalStore } from '../govern/approvals/store';
import { approvalsRouter } from './approvals';
import { auditRouter } from './audit';
import type { AuditLog } from '../govern/audit';
import { budgetsRouter } from './budgets';
import { leaseLanding, leasesRouter } from './leases';
import type { LeaseBook } from '../govern/budgets/leases';
import type { LeaseAuthority } from '../govern/budgets/lease-owner';
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
import { IngestBudget } from './ingest-budget';
import { BodyError, INGEST_BUSY, otlpBody } from './otlp-body';
import { sendOtlpError } from './otlp-response';
import { spendReportHandler } from './reports';
import {
  BACKPRESSURE_RETRY_AFTER_SECONDS,
  NO_ROOM_RETRY_AFTER_SECONDS,
  RETRY_AFTER_SECONDS,
  tracesHandler,
} from './traces';

/** ~100 MiB of queued calls: far above a healthy queue (a few batches), low enough to protect memory. */
const DEFAULT_MAX_QUEUED_CALLS = 100_000;

/**
 * Memory for OTLP requests in flight (bodies, the one being decoded, calls waiting to be stored):
 * room for a body at the 16 MiB limit and its decoding beside a crowd of ordinary batches (~2.5 MB
 * each), and what it costs at the peak, with the garbage it leaves, stays under the collector's
 * 500 MB ceiling with margin (decision 0103).
 */
const DEFAULT_MAX_INGEST_BYTES = 48 * 1024 * 1024;

export interface AppDeps {
  storage: Storage;
  writer: CallWriter;
  pricer: Pricer;
  keys: KeyRing;
  metrics: CollectorMetrics;
  maxBodyBytes: number;
  /** Backpressure threshold (calls waiting to be written); default DEFAULT_MAX_QUEUED_CALLS. */
  maxQueuedCalls?: number;
  /** Memory budget of OTLP requests in flight, bytes (estimated); default DEFAULT_MAX_INGEST_BYTES. */
  maxIngestBytes?: number;
  /** Told of the bytes OTLP requests give back to the memory budget as they finish. */
  onIngestReleased?: (bytes: number, heldBytes: number) => void;
  /** Longest text value stored from spans (ingest/value-cap.ts); default 256. */
  maxValueLength?: number;
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
  /** Several collectors on one store: who grants leases (default: this collector, the only one). */
  leaseAuthority?: LeaseAuthority;
  /** While storage is not ready: why ("starting: ClickHouse not answering (12 s)"); every route answers 503. */
  starting?: () => string | undefined;
  /** What is wrong while storage answers (low disk, detached parts, …): /healthz says degraded. */
  problems?: () => string[];
  /** Why new spans must be refused now (low disk, a full journal), if they must. */
  refuseIngest?: () => string | undefined;
  /** Why file imports (bills, expenses) must be refused now (low disk), if they must. */
  refuseImports?: () => string | undefined;
  /** `tokenledger repair`: attach set-aside parts, restore from the journal (admin). */
  repair?: () => Promise<unknown>;
  /** The audit log, for GET /v1/audit (absent: not served). */
  auditLog?: AuditLog;
}

const HEALTH_TIMEOUT_MS = 2_000;

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', async (_req, res, next) => {
    const starting = deps.starting?.();
    if (starting) {
      res.status(503).json({ status: 'starting', message: starting });
      return;
    }
    next();
  });

  // Until storage is ready every other route answers 503 + Retry-After (exporters retry).
  app.use((req, res, next) => {
    const starting = deps.starting?.();
    if (!starting) {
      next();
      return;
    }
    res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    if (req.path === '/v1/traces') {
      deps.metrics.add('tokenledger_otlp_refused_total');
      sendOtlpError(req, res, 503, starting);
    } else res.status(503).json({ error: starting });
  });

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
    const problems = deps.problems?.() ?? [];
    const ok = reachable && problems.length === 0;
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      storage: reachable ? 'ok' : 'unreachable',
      ...(problems.length > 0 ? { problems } : {}),
    });
  });

  const ingestBudget = new IngestBudget(
    deps.maxIngestBytes ?? DEFAULT_MAX_INGEST_BYTES,
    deps.onIngestReleased,
  );
  const leaseAuthority = deps.leaseAuthority;
  if (deps.leases && leaseAuthority)
    deps.metrics.gauge(
      'tokenledger_budget_lease_owner',
      'Whether this collector grants budget leases now (1), or forwards or holds them (0); several collectors on one store elect one.',
      () => (leaseAuthority.view().role === 'owner' ? 1 : 0),
    );
  deps.metrics.gauge(
    'tokenledger_ingest_bytes_in_flight',
    'Estimated memory held by OTLP requests in flight (bodies, decoding, calls waiting to be stored).',
    () => ingestBudget.usedBytes,
  );
  app.post(
    '/v1/traces',
    requireScope(deps.keys, 'ingest', sendOtlpError),
    // Any content type as raw bytes (the decoder answers 415 for unknown ones); gzip, deflate and
    // brotli inflated here, every byte counted against the memory budget as it arrives.
    otlpBody({ limit: deps.maxBodyBytes, budget: ingestBudget }),
    tracesHandler({
      ...deps,
      maxQueuedCalls: deps.maxQueuedCalls ?? DEFAULT_MAX_QUEUED_CALLS,
      ingest: deps.maxValueLength !== undefined ? { maxValueLength: deps.maxValueLength } : {},
      ...(deps.leases ? { leaseLanded: leaseLanding(deps.leases, deps.leaseAuthority, deps.log) } : {}),
    }),
  );

  app.get('/v1/reports/spend', requireScope(deps.keys, 'read'), spendReportHandler(deps.storage));
  app.get('/v1/inventory', requireScope(deps.keys, 'read'), inventoryHandler(deps.storage));

  // Imports write parts too: refused while the disk is low, before the engine runs out mid-part.
  const imports = ['/v1/reconciliation/imports', '/v1/expenses/imports'];
  app.post(imports, requireScope(deps.keys, 'admin'), (_req, res, next) => {
    const refused = deps.refuseImports?.();
    if (!refused) {
      next();
      return;
    }
    res.set('Retry-After', String(NO_ROOM_RETRY_AFTER_SECONDS));
    res.status(503).json({ error: `${refused}; retry later` });
  });

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
  app.use(outcomesRouter(deps.keys, deps.storage, deps.metrics));
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

  if (deps.leases) app.use(leasesRouter(deps.keys, deps.leases, deps.leaseAuthority));
  if (deps.auditLog) app.use(auditRouter(deps.keys, deps.auditLog));

  if (deps.repair) {
    const repair = deps.repair;
    app.post('/v1/admin/repair', requireScope(deps.keys, 'admin'), async (_req, res, next) => {
      try {
        res.json(await repair());
      } catch (err) {
        next(err);
      }
    });
  }

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
      if (err instanceof BodyError && err.type === INGEST_BUSY) {
        deps.metrics.add('tokenledger_otlp_memory_shed_total');
        res.set('Retry-After', String(BACKPRESSURE_RETRY_AFTER_SECONDS));
        fail(429, err.message);
        return;
      }
      if (err.status && err.status >= 400 && err.status < 500) {
        if (otlp && err.status === 413) deps.metrics.add('tokenledger_otlp_too_large_total');
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

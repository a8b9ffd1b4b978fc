/** The collector's HTTP surface: OTLP receiver + API on one port. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { requireScope } from '../auth/middleware';
import type { KeyRing } from '../auth/keys';
import type { Pricer } from '../pricing';
import type { Storage } from '../storage/client';
import { StorageError } from '../storage/errors';
import type { CallWriter } from '../storage/writer';
import type { CollectorMetrics } from './metrics';
import { spendReportHandler } from './reports';
import { tracesHandler } from './traces';

export interface AppDeps {
  storage: Storage;
  writer: CallWriter;
  pricer: Pricer;
  keys: KeyRing;
  metrics: CollectorMetrics;
  maxBodyBytes: number;
  log: (line: string) => void;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', async (_req, res) => {
    let storage = 'ok';
    try {
      await deps.storage.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.json());
    } catch {
      storage = 'unreachable';
    }
    res.status(storage === 'ok' ? 200 : 503).json({ status: storage === 'ok' ? 'ok' : 'degraded', storage });
  });

  app.post(
    '/v1/traces',
    requireScope(deps.keys, 'ingest'),
    // Any content type as raw bytes (the decoder answers 415 for unknown ones); gzip/deflate inflated here.
    express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: true }),
    tracesHandler(deps),
  );

  app.get('/v1/reports/spend', requireScope(deps.keys, 'read'), spendReportHandler(deps.storage));

  app.get('/metrics', requireScope(deps.keys, 'read'), (_req, res) => {
    res.type('text/plain; version=0.0.4').send(deps.metrics.render());
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  // Errors: body-parser's (413, bad gzip → 400), storage (503), anything else 500 without internals.
  app.use(
    (err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err.status && err.status >= 400 && err.status < 500) {
        const message =
          err.type === 'entity.too.large'
            ? `body larger than ${deps.maxBodyBytes} bytes`
            : `bad request body: ${err.message}`;
        res.status(err.status).json({ code: err.status, message });
        return;
      }
      if (err instanceof StorageError) {
        deps.log(err.message);
        res.status(503).set('Retry-After', '5').json({ error: 'storage unavailable; retry later' });
        return;
      }
      deps.log(`internal error: ${err.stack ?? err.message}`);
      res.status(500).json({ error: 'internal error' });
    },
  );
  return app;
}

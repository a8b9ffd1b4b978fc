/**
 * Before/after baselines:
 *   POST /v1/baselines  { feature, label, at? }  (ingest key: a deploy pipeline marks its release)
 *   GET  /v1/baselines?period=…|from=…&to=…&feature=…  (read key) each change in the range, with
 *        cost per call, tokens per call and cost per outcome before and after, and the counts.
 */
import express from 'express';
import type { BaselineStore } from '../govern/baselines/store';
import type { KeyRing } from '../govern/keys/keys';
import { EARLIEST_STORED_TIME, LATEST_STORED_TIME, isStorableTime } from '../core/time-range';
import { baselineComparisons } from '../read/baselines';
import { PeriodError } from '../read/period';
import type { Storage } from '../storage/client';
import { requireScope } from './auth';
import { jsonBody } from './json-body';

const MAX_TEXT = 256;
const READ_PARAMS = ['period', 'from', 'to', 'feature'];

class BaselineError extends Error {}

function text(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_TEXT)
    throw new BaselineError(`${key} is required: a string of 1 to ${MAX_TEXT} characters`);
  return v.trim();
}

function parseAt(v: unknown, now: Date): Date {
  if (v === undefined) return now;
  const at = new Date(typeof v === 'string' ? v : NaN);
  if (Number.isNaN(at.getTime())) throw new BaselineError('at must be an ISO 8601 timestamp');
  if (!isStorableTime(at))
    throw new BaselineError(
      `at must be between ${EARLIEST_STORED_TIME.toISOString()} and ${LATEST_STORED_TIME.toISOString()}`,
    );
  return at;
}

export function baselinesRouter(keys: KeyRing, storage: Storage, store: BaselineStore): express.Router {
  const router = express.Router();

  router.post('/v1/baselines', requireScope(keys, 'ingest'), jsonBody('64kb'), async (req, res, next) => {
    let baseline;
    try {
      const body = req.body as unknown;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new BaselineError('body must be { "feature": "...", "label": "...", "at": "ISO 8601" }');
      const b = body as Record<string, unknown>;
      baseline = {
        feature: text(b, 'feature'),
        label: text(b, 'label'),
        at: parseAt(b.at, new Date()),
        source: 'manual' as const,
        createdBy: req.principal?.name ?? req.role ?? '',
      };
    } catch (err) {
      if (err instanceof BaselineError) {
        res.status(400).json({ error: err.message });
        return;
      }
      throw err;
    }
    try {
      const [stored] = await store.add([baseline]);
      res.status(201).json({
        id: stored!.id,
        feature: stored!.feature,
        label: stored!.label,
        at: stored!.at.toISOString(),
        source: stored!.source,
      });
    } catch (err) {
      next(err);
    }
  });

  router.get('/v1/baselines', requireScope(keys, 'read'), async (req, res, next) => {
    const query = req.query as Record<string, unknown>;
    const unknown = Object.keys(query).find((k) => !READ_PARAMS.includes(k));
    if (unknown !== undefined) {
      res.status(400).json({ error: `unknown parameter "${unknown}": use ${READ_PARAMS.join(', ')}` });
      return;
    }
    const one = (name: string): string | undefined =>
      typeof query[name] === 'string' ? query[name] : undefined;
    const features = ([] as unknown[])
      .concat(query.feature ?? [])
      .filter((f): f is string => typeof f === 'string');
    try {
      res.json(
        await baselineComparisons(storage, {
          period: one('period'),
          from: one('from'),
          to: one('to'),
          feature: features,
        }),
      );
    } catch (err) {
      if (err instanceof PeriodError) {
        res.status(400).json({ error: err.message });
        return;
      }
      next(err);
    }
  });
  return router;
}

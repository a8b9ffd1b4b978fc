/** POST /v1/estimate: what a call or a job will cost before it runs. */
import express from 'express';
import type { KeyRing } from '../govern/keys/keys';
import { requireScope } from './auth';
import { EstimateError, estimateCost, parseEstimateInput } from '../govern/estimate/estimate';
import type { Pricer } from '../pricing/pricer';
import { jsonBody } from './json-body';

export function estimateRouter(keys: KeyRing, pricer: Pricer): express.Router {
  const router = express.Router();
  router.post('/v1/estimate', requireScope(keys, ['ingest', 'read']), jsonBody('4mb'), (req, res) => {
    try {
      res.json(estimateCost(pricer, parseEstimateInput(req.body)));
    } catch (err) {
      if (err instanceof EstimateError) res.status(400).json({ error: err.message });
      else throw err;
    }
  });
  return router;
}

/** GET /v1/inventory?period=…|from=…&to=… — models, providers, services, instrumentations, shadow AI hosts. */
import type { Request, Response } from 'express';
import { inventory } from '../read/inventory';
import { PeriodError } from '../read/period';
import type { Storage } from '../storage/client';

const PARAMS = ['period', 'from', 'to'];

export function inventoryHandler(storage: Storage) {
  return async (req: Request, res: Response): Promise<void> => {
    const query = req.query as Record<string, unknown>;
    const unknown = Object.keys(query).find((k) => !PARAMS.includes(k));
    if (unknown !== undefined) {
      res.status(400).json({ error: `unknown parameter "${unknown}": use ${PARAMS.join(', ')}` });
      return;
    }
    const input: Record<string, string> = {};
    for (const name of PARAMS) {
      const v = query[name];
      if (v === undefined) continue;
      if (typeof v !== 'string') {
        res.status(400).json({ error: `${name} must be given once` });
        return;
      }
      input[name] = v;
    }
    try {
      res.json(await inventory(storage, input));
    } catch (err) {
      if (err instanceof PeriodError) {
        res.status(400).json({ error: err.message });
        return;
      }
      throw err;
    }
  };
}

/**
 * GET /v1/reports/spend — JSON (default) or CSV.
 * `period` | `from`+`to`, `groupBy=team,model`, `format=json|csv`, and filters named by dimension:
 * `team=search&model=gpt-4o,gpt-4o-mini` (repeatable). Anything else is a 400 naming the parameter.
 */
import type { Request, Response } from 'express';
import { PeriodError } from '../read/period';
import {
  GROUP_BY_DIMENSIONS,
  parseFilters,
  parseGroupBy,
  ReportQueryError,
  spendReport,
  spendReportCsv,
} from '../read/spend';
import type { Storage } from '../storage/client';

const PARAMS = ['period', 'from', 'to', 'groupBy', 'format'] as const;

const one = (v: unknown, name: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ReportQueryError(`${name} must be given once`);
  return v;
};

export function spendReportHandler(storage: Storage) {
  return async (req: Request, res: Response): Promise<void> => {
    try {
      const query = req.query as Record<string, unknown>;
      const filterPairs: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(query)) {
        if ((PARAMS as readonly string[]).includes(name)) continue;
        if (!(GROUP_BY_DIMENSIONS as readonly string[]).includes(name)) {
          throw new ReportQueryError(
            `unknown parameter "${name}": use ${PARAMS.join(', ')}, or a filter on ${GROUP_BY_DIMENSIONS.join(', ')}`,
          );
        }
        const values = Array.isArray(value) ? value : [value];
        for (const v of values) {
          if (typeof v !== 'string') throw new ReportQueryError(`filter ${name} must be a string`);
          filterPairs.push([name, v]);
        }
      }
      const format = one(query.format, 'format') ?? 'json';
      if (format !== 'json' && format !== 'csv')
        throw new ReportQueryError(`format must be json or csv, got "${format}"`);
      const input = {
        period: one(query.period, 'period'),
        from: one(query.from, 'from'),
        to: one(query.to, 'to'),
        groupBy: parseGroupBy(one(query.groupBy, 'groupBy')),
        filters: parseFilters(filterPairs),
      };
      const report = await spendReport(storage, input);
      if (format === 'csv') res.type('text/csv').send(spendReportCsv(report, input.groupBy));
      else res.json(report);
    } catch (err) {
      if (err instanceof ReportQueryError || err instanceof PeriodError) {
        res.status(400).json({ error: err.message });
        return;
      }
      throw err;
    }
  };
}

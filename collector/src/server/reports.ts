/** GET /v1/reports/spend — JSON (default) or CSV. */
import type { Request, Response } from 'express';
import { PeriodError } from '../reports/period';
import { parseGroupBy, ReportQueryError, spendReport, spendReportCsv } from '../reports/spend';
import type { Storage } from '../storage/client';

const one = (v: unknown, name: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ReportQueryError(`${name} must be given once`);
  return v;
};

export function spendReportHandler(storage: Storage) {
  return async (req: Request, res: Response): Promise<void> => {
    try {
      const format = one(req.query.format, 'format') ?? 'json';
      if (format !== 'json' && format !== 'csv')
        throw new ReportQueryError(`format must be json or csv, got "${format}"`);
      const input = {
        period: one(req.query.period, 'period'),
        from: one(req.query.from, 'from'),
        to: one(req.query.to, 'to'),
        groupBy: parseGroupBy(one(req.query.groupBy, 'groupBy')),
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

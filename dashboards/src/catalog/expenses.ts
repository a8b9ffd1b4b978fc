/**
 * AI bought outside the APIs: recognised AI vendors among imported card and expense-tool exports
 * (the latest import of each source per day). Appended to the CFO overview.
 */
import type { PanelDef } from './types';
import { table } from './sql';

const CURRENT_EXPENSES = `(
  SELECT vendor, product, employee, department, amount_usd FROM ${table('expense_lines')}
  WHERE (source, day, import_id) IN (
      SELECT source, day, argMax(import_id, imported_at) FROM ${table('expense_coverage')}
      WHERE import_id IN (SELECT import_id FROM ${table('expense_imports')})
      GROUP BY source, day)
    AND vendor != '' AND day >= toDate($__fromTime) AND day <= toDate($__toTime))`;

export const AI_OUTSIDE_API_PANEL: PanelDef = {
  id: 'cfo-ai-outside-api',
  gridId: 12,
  columns: ['vendor', 'product', 'owners', 'charges', 'spend_usd'],
  title: 'AI spend outside the API',
  question:
    'What do we pay AI vendors by card and expense report (seats, subscriptions, tools), and for whom?',
  sql: `
SELECT vendor, product, uniqExact(if(employee != '', employee, department)) AS owners, count() AS charges,
  sum(amount_usd) AS spend_usd
FROM ${CURRENT_EXPENSES}
GROUP BY vendor, product
ORDER BY spend_usd DESC, vendor, product`,
  format: 'table',
  visualization: 'table',
  unit: 'currencyUSD',
  width: 24,
  height: 6,
};

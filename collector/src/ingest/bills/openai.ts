/**
 * OpenAI's organization Costs API (`GET /v1/organization/costs`, daily buckets of
 * `organization.costs.result`: amount {value, currency}, line_item, project_id, api_key_id) as
 * saved JSON — one page, a list of pages, or one page per line — and the usage dashboard's cost
 * export (CSV: start_time, end_time, start_time_iso, end_time_iso, amount_value, amount_currency,
 * line_item, project_id, organization_id, organization_name).
 *
 * The Costs API has no model field: with `group_by=line_item` the line item names it
 * ("gpt-4o-2024-08-06, input"), so the model is the line item's text before its first comma (a
 * line item without a comma is a model only when it looks like a model id). Batch and
 * cached-input line items are marked as such.
 */
import { PROVIDER_OPENAI } from '../../core/providers';
import { utcDay, type BillLine, type BillProblem, type ParsedBill, type PricingKind } from '../../core/bill';
import {
  billLine,
  currency,
  decimal,
  forEachBucketResult,
  instant,
  pageHasResults,
  periodOfDays,
  readCsv,
  RowError,
  text,
} from './common';

const OPENAI_COST_CSV_COLUMNS = ['start_time', 'amount_value', 'amount_currency', 'line_item'];

/** The model a cost line item names, and how it was priced. */
function openaiLineItem(lineItem: string): { model: string; pricing: PricingKind } {
  const item = lineItem.trim();
  const comma = item.indexOf(',');
  const model = comma < 0 ? item : item.slice(0, comma).trim();
  const rest = comma < 0 ? '' : item.slice(comma + 1);
  const pricing: PricingKind = /batch/i.test(rest) ? 'batch' : /cached/i.test(rest) ? 'cached' : 'standard';
  // Without a comma only a model-like id ("gpt-4o") is a model; "input_tokens" or "Image models" is not.
  return { model: comma < 0 && !/^[a-z][\w.:]*-[\w.:-]*$/i.test(model) ? '' : model, pricing };
}

export const isOpenAICostsPage = (page: unknown): boolean =>
  pageHasResults(page, (results) => results.some((r) => r?.object === 'organization.costs.result'));

export function readOpenAICostsJson(pages: unknown[]): ParsedBill {
  const lines: BillLine[] = [];
  const { records, problems, covered } = forEachBucketResult(
    pages,
    { start: 'start_time', end: 'end_time' },
    (raw, day, record) => {
      const amount = raw.amount as { value?: unknown; currency?: unknown } | undefined;
      const lineItem = text(raw.line_item);
      const { model, pricing } = openaiLineItem(lineItem);
      lines.push(
        billLine({
          sourceLine: record,
          provider: PROVIDER_OPENAI,
          day,
          model,
          project: text(raw.project_id),
          apiKey: text(raw.api_key_id),
          lineItem,
          pricing,
          amount: decimal(amount?.value, 'amount.value'),
          currency: currency(amount?.currency, 'USD'),
          quantity:
            raw.quantity === null || raw.quantity === undefined
              ? undefined
              : decimal(raw.quantity, 'quantity'),
          unit: text(raw.quantity_unit),
        }),
      );
    },
  );
  return {
    format: 'openai-costs',
    lines,
    problems,
    rowsRead: records,
    rowsSkipped: 0,
    periods: periodOfDays(PROVIDER_OPENAI, covered),
  };
}

export function isOpenAICostCsvHeader(header: string[]): boolean {
  return OPENAI_COST_CSV_COLUMNS.every((c) => header.includes(c));
}

export function readOpenAICostCsv(content: string): ParsedBill {
  const { rows, broken } = readCsv(content);
  const lines: BillLine[] = [];
  const problems: BillProblem[] = [...broken];
  const covered = new Set<string>();
  for (const { line, record: r } of rows) {
    try {
      const day = utcDay(instant(r.start_time_iso || r.start_time, 'start_time'));
      covered.add(day);
      // A day without spend is exported with an empty amount: covered, nothing billed.
      if (text(r.amount_value) === '') continue;
      const lineItem = text(r.line_item);
      const { model, pricing } = openaiLineItem(lineItem);
      lines.push(
        billLine({
          sourceLine: line,
          provider: PROVIDER_OPENAI,
          day,
          model,
          project: text(r.project_id),
          apiKey: text(r.api_key_id),
          account: text(r.organization_id),
          lineItem,
          pricing,
          amount: decimal(r.amount_value, 'amount_value'),
          currency: currency(r.amount_currency, 'USD'),
        }),
      );
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  return {
    format: 'openai-cost-csv',
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    rowsSkipped: 0,
    periods: periodOfDays(PROVIDER_OPENAI, covered),
  };
}

/**
 * Anthropic's Usage & Cost Admin API cost report (`GET /v1/organizations/cost_report`, daily
 * buckets with starting_at / ending_at and results of amount, currency, cost_type, description,
 * model, service_tier, token_type, context_window, workspace_id), saved as JSON (one page, a list,
 * or one page per line). `amount` is in the currency's lowest unit as a decimal string: "123.45"
 * USD is $1.2345.
 */
import { Money } from '../../core/money';
import { PROVIDER_ANTHROPIC } from '../../core/providers';
import type { BillLine, ParsedBill, PricingKind } from '../../core/bill';
import {
  billLine,
  currency,
  decimal,
  forEachBucketResult,
  pageHasResults,
  periodOfDays,
  RowError,
  text,
} from './common';

/** Currencies whose lowest unit is not a hundredth (ISO 4217 minor units). */
const MINOR_UNITS: Record<string, number> = { JPY: 0, KRW: 0 };

export const isAnthropicCostPage = (page: unknown): boolean =>
  pageHasResults(page, (results) => results.every((r) => typeof r?.amount === 'string'), 'starting_at');

function pricingOf(r: Record<string, unknown>): PricingKind {
  if (text(r.service_tier) === 'batch') return 'batch';
  if (text(r.token_type) === 'cache_read_input_tokens') return 'cached';
  return 'standard';
}

export function readAnthropicCostJson(pages: unknown[]): ParsedBill {
  const lines: BillLine[] = [];
  const { records, problems, covered } = forEachBucketResult(
    pages,
    { start: 'starting_at', end: 'ending_at' },
    (raw, day, record) => {
      if (typeof raw.amount !== 'string')
        throw new RowError(
          `amount must be a decimal string in the currency's lowest unit, got ${JSON.stringify(raw.amount ?? null)}`,
        );
      const code = currency(raw.currency, 'USD');
      const minor = new Money(decimal(raw.amount, 'amount'));
      const costType = text(raw.cost_type);
      lines.push(
        billLine({
          sourceLine: record,
          provider: PROVIDER_ANTHROPIC,
          day,
          model: text(raw.model),
          project: text(raw.workspace_id),
          lineItem: text(raw.description) || [costType, text(raw.token_type)].filter(Boolean).join(' '),
          sku: [costType, text(raw.token_type), text(raw.context_window)].filter(Boolean).join('/'),
          pricing: pricingOf(raw),
          amount: minor.div(new Money(10).pow(MINOR_UNITS[code] ?? 2)).toFixed(),
          currency: code,
        }),
      );
    },
  );
  return {
    format: 'anthropic-cost-report',
    lines,
    problems,
    rowsRead: records,
    rowsSkipped: 0,
    periods: periodOfDays(PROVIDER_ANTHROPIC, covered),
  };
}

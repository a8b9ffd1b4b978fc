/**
 * AWS Cost and Usage Report lines for Amazon Bedrock, in either naming: legacy CUR CSV
 * (`lineItem/UnblendedCost`, `lineItem/UsageStartDate`, `lineItem/ProductCode`, …) and CUR 2.0 /
 * Parquet (`line_item_unblended_cost`, `line_item_usage_start_date`, `line_item_product_code`, …):
 * a legacy name maps onto the 2.0 one (`lineItem/UsageStartDate` → `line_item_usage_start_date`).
 * Only `AmazonBedrock` lines are kept; the amount is the unblended cost in the line's currency.
 */
import { PROVIDER_BEDROCK } from '../../core/providers';
import {
  utcDay,
  type BillLine,
  type BillPeriod,
  type BillProblem,
  type ChargeKind,
  type ParsedBill,
  type PricingKind,
} from '../../core/bill';
import {
  billLine,
  currency,
  dayOf,
  decimal,
  instant,
  optionalDecimal,
  readCsv,
  RowError,
  text,
  type CsvRow,
  widen,
} from './common';
import { bedrockModelOfUsageType } from './cloud-models';

const BEDROCK = 'AmazonBedrock';

/** `lineItem/UsageStartDate` → `line_item_usage_start_date`; a 2.0 name stays as it is. */
function curColumn(name: string): string {
  return name
    .trim()
    .split('/')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase())
    .join('_');
}

export function isCurHeader(header: string[]): boolean {
  const names = new Set(header.map(curColumn));
  return ['line_item_unblended_cost', 'line_item_usage_start_date', 'line_item_product_code'].every((c) =>
    names.has(c),
  );
}

/** lineItem/LineItemType → what the charge is (AWS CUR data dictionary, line item details). */
function chargeOf(type: string): ChargeKind {
  switch (type) {
    case 'Usage':
    case 'DiscountedUsage':
    case 'SavingsPlanCoveredUsage':
      return 'usage';
    case 'Credit':
    case 'Refund':
      return 'credit';
    case 'Tax':
      return 'tax';
    case 'Fee':
    case 'RIFee':
    case 'SavingsPlanUpfrontFee':
    case 'SavingsPlanRecurringFee':
      return 'purchase';
    default:
      // Discounts (BundledDiscount, EdpDiscount, PrivateRateDiscount, …) and SavingsPlanNegation.
      return 'adjustment';
  }
}

function pricingOf(usageType: string, description: string, amount: string, quantity?: string): PricingKind {
  const text = `${usageType} ${description}`;
  if (/batch/i.test(text)) return 'batch';
  if (/cache[-_ ]?read|cached/i.test(text)) return 'cached';
  if (/free\s*tier/i.test(text) || (Number(amount) === 0 && quantity !== undefined && Number(quantity) > 0))
    return 'free_tier';
  return 'standard';
}

export function readCurCsv(content: string): ParsedBill {
  const { rows, broken } = readCsv(content);
  return readCurRows(rows, broken);
}

/** CUR rows however they were read (CSV here, Parquet through the engine). */
export function readCurRows(rows: CsvRow[], broken: BillProblem[]): ParsedBill {
  const problems: BillProblem[] = [...broken];
  const lines: BillLine[] = [];
  let period: BillPeriod | undefined;
  let skipped = 0;
  for (const { line, record } of rows) {
    const r: Record<string, string> = {};
    for (const [k, v] of Object.entries(record)) r[curColumn(k)] = v;
    try {
      if (text(r.line_item_product_code) !== BEDROCK) {
        skipped++;
        continue;
      }
      const amount = decimal(r.line_item_unblended_cost, 'line_item_unblended_cost');
      const quantity = optionalDecimal(r.line_item_usage_amount, 'line_item_usage_amount');
      const usageType = text(r.line_item_usage_type);
      const description = text(r.line_item_line_item_description);
      const charge = chargeOf(text(r.line_item_line_item_type) || 'Usage');
      if (text(r.bill_billing_period_start_date) && text(r.bill_billing_period_end_date)) {
        const from = utcDay(instant(r.bill_billing_period_start_date, 'bill_billing_period_start_date'));
        const to = utcDay(instant(r.bill_billing_period_end_date, 'bill_billing_period_end_date'));
        period = widen(period, PROVIDER_BEDROCK, from, to);
      }
      const named = bedrockModelOfUsageType(usageType);
      const pricing = charge === 'usage' ? pricingOf(usageType, description, amount, quantity) : 'standard';
      lines.push(
        billLine({
          sourceLine: line,
          provider: PROVIDER_BEDROCK,
          model: named.model,
          day: dayOf(r.line_item_usage_start_date, 'line_item_usage_start_date'),
          account: text(r.line_item_usage_account_id),
          project: text(r.line_item_usage_account_id),
          service: text(r.product_product_name) || BEDROCK,
          sku: usageType,
          lineItem: description || usageType,
          charge,
          pricing: pricing === 'standard' && named.pricing ? named.pricing : pricing,
          amount,
          currency: currency(r.line_item_currency_code, 'USD'),
          quantity,
          unit: text(r.pricing_unit),
        }),
      );
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  return {
    format: 'aws-cur',
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    rowsSkipped: skipped,
    periods: period ? [period] : [],
  };
}

/**
 * FOCUS cost and usage datasets (FinOps Open Cost and Usage Specification), versions 1.0 to 1.2 —
 * the columns those versions share (decision 0041): ProviderName, PublisherName, ServiceName,
 * ChargeCategory, ChargeClass, ChargePeriodStart, BillingPeriodStart/End, BilledCost,
 * BillingCurrency, SkuId, SkuMeter (1.1), ChargeDescription, SubAccountId, ConsumedQuantity /
 * ConsumedUnit, PricingCategory, ListCost. The amount read is BilledCost (what is invoiced);
 * EffectiveCost would spread prepaid commitments over usage and not add up to the invoice.
 *
 * A cloud's FOCUS export holds every service: only AI services become bill lines (the rest is
 * counted as skipped), unless the caller names the provider the whole file belongs to.
 */
import {
  normaliseProvider,
  PROVIDER_ANTHROPIC,
  PROVIDER_AZURE_OPENAI,
  PROVIDER_BEDROCK,
  PROVIDER_GEMINI,
  PROVIDER_OPENAI,
  PROVIDER_VERTEX,
} from '../../core/providers';
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

const FOCUS_REQUIRED = [
  'BilledCost',
  'BillingCurrency',
  'ChargeCategory',
  'ChargePeriodStart',
  'ServiceName',
];

/** ServiceName (and the provider / publisher columns) → the provider the meter knows the calls as. */
const AI_SERVICES: Array<[RegExp, string]> = [
  [/bedrock/i, PROVIDER_BEDROCK],
  [/openai/i, PROVIDER_AZURE_OPENAI],
  [/vertex\s*ai/i, PROVIDER_VERTEX],
  [/gemini|generative\s*language/i, PROVIDER_GEMINI],
];

const CHARGES: Record<string, ChargeKind> = {
  usage: 'usage',
  purchase: 'purchase',
  tax: 'tax',
  credit: 'credit',
  adjustment: 'adjustment',
};

export function isFocusHeader(header: string[]): boolean {
  return FOCUS_REQUIRED.every((c) => header.includes(c));
}

/** The provider of a row, or '' when it is not AI spend. */
function providerOf(r: Record<string, string>): string {
  const service = text(r.ServiceName);
  for (const [re, provider] of AI_SERVICES) {
    if (re.test(service)) {
      // Azure's AI services are Microsoft's; elsewhere an "OpenAI" service is OpenAI's own.
      if (
        provider === PROVIDER_AZURE_OPENAI &&
        !/microsoft|azure/i.test(`${r.ProviderName} ${r.ServiceProviderName ?? ''}`)
      )
        return PROVIDER_OPENAI;
      return provider;
    }
  }
  for (const name of [r.ServiceProviderName, r.ProviderName, r.PublisherName]) {
    const p = normaliseProvider(text(name));
    if (p === PROVIDER_OPENAI || p === PROVIDER_ANTHROPIC) return p;
  }
  return '';
}

function pricingOf(r: Record<string, string>, amount: string, quantity: string | undefined): PricingKind {
  const described = `${text(r.SkuMeter)} ${text(r.ChargeDescription)} ${text(r.SkuPriceDetails)}`;
  if (/batch/i.test(described)) return 'batch';
  if (/cache[ds]?\s*(read|input|hit)|cached/i.test(described)) return 'cached';
  if (
    /free\s*tier/i.test(described) ||
    (Number(amount) === 0 && quantity !== undefined && Number(quantity) > 0)
  )
    return 'free_tier';
  return 'standard';
}

export function readFocus(content: string, opts: { provider?: string }): ParsedBill {
  const { rows, broken } = readCsv(content);
  return readFocusRows(rows, broken, opts);
}

/** FOCUS rows however they were read (CSV here, Parquet through the engine). */
export function readFocusRows(
  rows: CsvRow[],
  broken: BillProblem[],
  opts: { provider?: string },
): ParsedBill {
  const problems: BillProblem[] = [...broken];
  const lines: BillLine[] = [];
  const periods = new Map<string, BillPeriod>();
  let skipped = 0;
  for (const { line, record: r } of rows) {
    try {
      const provider = opts.provider ?? providerOf(r);
      if (provider === '') {
        skipped++;
        continue;
      }
      const categoryText = text(r.ChargeCategory);
      const charge = CHARGES[categoryText.toLowerCase()];
      if (!charge)
        throw new RowError(
          `ChargeCategory must be Usage, Purchase, Tax, Credit or Adjustment, got ${JSON.stringify(categoryText)}`,
        );
      const amount = decimal(r.BilledCost, 'BilledCost');
      const quantity = optionalDecimal(r.ConsumedQuantity ?? r.PricingQuantity, 'ConsumedQuantity');
      const day = dayOf(r.ChargePeriodStart, 'ChargePeriodStart');
      if (text(r.BillingPeriodStart) && text(r.BillingPeriodEnd)) {
        const from = utcDay(instant(r.BillingPeriodStart, 'BillingPeriodStart'));
        const to = utcDay(instant(r.BillingPeriodEnd, 'BillingPeriodEnd'));
        periods.set(provider, widen(periods.get(provider), provider, from, to));
      }
      lines.push(
        billLine({
          sourceLine: line,
          provider,
          day,
          // FOCUS has no model column; a provider's own x_ column may carry it.
          model: text(r.x_Model ?? r.x_ModelName ?? ''),
          project: text(r.SubAccountName) || text(r.SubAccountId),
          account: text(r.BillingAccountId),
          service: text(r.ServiceName),
          sku: text(r.SkuId),
          lineItem: text(r.SkuMeter) || text(r.ChargeDescription),
          charge,
          pricing: charge === 'usage' ? pricingOf(r, amount, quantity) : 'standard',
          amount,
          currency: currency(r.BillingCurrency),
          quantity,
          unit: text(r.ConsumedUnit ?? r.PricingUnit),
        }),
      );
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  return {
    format: 'focus',
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    rowsSkipped: skipped,
    periods: [...periods.values()],
  };
}

/**
 * Azure Cost Management cost and usage details export (CSV), Microsoft Customer Agreement schema
 * 2021-10-01 / 2023-12-01-preview and the EA / pay-as-you-go ones that share its names (matched
 * case-insensitively): date, billingPeriodStartDate / EndDate, meterCategory, meterSubCategory,
 * meterName, ProductName, SubscriptionId, quantity, unitOfMeasure, chargeType, billingCurrency
 * (billingCurrencyCode), costInBillingCurrency. Only Azure OpenAI charges are kept. Dates are ISO
 * 8601 or the exports' MM/DD/YYYY.
 */
import { PROVIDER_AZURE_OPENAI } from '../../core/providers';
import {
  utcDay,
  type BillLine,
  type BillPeriod,
  type BillProblem,
  type ChargeKind,
  type ParsedBill,
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
  widen,
} from './common';
import { azureModelOfMeter } from './cloud-models';

const REQUIRED = ['date', 'costinbillingcurrency', 'metercategory', 'chargetype'];

export function isAzureHeader(header: string[]): boolean {
  const names = new Set(header.map((h) => h.toLowerCase()));
  return REQUIRED.every((c) => names.has(c));
}

/** MM/DD/YYYY (as Azure's CSV exports write dates) → YYYY-MM-DD; ISO text unchanged. */
function isoDate(value: string | undefined): string | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec((value ?? '').trim());
  return m ? `${m[3]}-${m[1]!.padStart(2, '0')}-${m[2]!.padStart(2, '0')}` : value;
}

const CHARGES: Record<string, ChargeKind> = {
  usage: 'usage',
  purchase: 'purchase',
  refund: 'credit',
  tax: 'tax',
  roundingadjustment: 'adjustment',
};

export function readAzureCsv(content: string): ParsedBill {
  const { rows, broken } = readCsv(content);
  const problems: BillProblem[] = [...broken];
  const lines: BillLine[] = [];
  let period: BillPeriod | undefined;
  let skipped = 0;
  for (const { line, record } of rows) {
    const r: Record<string, string> = {};
    for (const [k, v] of Object.entries(record)) r[k.toLowerCase()] = v;
    try {
      const product = `${text(r.metersubcategory)} ${text(r.productname)} ${text(r.metername)}`;
      if (!/openai/i.test(product)) {
        skipped++;
        continue;
      }
      const chargeText = text(r.chargetype).toLowerCase();
      const charge = CHARGES[chargeText];
      if (!charge)
        throw new RowError(
          `chargeType must be Usage, Purchase, Refund or Tax, got ${JSON.stringify(r.chargetype ?? null)}`,
        );
      if (text(r.billingperiodstartdate) && text(r.billingperiodenddate)) {
        const from = utcDay(instant(isoDate(r.billingperiodstartdate), 'billingPeriodStartDate'));
        // The export's end date is the period's last day, inclusive.
        const last = utcDay(instant(isoDate(r.billingperiodenddate), 'billingPeriodEndDate'));
        const to = utcDay(new Date(Date.parse(`${last}T00:00:00Z`) + 86_400_000));
        period = widen(period, PROVIDER_AZURE_OPENAI, from, to);
      }
      const amount = decimal(r.costinbillingcurrency, 'costInBillingCurrency');
      const named = azureModelOfMeter(text(r.metername));
      lines.push(
        billLine({
          sourceLine: line,
          provider: PROVIDER_AZURE_OPENAI,
          model: named.model,
          day: dayOf(isoDate(r.date), 'date'),
          project: text(r.subscriptionname) || text(r.subscriptionid),
          account: text(r.billingaccountid),
          service: text(r.metersubcategory) || text(r.productname),
          sku: text(r.meterid),
          lineItem: text(r.metername),
          charge: charge === 'credit' ? 'credit' : charge,
          pricing:
            charge !== 'usage'
              ? 'standard'
              : Number(amount) === 0
                ? 'free_tier'
                : (named.pricing ?? 'standard'),
          amount,
          currency: currency(r.billingcurrency ?? r.billingcurrencycode),
          quantity: optionalDecimal(r.quantity, 'quantity'),
          unit: text(r.unitofmeasure),
        }),
      );
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  return {
    format: 'azure-cost-export',
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    rowsSkipped: skipped,
    periods: period ? [period] : [],
  };
}

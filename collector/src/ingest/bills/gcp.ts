/**
 * Google Cloud's Cloud Billing export to BigQuery (standard usage cost table
 * `gcp_billing_export_v1_<BILLING_ACCOUNT_ID>`), for Vertex AI and the Gemini API: the table's rows
 * exported as JSON Lines (nested fields as they are: service.description, usage_start_time, cost,
 * currency, credits[{name, amount, type}], invoice.month, cost_type, project.id, sku.id, usage.amount),
 * or as CSV from the flattening query in docs/FINANCE.md (service_description, sku_id,
 * sku_description, usage_start_time, project_id, cost, currency, free_tier_credits, other_credits,
 * usage_amount, usage_unit, invoice_month, cost_type).
 *
 * `cost` is before credits. Free-tier credits net the usage line (so free usage bills 0 and is
 * marked free tier); other credits become credit lines. invoice.month is the covered period.
 * sku.description names the model where it can (./cloud-models.ts); the row's credit line goes
 * with it.
 */
import { Money } from '../../core/money';
import { PROVIDER_GEMINI, PROVIDER_VERTEX } from '../../core/providers';
import { type BillLine, type BillPeriod, type BillProblem, type ParsedBill } from '../../core/bill';
import {
  billLine,
  currency,
  dayOf,
  decimal,
  optionalDecimal,
  parseJsonExact,
  readCsv,
  RowError,
  text,
  type CsvRow,
  widen,
} from './common';
import { googleModelOfSku } from './cloud-models';

const GCP_CSV_COLUMNS = ['service_description', 'usage_start_time', 'cost', 'currency'];

function providerOf(service: string): string {
  if (/vertex\s*ai/i.test(service)) return PROVIDER_VERTEX;
  if (/gemini|generative\s*language/i.test(service)) return PROVIDER_GEMINI;
  return '';
}

interface GcpRow {
  service: string;
  skuId: string;
  sku: string;
  start: unknown;
  project: string;
  cost: unknown;
  currency: unknown;
  freeTierCredits: string;
  otherCredits: string;
  usageAmount: unknown;
  usageUnit: string;
  invoiceMonth: string;
  costType: string;
}

const monthPeriod = (month: string): { from: string; to: string } | undefined => {
  const m = /^(\d{4})(\d{2})$/.exec(month);
  if (!m) return undefined;
  const from = `${m[1]}-${m[2]}-01`;
  const next = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1)).toISOString().slice(0, 10);
  return { from, to: next };
};

function readRows(
  rows: Array<{ line: number; row: () => GcpRow }>,
  broken: BillProblem[],
  format: string,
): ParsedBill {
  const lines: BillLine[] = [];
  const problems: BillProblem[] = [...broken];
  const periods = new Map<string, BillPeriod>();
  let skipped = 0;
  for (const { line, row } of rows) {
    try {
      const r = row();
      const provider = providerOf(r.service);
      if (provider === '') {
        skipped++;
        continue;
      }
      const day = dayOf(r.start, 'usage_start_time');
      const code = currency(r.currency);
      const cost = new Money(decimal(r.cost, 'cost'));
      const free = new Money(r.freeTierCredits || '0');
      const other = new Money(r.otherCredits || '0');
      const costType = r.costType || 'regular';
      const charge = costType === 'tax' ? 'tax' : costType === 'regular' ? 'usage' : 'adjustment';
      const named = googleModelOfSku(r.sku);
      const base = {
        sourceLine: line,
        provider,
        model: named.model,
        day,
        project: r.project,
        service: r.service,
        sku: r.skuId,
        lineItem: r.sku,
        currency: code,
      };
      lines.push(
        billLine({
          ...base,
          charge,
          pricing:
            charge !== 'usage' ? 'standard' : !free.isZero() ? 'free_tier' : (named.pricing ?? 'standard'),
          amount: cost.plus(free).toFixed(),
          quantity: optionalDecimal(r.usageAmount, 'usage.amount'),
          unit: r.usageUnit,
        }),
      );
      if (!other.isZero()) lines.push(billLine({ ...base, charge: 'credit', amount: other.toFixed() }));
      const month = monthPeriod(r.invoiceMonth);
      if (month) {
        periods.set(provider, widen(periods.get(provider), provider, month.from, month.to));
      }
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  return {
    format,
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    rowsSkipped: skipped,
    periods: [...periods.values()],
  };
}

const sumCredits = (credits: unknown, free: boolean): string => {
  let total = new Money(0);
  for (const c of Array.isArray(credits) ? (credits as Array<{ amount?: unknown; type?: unknown }>) : []) {
    if ((text(c.type) === 'FREE_TIER') === free) total = total.plus(decimal(c.amount, 'credits.amount'));
  }
  return total.toFixed();
};

/** The billing table's rows as JSON Lines. */
export function isGcpJsonl(first: unknown): boolean {
  const r = first as { service?: { description?: unknown }; usage_start_time?: unknown; cost?: unknown };
  return (
    typeof r?.service?.description === 'string' && r.usage_start_time !== undefined && r.cost !== undefined
  );
}

export function readGcpJsonl(content: string): ParsedBill {
  const rows: Array<{ line: number; row: () => GcpRow }> = [];
  const broken: BillProblem[] = [];
  content.split('\n').forEach((textLine, i) => {
    if (textLine.trim() === '') return;
    let r: Record<string, Record<string, unknown> | unknown>;
    try {
      r = parseJsonExact(textLine) as typeof r;
    } catch {
      broken.push({ line: i + 1, message: 'not a JSON object' });
      return;
    }
    // A note line (a fixture's `_source`) is not a row.
    if (r._source !== undefined && r.service === undefined) return;
    const o = (k: string): Record<string, unknown> =>
      r[k] && typeof r[k] === 'object' ? (r[k] as Record<string, unknown>) : {};
    rows.push({
      line: i + 1,
      row: () => ({
        service: text(o('service').description),
        skuId: text(o('sku').id),
        sku: text(o('sku').description),
        start: r.usage_start_time,
        project: text(o('project').id),
        cost: r.cost,
        currency: r.currency,
        freeTierCredits: sumCredits(r.credits, true),
        otherCredits: sumCredits(r.credits, false),
        usageAmount: o('usage').amount,
        usageUnit: text(o('usage').unit),
        invoiceMonth: text(o('invoice').month),
        costType: text(r.cost_type),
      }),
    });
  });
  return readRows(rows, broken, 'gcp-billing-export');
}

export function isGcpCsvHeader(header: string[]): boolean {
  return GCP_CSV_COLUMNS.every((c) => header.includes(c));
}

export function readGcpCsv(content: string): ParsedBill {
  const { rows, broken } = readCsv(content);
  return readRows(
    rows.map(({ line, record: r }: CsvRow) => ({
      line,
      row: () => ({
        service: text(r.service_description),
        skuId: text(r.sku_id),
        sku: text(r.sku_description),
        start: r.usage_start_time,
        project: text(r.project_id),
        cost: r.cost,
        currency: r.currency,
        freeTierCredits: optionalDecimal(r.free_tier_credits, 'free_tier_credits') ?? '0',
        otherCredits: optionalDecimal(r.other_credits, 'other_credits') ?? '0',
        usageAmount: r.usage_amount,
        usageUnit: text(r.usage_unit),
        invoiceMonth: text(r.invoice_month),
        costType: text(r.cost_type),
      }),
    })),
    broken,
    'gcp-billing-export',
  );
}

/**
 * Card and expense-tool CSV exports → expense lines: date, merchant, amount, currency, employee,
 * department, through a column mapping — a preset for a known export, or the caller's own
 * (`date=Transaction Date,vendor=Merchant,amount=Amount,…`). AI vendors are recognised from
 * core/ai-vendors.ts. A row that cannot be read is reported with its line; the rest are kept.
 */
import { aiVendorOf } from '../../core/ai-vendors';
import { nextDay, type BillProblem } from '../../core/bill';
import { currency, dayOf, decimal, readCsv, RowError, text } from '../bills/common';

const EXPENSE_FIELDS = ['date', 'vendor', 'amount', 'currency', 'employee', 'department'] as const;
type ExpenseField = (typeof EXPENSE_FIELDS)[number];
export type ColumnMap = Partial<Record<ExpenseField, string>>;

/**
 * Presets, each from its export's published column list:
 * - `ramp-migration`: Ramp's card-transaction template (support.ramp.com, "Migrate your card
 *   vendors": columns transaction_time, amount, user, merchant_name);
 * - `cardlay`: Cardlay's expense export (cardlayhelp.zendesk.com, "What does the exported expenses
 *   file contain?": Transaction date, Merchant name, Currency, Amount, Employee name, Cost center name).
 */
const EXPENSE_PRESETS: Record<string, ColumnMap> = {
  'ramp-migration': { date: 'transaction_time', amount: 'amount', employee: 'user', vendor: 'merchant_name' },
  cardlay: {
    date: 'Transaction date',
    vendor: 'Merchant name',
    amount: 'Amount',
    currency: 'Currency',
    employee: 'Employee name',
    department: 'Cost center name',
  },
};

export class ExpenseFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpenseFormatError';
  }
}

export interface ExpenseLine {
  sourceLine: number;
  day: string;
  merchant: string;
  /** The AI vendor recognised, '' when the merchant is not an AI vendor (or an API bill). */
  vendor: string;
  product: string;
  amount: string;
  currency: string;
  employee: string;
  department: string;
}

export interface ParsedExpenses {
  preset: string;
  lines: ExpenseLine[];
  problems: BillProblem[];
  rowsRead: number;
  /** [from, to) days the file's rows span. */
  from: string;
  to: string;
}

/** `date=Transaction Date,vendor=Merchant` → a column map; the names must be expense fields. */
export function parseColumnMap(spec: string): ColumnMap {
  const map: ColumnMap = {};
  for (const pair of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    const field = pair.slice(0, eq).trim() as ExpenseField;
    if (eq <= 0 || !(EXPENSE_FIELDS as readonly string[]).includes(field))
      throw new ExpenseFormatError(
        `column map entries are FIELD=Column with FIELD one of ${EXPENSE_FIELDS.join(', ')}, got "${pair}"`,
      );
    map[field] = pair.slice(eq + 1).trim();
  }
  return map;
}

/** A date as card exports write it: ISO, or MM/DD/YYYY (US exports). */
function isoDate(value: string): string {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(.*)$/.exec(value.trim());
  return m ? `${m[3]}-${m[1]!.padStart(2, '0')}-${m[2]!.padStart(2, '0')}` : value;
}

/** Amounts as exports write them: "1,234.50", "$20.00", "(20.00)" for a refund. */
function amountOf(value: string): string {
  let v = value
    .trim()
    .replace(/^[$€£]|\s/g, '')
    .replace(/,(?=\d{3}(\D|$))/g, '');
  if (/^\(.*\)$/.test(v)) v = `-${v.slice(1, -1)}`;
  return decimal(v, 'amount');
}

export function readExpenses(
  bytes: Buffer,
  opts: { preset?: string; map?: ColumnMap; defaultCurrency?: string },
): ParsedExpenses {
  if (opts.preset && !EXPENSE_PRESETS[opts.preset])
    throw new ExpenseFormatError(
      `unknown preset "${opts.preset}": use ${Object.keys(EXPENSE_PRESETS).join(', ')}, or a column map`,
    );
  const { header, rows, broken } = readCsv(bytes.toString('utf8'));
  const map: ColumnMap = { ...(opts.preset ? EXPENSE_PRESETS[opts.preset] : {}), ...opts.map };
  const preset =
    opts.preset ??
    (Object.keys(opts.map ?? {}).length === 0
      ? Object.entries(EXPENSE_PRESETS).find(([, m]) =>
          Object.values(m).every((c) => header.includes(c)),
        )?.[0]
      : undefined);
  if (preset && !opts.preset) Object.assign(map, EXPENSE_PRESETS[preset], opts.map);
  for (const field of ['date', 'vendor', 'amount'] as const) {
    if (!map[field])
      throw new ExpenseFormatError(
        `no column for ${field}: name a preset (${Object.keys(EXPENSE_PRESETS).join(', ')}) or map the columns, e.g. date=Date,vendor=Merchant,amount=Amount`,
      );
    if (!header.includes(map[field]!))
      throw new ExpenseFormatError(
        `column "${map[field]}" (${field}) is not in the file; its columns: ${header.join(', ')}`,
      );
  }
  const problems: BillProblem[] = [...broken];
  const lines: ExpenseLine[] = [];
  for (const { line, record } of rows) {
    const get = (f: ExpenseField): string => (map[f] ? text(record[map[f]!]) : '');
    try {
      const merchant = get('vendor');
      if (merchant === '') throw new RowError('the merchant is empty');
      const ai = aiVendorOf(merchant);
      lines.push({
        sourceLine: line,
        day: dayOf(isoDate(get('date')), 'date'),
        merchant,
        vendor: ai && !ai.api ? ai.vendor : '',
        product: ai && !ai.api ? ai.product : '',
        amount: amountOf(get('amount')),
        currency: currency(get('currency'), opts.defaultCurrency ?? 'USD'),
        employee: get('employee'),
        department: get('department'),
      });
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ line, message: err.message });
    }
  }
  const days = lines.map((l) => l.day).sort();
  return {
    preset: preset ?? 'custom',
    lines,
    problems,
    rowsRead: rows.length + broken.length,
    from: days[0] ?? '',
    to: days.length ? nextDay(days[days.length - 1]!) : '',
  };
}

/**
 * A bill file → bill lines, whatever its format: named by the caller, or recognised from the
 * content (a FOCUS header, a Costs API page, ...).
 */
import type { ParsedBill } from '../../core/bill';
import { normaliseProvider } from '../../core/providers';
import { isAnthropicCostPage, readAnthropicCostJson } from './anthropic';
import { isAnthropicUsagePage, readAnthropicUsageJson } from './anthropic-usage';
import { isOpenAIUsagePage, readOpenAIUsageJson } from './openai-usage';
import { jsonPages, readCsv, RowError, type CsvRow } from './common';
import { isAzureHeader, readAzureCsv } from './azure';
import { isCurHeader, readCurCsv, readCurRows } from './cur';
import { isGcpCsvHeader, isGcpJsonl, readGcpCsv, readGcpJsonl } from './gcp';
import { isFocusHeader, readFocus, readFocusRows } from './focus';
import { isOpenAICostCsvHeader, isOpenAICostsPage, readOpenAICostCsv, readOpenAICostsJson } from './openai';

const BILL_FORMATS = [
  'focus',
  'openai-costs',
  'openai-cost-csv',
  'anthropic-cost-report',
  'openai-usage',
  'anthropic-usage-report',
  'aws-cur',
  'gcp-billing-export',
  'azure-cost-export',
] as const;
type BillFormat = (typeof BILL_FORMATS)[number];

export class BillFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BillFormatError';
  }
}

export interface ReadBillOptions {
  format?: string;
  /** The provider the whole file is for (a FOCUS file from an AI vendor); any spelling. */
  provider?: string;
}

export function readBill(bytes: Buffer, opts: ReadBillOptions = {}): ParsedBill {
  if (opts.format !== undefined && !(BILL_FORMATS as readonly string[]).includes(opts.format))
    throw new BillFormatError(`unknown format "${opts.format}": use ${BILL_FORMATS.join(', ')}`);
  const provider = opts.provider ? normaliseProvider(opts.provider) : undefined;
  const content = bytes.toString('utf8');
  const format = (opts.format as BillFormat | undefined) ?? detect(content);
  try {
    switch (format) {
      case 'focus':
        return readFocus(content, { provider });
      case 'openai-cost-csv':
        return readOpenAICostCsv(content);
      case 'openai-costs':
        return readOpenAICostsJson(jsonPages(content));
      case 'anthropic-cost-report':
        return readAnthropicCostJson(jsonPages(content));
      case 'openai-usage':
        return readOpenAIUsageJson(jsonPages(content));
      case 'anthropic-usage-report':
        return readAnthropicUsageJson(jsonPages(content));
      case 'aws-cur':
        return readCurCsv(content);
      case 'gcp-billing-export':
        return content.trimStart().startsWith('{') ? readGcpJsonl(content) : readGcpCsv(content);
      case 'azure-cost-export':
        return readAzureCsv(content);
    }
  } catch (err) {
    if (err instanceof RowError) throw new BillFormatError(`not a ${format} file: ${err.message}`);
    throw err;
  }
}

function detect(content: string): BillFormat {
  const start = content.replace(/^\uFEFF/, '').trimStart();
  if (start.startsWith('{') || start.startsWith('[')) {
    // The billing table exported as JSON Lines: one row object per line (after any `_source` note).
    for (const line of start.split('\n', 3)) {
      try {
        if (isGcpJsonl(JSON.parse(line))) return 'gcp-billing-export';
      } catch {
        break; // not one object per line: a saved API answer
      }
    }
    let pages: unknown[];
    try {
      pages = jsonPages(start);
    } catch {
      throw new BillFormatError('the file looks like JSON but does not parse');
    }
    if (pages.some(isOpenAICostsPage)) return 'openai-costs';
    if (pages.some(isOpenAIUsagePage)) return 'openai-usage';
    // Before the cost report: a usage page whose buckets are all empty must not pass for one.
    if (pages.some(isAnthropicUsagePage)) return 'anthropic-usage-report';
    if (pages.some(isAnthropicCostPage)) return 'anthropic-cost-report';
    throw new BillFormatError(
      'unrecognised JSON: expected an OpenAI Costs or Usage API page (organization.costs.result, organization.usage.completions.result) or an Anthropic cost or messages usage report page; name the format with --format',
    );
  }
  // The header is the first line that is not a '#' comment; a few lines of the file are enough.
  const head = start.slice(0, 65_536);
  const { header } = readCsv(head.length < start.length ? head.slice(0, head.lastIndexOf('\n') + 1) : head);
  if (isFocusHeader(header)) return 'focus';
  if (isOpenAICostCsvHeader(header)) return 'openai-cost-csv';
  if (isCurHeader(header)) return 'aws-cur';
  if (isGcpCsvHeader(header)) return 'gcp-billing-export';
  if (isAzureHeader(header)) return 'azure-cost-export';
  throw new BillFormatError(
    `unrecognised file (header: ${header.slice(0, 8).join(', ') || 'none'}): expected FOCUS, AWS CUR (legacy or 2.0), Google Cloud billing export, Azure cost export or OpenAI cost export CSV, or a cost API answer (JSON)`,
  );
}

/** A bill read as a table by the engine (Parquet): FOCUS or CUR, recognised from its columns. */
export function readBillTable(
  table: { header: string[]; rows: CsvRow[] },
  opts: ReadBillOptions = {},
): ParsedBill {
  const provider = opts.provider ? normaliseProvider(opts.provider) : undefined;
  const format =
    opts.format ??
    (isFocusHeader(table.header) ? 'focus' : isCurHeader(table.header) ? 'aws-cur' : undefined);
  if (format === 'focus') return { ...readFocusRows(table.rows, [], { provider }), format: 'focus' };
  if (format === 'aws-cur') return readCurRows(table.rows, []);
  throw new BillFormatError(
    `a Parquet bill must be a FOCUS or AWS CUR export (columns: ${table.header.slice(0, 8).join(', ') || 'none'})`,
  );
}

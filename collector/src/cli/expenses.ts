/** `tokenledger expenses import`: a card or expense-tool export, for AI bought outside the APIs. */
import path from 'node:path';
import type { Command } from 'commander';
import type { ExpenseImportResult } from '../govern/expenses/import';
import { postFileToCollector, resolveEndpoint } from './client';
import { readImportFile, writeProblems } from './import-file';

interface ExpenseImportOptions {
  preset?: string;
  map?: string;
  source?: string;
  currency?: string;
  rate?: string[];
  json?: boolean;
  url?: string;
}

export function registerExpensesCommand(program: Command): void {
  const expenses = program
    .command('expenses')
    .description('card and expense-tool exports: AI bought outside the APIs');
  expenses
    .command('import <file>')
    .description('import a card or expense-tool CSV; AI vendors become subscriptions in the inventory')
    .option(
      '--preset <name>',
      'a known export: ramp-migration, cardlay (default: recognised from the columns)',
    )
    .option(
      '--map <columns>',
      'column mapping, e.g. date=Transaction Date,vendor=Merchant,amount=Amount,employee=Cardholder',
    )
    .option(
      '--source <name>',
      'which card or tool (imports of one source replace each other per day; default: the preset)',
    )
    .option(
      '--currency <code>',
      'currency of the amounts when the export has no currency column (default USD)',
    )
    .option(
      '--rate <CUR=usd>',
      'USD per unit of a currency, e.g. EUR=1.08 (repeatable; wins over the policy file)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--json', 'JSON output')
    .option(
      '--url <url>',
      'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
    )
    .action((file: string, opts: ExpenseImportOptions) =>
      importExpenses(file, opts, (s) => process.stdout.write(s)),
    );
}

async function importExpenses(
  file: string,
  opts: ExpenseImportOptions,
  write: (s: string) => void,
): Promise<void> {
  const bytes = await readImportFile(file);
  const params = new URLSearchParams({ file_name: path.basename(file) });
  for (const name of ['preset', 'map', 'source', 'currency'] as const)
    if (opts[name]) params.set(name, opts[name]!);
  for (const r of opts.rate ?? []) params.append('rate', r);
  const res = await postFileToCollector(resolveEndpoint(opts), `/v1/expenses/imports?${params}`, bytes);
  const r = (await res.json()) as ExpenseImportResult;
  if (opts.json) {
    write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  if (r.duplicate) {
    write(`${file}: already imported as ${r.import_id} — nothing changed\n`);
    return;
  }
  write(
    `Imported ${file} as ${r.import_id} (${r.preset}, source ${r.source}): ${r.period_from} – ${r.period_to} (to exclusive)\n` +
      `  ${r.lines_kept} expenses kept of ${r.rows_read} rows, ${r.ai_lines} from AI vendors (npx tokenledger inventory)\n`,
  );
  if (r.unconverted_lines > 0)
    write(`  ${r.unconverted_lines} expenses have no USD rate for their currency: add --rate CUR=usd\n`);
  writeProblems(write, r);
}

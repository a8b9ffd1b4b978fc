/** `tokenledger reconcile`: import a provider bill, and show how much of each bill the meter covers. */
import path from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { BillImportResult } from '../govern/bills/import';
import type { ReconciliationReport } from '../read/reconciliation';
import { CliError, getFromCollector, postFileToCollector, resolveEndpoint } from './client';
import { readImportFile, writeProblems } from './import-file';

interface ImportOptions {
  provider?: string;
  format?: string;
  from?: string;
  to?: string;
  rate?: string[];
  json?: boolean;
  url?: string;
}

interface ShowOptions {
  period?: string;
  from?: string;
  to?: string;
  provider?: string;
  lines?: boolean;
  all?: boolean;
  json?: boolean;
  csv?: boolean;
  tokens?: boolean;
  url?: string;
}

const URL_HELP =
  'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)';

export function registerReconcileCommand(program: Command): void {
  const reconcile = program
    .command('reconcile')
    .description(
      'import provider bills and compare them with the meter (run with no subcommand: the reconciliation)',
    );
  reconcile
    .command('show', { isDefault: true, hidden: true })
    .description('per provider: billed, metered, coverage, unmetered remainder, metered but not billed')
    .option('--period <period>', 'current_month (default), last_month, last_7d, last_30d, or YYYY-MM')
    .option('--from <iso>', 'start (ISO 8601, with --to)')
    .option('--to <iso>', 'end, exclusive (ISO 8601, with --from)')
    .option('--provider <name>', 'only this provider (openai, anthropic, aws.bedrock, ...)')
    .option('--lines', 'also list the lines that did not match')
    .option('--all', 'with --lines: every line, matched ones too')
    .option('--json', 'JSON output')
    .option('--csv', 'the lines as CSV')
    .option('--tokens', 'with --csv: the token lines (billed vs metered tokens) instead of the amounts')
    .option('--url <url>', URL_HELP)
    .action((opts: ShowOptions) => showReconciliation(opts, (s) => process.stdout.write(s)));
  reconcile
    .command('import <file>')
    .description(
      'import a bill or usage export: FOCUS, AWS CUR, Google Cloud, Azure, OpenAI Costs / Usage API JSON or cost CSV, Anthropic cost / usage report JSON',
    )
    .option('--provider <name>', 'the provider the whole file is for (a FOCUS file from an AI vendor)')
    .option(
      '--format <format>',
      'focus, openai-costs, openai-cost-csv, openai-usage, anthropic-cost-report, anthropic-usage-report, aws-cur, gcp-billing-export, azure-cost-export (default: recognised)',
    )
    .option(
      '--from <day>',
      "first day the file covers (YYYY-MM-DD, with --to; default: the file's own period)",
    )
    .option('--to <day>', 'day after the last one it covers')
    .option(
      '--rate <CUR=usd>',
      'USD per unit of a currency in the file, e.g. EUR=1.08 (repeatable; wins over the policy file)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP)
    .action((file: string, opts: ImportOptions) => importBill(file, opts, (s) => process.stdout.write(s)));
}

async function importBill(file: string, opts: ImportOptions, write: (s: string) => void): Promise<void> {
  const bytes = await readImportFile(file);
  const params = new URLSearchParams({ file_name: path.basename(file) });
  for (const name of ['provider', 'format', 'from', 'to'] as const)
    if (opts[name]) params.set(name, opts[name]!);
  for (const r of opts.rate ?? []) params.append('rate', r);
  const res = await postFileToCollector(resolveEndpoint(opts), `/v1/reconciliation/imports?${params}`, bytes);
  const result = (await res.json()) as BillImportResult;
  if (opts.json) {
    write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  if (result.duplicate) {
    write(`${file}: already imported as ${result.import_id} — nothing changed\n`);
    return;
  }
  write(
    `Imported ${file} as ${result.import_id} (${result.format}): ${result.providers.join(', ')}, ` +
      `${result.period_from} – ${result.period_to} (to exclusive)\n` +
      `  ${result.lines_kept} lines kept of ${result.rows_read} rows read` +
      (result.rows_skipped ? `, ${result.rows_skipped} rows of other services left out` : '') +
      '\n',
  );
  if (result.replaces.length > 0)
    write(`  replaces the lines of ${result.replaces.join(', ')} for these days (kept for audit)\n`);
  if (result.unconverted_lines > 0)
    write(
      `  ${result.unconverted_lines} lines have no USD rate for their currency: add --rate CUR=usd or reconciliation.currency_rates\n`,
    );
  writeProblems(write, result);
}

const percent = (share: string | null): string => {
  if (share === null) return '–';
  // Exact decimal → percent with two places, from the string (no float on the way).
  const [whole, fraction = ''] = (Number(share) * 100).toFixed(2).split('.');
  return `${whole}.${fraction} %`;
};

async function showReconciliation(opts: ShowOptions, write: (s: string) => void): Promise<void> {
  if (opts.json && opts.csv) throw new CliError('choose one of --json and --csv');
  const params = new URLSearchParams();
  for (const name of ['period', 'from', 'to', 'provider'] as const)
    if (opts[name]) params.set(name, opts[name]!);
  if (opts.tokens && !opts.csv)
    throw new CliError('--tokens goes with --csv (the table shows tokens already)');
  if (opts.csv) {
    params.set('format', 'csv');
    if (opts.tokens) params.set('lines', 'tokens');
    const res = await getFromCollector(resolveEndpoint(opts), `/v1/reconciliation?${params}`);
    write(await res.text());
    return;
  }
  const res = await getFromCollector(resolveEndpoint(opts), `/v1/reconciliation?${params}`);
  const report = (await res.json()) as ReconciliationReport;
  if (opts.json) {
    write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  write(`Bills vs meter ${report.period} (${report.from} → ${report.to}, UTC days)\n`);
  if (report.providers.length === 0) {
    write('No bill imported for this period: tokenledger reconcile import FILE\n');
    return;
  }
  const table = new Table({
    head: [
      'provider',
      'billed (USD)',
      'metered (USD)',
      'coverage',
      'unmetered (USD)',
      'metered, not billed (USD)',
      'credits',
      'other charges',
      'days',
    ],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const p of report.providers.filter((x) => x.days_covered > 0 || !x.tokens))
    table.push([
      p.provider,
      p.billed_usd,
      p.metered_usd,
      percent(p.coverage),
      p.unmetered_usd,
      p.metered_not_billed_usd,
      p.credits_usd,
      p.other_charges_usd,
      p.days_covered,
    ]);
  if (table.length > 0) write(table.toString() + '\n');
  writeTokenTable(report, write);
  for (const p of report.providers.filter((x) => x.days_covered > 0 || !x.tokens)) {
    const reasons = Object.entries(p.metered_not_billed_by_reason)
      .filter(([, v]) => v !== '0')
      .map(([k, v]) => `${k.replace('_', ' ')} ${v}`);
    const premiums = Object.entries(p.unmetered_by_reason)
      .filter(([k, v]) => k !== 'unexplained' && v !== '0')
      .map(([k, v]) => `${k.replace('_', ' ')} ${v}`);
    const notes = [
      `lines: ${p.lines.matched} matched, ${p.lines.billed_only} billed-only, ${p.lines.metered_only} metered-only, ${p.lines.amount_mismatch} amount mismatch` +
        ` (compared per model: ${p.compared.per_model}, per day where the bill names no model: ${p.compared.per_day})`,
      ...(reasons.length ? [`metered but not billed: ${reasons.join(', ')}`] : []),
      ...(premiums.length ? [`billed above the meter: ${premiums.join(', ')}`] : []),
      ...(p.billed_by_project.length
        ? [
            `billed by project: ${p.billed_by_project
              .slice(0, 5)
              .map((x) => `${x.project} ${x.billed_usd}`)
              .join(', ')}`,
          ]
        : []),
      ...(p.uninstrumented.length
        ? [
            `uninstrumented traffic to ${p.provider}: ${p.uninstrumented
              .map((u) => `${u.service || '(no service)'} → ${u.host} (${u.requests} requests)`)
              .join(', ')}`,
          ]
        : []),
      ...(p.unconverted_lines ? [`${p.unconverted_lines} bill lines without a USD rate left out`] : []),
    ];
    write(`\n${p.provider}\n${notes.map((n) => `  ${n}`).join('\n')}\n`);
  }
  if (opts.lines) {
    const lines = report.lines.filter((l) => opts.all || l.status !== 'matched' || l.explanation !== '');
    const t = new Table({
      head: [
        'provider',
        'day',
        'model',
        'project',
        'status',
        'why',
        'billed',
        'metered',
        'late',
        'unmetered',
        'not billed',
      ],
      style: { head: [], border: [] },
    });
    for (const l of lines)
      t.push([
        l.provider,
        l.day,
        l.model || '(per day)',
        l.project,
        l.status.replace('_', '-'),
        l.explanation.replace('_', ' '),
        l.billed_usd,
        l.metered_usd,
        l.late_usd,
        l.unmetered_usd,
        l.metered_not_billed_usd,
      ]);
    write(
      `\nLines${opts.all ? '' : ' (not matched, or matched late)'}\n${lines.length ? t.toString() : 'none'}\n`,
    );
    writeTokenLines(report, !!opts.all, write);
  }
}

/** Per provider with a usage export: billed vs metered tokens, and the share the meter covers. */
function writeTokenTable(report: ReconciliationReport, write: (s: string) => void): void {
  const withTokens = report.providers.filter((p) => p.tokens);
  if (withTokens.length === 0) return;
  const t = new Table({
    head: ['provider', 'tokens', 'billed', 'metered', 'coverage', 'days'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const p of withTokens) {
    const k = p.tokens!;
    for (const [kind, label] of [
      ['input_tokens', 'input'],
      ['cached_input_tokens', 'cached input'],
      ['output_tokens', 'output'],
    ] as const)
      t.push([p.provider, label, k.billed[kind], k.metered[kind], percent(k.coverage[kind]), k.days_covered]);
    t.push([
      p.provider,
      `lines: ${k.lines.matched} matched, ${k.lines.billed_only} billed-only, ${k.lines.metered_only} metered-only, ${k.lines.token_mismatch} mismatch`,
      k.billed.requests ?? '–',
      k.metered.calls,
      'requests',
      '',
    ]);
  }
  write(`\nTokens: usage exports vs meter (input includes cached)\n${t.toString()}\n`);
}

function writeTokenLines(report: ReconciliationReport, all: boolean, write: (s: string) => void): void {
  if (!report.providers.some((p) => p.tokens)) return;
  const lines = report.token_lines.filter((l) => all || l.status !== 'matched');
  const t = new Table({
    head: ['provider', 'day', 'model', 'project', 'status', 'input b/m', 'cached b/m', 'output b/m'],
    style: { head: [], border: [] },
  });
  for (const l of lines)
    t.push([
      l.provider,
      l.day,
      l.model || '(per day)',
      l.project,
      l.status.replace('_', '-'),
      `${l.billed_input_tokens} / ${l.metered_input_tokens}`,
      `${l.billed_cached_input_tokens} / ${l.metered_cached_input_tokens}`,
      `${l.billed_output_tokens} / ${l.metered_output_tokens}`,
    ]);
  write(`\nToken lines${all ? '' : ' (not matched)'}\n${lines.length ? t.toString() : 'none'}\n`);
}

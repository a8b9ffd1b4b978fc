/** `tokenledger report`: the spend report as a table, JSON or CSV. */
import Table from 'cli-table3';
import type { SpendReport } from '../read/spend';
import { parseFilters, parseGroupBy } from '../read/spend';
import { CliError, getFromCollector, resolveEndpoint } from './client';

export interface ReportOptions {
  period?: string;
  from?: string;
  to?: string;
  by?: string;
  filter?: string[];
  json?: boolean;
  csv?: boolean;
  url?: string;
}

export async function runReport(opts: ReportOptions, write: (s: string) => void): Promise<void> {
  if (opts.json && opts.csv) throw new CliError('choose one of --json and --csv');
  const dims = parseGroupBy(opts.by);
  const params = new URLSearchParams();
  if (opts.period) params.set('period', opts.period);
  if (opts.from) params.set('from', opts.from);
  if (opts.to) params.set('to', opts.to);
  if (dims.length) params.set('groupBy', dims.join(','));
  const pairs = (opts.filter ?? []).map((f): [string, string] => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliError(`--filter must be dimension=value, got "${f}"`);
    return [f.slice(0, eq).trim(), f.slice(eq + 1)];
  });
  for (const [name, values] of Object.entries(parseFilters(pairs))) {
    for (const v of values ?? []) params.append(name, v);
  }
  params.set('format', opts.csv ? 'csv' : 'json');
  const res = await getFromCollector(resolveEndpoint(opts), `/v1/reports/spend?${params}`);
  if (opts.csv) {
    write(await res.text());
    return;
  }
  const report = (await res.json()) as SpendReport;
  if (opts.json) {
    write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const table = new Table({
    head: [...dims, 'spend (USD)', 'calls', 'input tokens', 'output tokens', 'unpriced'],
    colAligns: [...dims.map(() => 'left' as const), 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const row of report.breakdown) {
    table.push([
      ...dims.map((d) => String(row[d] || '(none)')),
      row.spend_usd,
      row.calls,
      row.input_tokens,
      row.output_tokens,
      row.unpriced_calls,
    ]);
  }
  const filtered = Object.entries(report.filters ?? {})
    .map(([d, values]) => `${d}=${(values ?? []).join(',')}`)
    .join(' ');
  write(`Spend ${report.period} (${report.from} → ${report.to}, UTC)${filtered ? `, ${filtered}` : ''}\n`);
  write(table.toString() + '\n');
  write(`Total: $${report.total_usd}\n`);
}

/** `tokenledger inventory`: the AI inventory (models, providers, services, sources, shadow AI) as tables or JSON. */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { Inventory } from '../read/inventory';
import { getFromCollector, resolveEndpoint } from './client';

interface InventoryOptions {
  period?: string;
  from?: string;
  to?: string;
  json?: boolean;
  url?: string;
}

export function registerInventoryCommand(program: Command): void {
  program
    .command('inventory')
    .description('AI in use: models, providers, services, instrumentations, and uninstrumented AI hosts')
    .option('--period <period>', 'current_month (default), last_month, last_7d, last_30d, or YYYY-MM')
    .option('--from <iso>', 'start (ISO 8601, with --to)')
    .option('--to <iso>', 'end, exclusive (ISO 8601, with --from)')
    .option('--json', 'JSON output')
    .option(
      '--url <url>',
      'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
    )
    .action((opts: InventoryOptions) => runInventory(opts, (s) => process.stdout.write(s)));
}

async function runInventory(opts: InventoryOptions, write: (s: string) => void): Promise<void> {
  const params = new URLSearchParams();
  if (opts.period) params.set('period', opts.period);
  if (opts.from) params.set('from', opts.from);
  if (opts.to) params.set('to', opts.to);
  const res = await getFromCollector(resolveEndpoint(opts), `/v1/inventory?${params}`);
  const inv = (await res.json()) as Inventory;
  if (opts.json) {
    write(JSON.stringify(inv, null, 2) + '\n');
    return;
  }
  write(`AI inventory ${inv.period} (${inv.from} → ${inv.to}, UTC)\n`);
  write(
    section(
      'Services',
      ['service', 'calls', 'spend (USD)', 'providers', 'models', 'instrumentation'],
      inv.services.map((s) => [
        s.service || '(none)',
        s.calls,
        s.spend_usd,
        s.providers.join(', '),
        s.models.join(', '),
        s.sources.join(', '),
      ]),
    ),
  );
  write(
    section(
      'Models',
      ['provider', 'model (priced as)', 'model the app sent', 'calls', 'spend (USD)'],
      inv.models.map((m) => [m.provider, m.model, m.sent_model, m.calls, m.spend_usd]),
    ),
  );
  write(
    section(
      "Ingest keys (calls attributed outside a key's scope are recorded under its scope)",
      ['key', 'scope', 'calls', 'spend (USD)', 'outside its scope', 'claimed'],
      inv.ingest_keys.map((k) => [
        k.key,
        k.scope || '(any)',
        k.calls,
        k.spend_usd,
        k.out_of_scope_calls,
        k.claimed.join(' '),
      ]),
    ),
  );
  write(
    section(
      'Uninstrumented AI traffic',
      ['service', 'host', 'provider', 'requests', 'last seen'],
      inv.uninstrumented.map((u) => [u.service || '(none)', u.host, u.provider, u.requests, u.last_seen]),
    ),
  );
  write(
    section(
      'AI subscriptions (imported expenses)',
      ['vendor', 'product', 'owner', 'charges', 'spend (USD)', 'monthly run rate (USD)', 'last charge'],
      inv.subscriptions.map((s) => [
        s.vendor,
        s.product,
        s.owner || '(unassigned)',
        s.charges,
        s.spend_usd,
        s.monthly_run_rate_usd,
        s.last_seen,
      ]),
    ),
  );
}

function section(title: string, head: string[], rows: (string | number)[][]): string {
  if (rows.length === 0) return `\n${title}: none\n`;
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) table.push(r);
  return `\n${title}\n${table.toString()}\n`;
}

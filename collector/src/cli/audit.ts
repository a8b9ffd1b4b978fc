/** `tokenledger audit`: the collector's audit log (admin key), newest first. */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { AuditList } from 'tokenledger/wire';
import { getFromCollector, resolveEndpoint } from './client';

interface AuditOptions {
  since?: string;
  until?: string;
  action?: string;
  limit?: string;
  json?: boolean;
  url?: string;
}

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'the audit log, newest first: policy changes, approvals, alerts, key creations and revocations',
    )
    .option('--since <iso>', 'from this time (ISO 8601)')
    .option('--until <iso>', 'before this time (ISO 8601, exclusive)')
    .option('--action <action>', 'one action (key.created) or a prefix ending in "." (key.)')
    .option('--limit <n>', 'at most this many entries (default 100, at most 10000)')
    .option('--json', 'JSON output')
    .option(
      '--url <url>',
      'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
    )
    .action((opts: AuditOptions) => runAudit(opts, (s) => process.stdout.write(s)));
}

async function runAudit(opts: AuditOptions, write: (s: string) => void): Promise<void> {
  const params = new URLSearchParams();
  for (const name of ['since', 'until', 'action', 'limit'] as const) {
    const value = opts[name];
    if (value !== undefined) params.set(name, value);
  }
  const res = await getFromCollector(resolveEndpoint(opts), `/v1/audit?${params}`);
  const { entries } = (await res.json()) as AuditList;
  if (opts.json) {
    write(JSON.stringify(entries, null, 2) + '\n');
    return;
  }
  if (entries.length === 0) {
    write('no audit entries\n');
    return;
  }
  const table = new Table({
    head: ['at (UTC)', 'actor', 'action', 'subject', 'details'],
    style: { head: [], border: [] },
  });
  for (const e of entries) table.push([e.at, e.actor, e.action, e.subject, JSON.stringify(e.details)]);
  write(table.toString() + '\n');
}

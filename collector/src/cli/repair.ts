/**
 * `tokenledger repair`: asks the running collector to take back the parts the engine set aside
 * (found broken at start, or failing CHECK TABLE now), restore acknowledged calls from its journal,
 * and rebuild the rollup hours that changed. Prints what it did; exit 1 when parts stay detached.
 */
import type { Command } from 'commander';
import type { RepairReport } from '../storage/parts';
import type { JournalStats } from '../storage/journal';
import { postToCollector, resolveEndpoint } from './client';

interface RepairAnswer extends RepairReport {
  journal: JournalStats;
  detached_left: RepairReport['attached'];
}

const part = (p: { table: string; name: string; rows?: number | null }): string =>
  `${p.table}/${p.name}${p.rows != null ? ` (${p.rows} rows)` : ''}`;

export function registerRepairCommand(program: Command): void {
  program
    .command('repair')
    .description(
      'attach parts ClickHouse set aside, restore acknowledged calls from the journal, rebuild the rollup',
    )
    .option('--json', 'JSON output')
    .option(
      '--url <url>',
      'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
    )
    .action(async (opts: { json?: boolean; url?: string }) => {
      // CHECK TABLE reads every part: minutes on a large store (Node's HTTP server allows 5).
      const res = await postToCollector(resolveEndpoint(opts), '/v1/admin/repair', {}, 5 * 60_000);
      const r = (await res.json()) as RepairAnswer;
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } else {
        const lines = [
          ...r.setAside.map((p) => `set aside ${p.table}/${p.name}: ${p.message}`),
          ...r.attached.map((p) => `attached ${part(p)}`),
          ...r.refused.map(
            (p) =>
              `not attached ${part(p)}: ${p.error.split('\n')[0]}${p.kept ? ` (moved to ${p.kept})` : ''}`,
          ),
          `journal: ${r.journal.restoredCalls} acknowledged calls restored since start, ${r.journal.segments} segments left to read back` +
            (r.journal.lastError ? ` (${r.journal.lastError})` : ''),
          r.detached_left.length === 0
            ? 'no detached parts left'
            : `${r.detached_left.length} parts still detached (kept for inspection): ${r.detached_left.map(part).join(', ')}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (r.detached_left.length > 0) process.exitCode = 1;
    });
}

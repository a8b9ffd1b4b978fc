/** `tokenledger baseline add|list`: mark a change to a feature, and compare before and after. */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { BaselinesReport } from '../read/baselines';
import { getFromCollector, postToCollector, resolveEndpoint } from './client';
import { displayShare, displayUsd } from './format';

const URL_HELP =
  'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)';

export function registerBaselineCommand(program: Command): void {
  const baseline = program
    .command('baseline')
    .description('before/after baselines: mark a change to a feature, compare its cost before and after');
  baseline
    .command('add <label>')
    .description('mark a change (e.g. "prompt v2") to a feature at a moment (default: now)')
    .requiredOption('--feature <feature>', 'the feature that changed (tokenledger.feature)')
    .option('--at <iso>', 'when the change took effect (ISO 8601; default now)')
    .option('--url <url>', URL_HELP)
    .action(async (label: string, opts: { feature: string; at?: string; url?: string }) => {
      const res = await postToCollector(resolveEndpoint(opts), '/v1/baselines', {
        feature: opts.feature,
        label,
        ...(opts.at ? { at: opts.at } : {}),
      });
      const b = (await res.json()) as { feature: string; label: string; at: string };
      process.stdout.write(`Baseline "${b.label}" marked for ${b.feature} at ${b.at}\n`);
    });
  baseline
    .command('list')
    .description(
      'each change in the range with cost per call, tokens per call and cost per outcome before and after',
    )
    .option('--feature <feature>', 'only this feature (repeatable)', (v: string, all: string[] = []) => [
      ...all,
      v,
    ])
    .option('--period <period>', 'last_30d (default), current_month, last_month, last_7d, or YYYY-MM')
    .option('--from <iso>', 'start (ISO 8601, with --to)')
    .option('--to <iso>', 'end, exclusive (ISO 8601, with --from)')
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP)
    .action(
      async (opts: {
        feature?: string[];
        period?: string;
        from?: string;
        to?: string;
        json?: boolean;
        url?: string;
      }) => {
        const params = new URLSearchParams();
        for (const f of opts.feature ?? []) params.append('feature', f);
        if (opts.period) params.set('period', opts.period);
        if (opts.from) params.set('from', opts.from);
        if (opts.to) params.set('to', opts.to);
        const report = (await (
          await getFromCollector(resolveEndpoint(opts), `/v1/baselines?${params}`)
        ).json()) as BaselinesReport;
        if (opts.json) return void process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        process.stdout.write(
          `Changes ${report.period} (${report.from.slice(0, 10)} → ${report.to.slice(0, 10)}), ${report.window_days} days compared on each side\n`,
        );
        if (report.baselines.length === 0) return void process.stdout.write('No baselines in this range.\n');
        const table = new Table({
          head: [
            'feature',
            'change',
            'at',
            'calls before / after',
            'cost per call before → after',
            'change',
            'tokens per call',
            'cost per outcome',
          ],
          style: { head: [], border: [] },
        });
        const n = (v: number | null) => (v === null ? '—' : v.toFixed(0));
        for (const b of report.baselines)
          table.push([
            b.feature,
            b.label,
            b.at.slice(0, 16).replace('T', ' '),
            `${b.calls_before ?? 0} / ${b.calls_after ?? 0}`,
            `${displayUsd(b.cost_per_call_before_usd)} → ${displayUsd(b.cost_per_call_after_usd)}`,
            b.cost_per_call_change === null
              ? '—'
              : `${b.cost_per_call_change > 0 ? '+' : ''}${displayShare(b.cost_per_call_change)}`,
            `${n(b.tokens_per_call_before)} → ${n(b.tokens_per_call_after)}`,
            `${displayUsd(b.cost_per_outcome_before_usd)} → ${displayUsd(b.cost_per_outcome_after_usd)} (${b.outcomes_before ?? 0} / ${b.outcomes_after ?? 0})`,
          ]);
        process.stdout.write(table.toString() + '\n');
      },
    );
}

/**
 * `tokenledger budgets` (budgets of any period), `tokenledger forecast` (period-end forecasts) and
 * `tokenledger forecast --backtest` (how good those forecasts were on stored history).
 */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { periodReportJson } from '../http/forecast';
import type { BacktestReport } from '../read/forecast';
import { getFromCollector, resolveEndpoint } from './client';
import { displayShare, displayUsd } from './format';

type PeriodJson = ReturnType<typeof periodReportJson> & { policy?: string };

interface RangeOptions {
  period?: string;
  from?: string;
  to?: string;
  json?: boolean;
  url?: string;
}

interface ForecastOptions extends RangeOptions {
  backtest?: boolean;
  scope?: string;
  days?: string;
}

const URL_HELP =
  'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)';

const withRange = (command: Command): Command =>
  command
    .option('--period <period>', 'current_month (default), last_month, last_7d, last_30d, or YYYY-MM')
    .option('--from <iso>', 'start (ISO 8601, with --to)')
    .option('--to <iso>', 'end, exclusive (ISO 8601, with --from)')
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP);

function rangeParams(opts: RangeOptions): URLSearchParams {
  const params = new URLSearchParams();
  if (opts.period) params.set('period', opts.period);
  if (opts.from) params.set('from', opts.from);
  if (opts.to) params.set('to', opts.to);
  return params;
}

export function registerForecastCommands(program: Command): void {
  withRange(
    program
      .command('budgets')
      .description(
        'every budget in the period of the range (the limit in force then): spent, state, forecast',
      ),
  ).action((opts: RangeOptions) => runBudgets(opts, (s) => process.stdout.write(s)));

  withRange(
    program
      .command('forecast')
      .description(
        'period-end forecasts with their 80 % interval and breach dates; --backtest: their accuracy',
      )
      .option('--backtest', 'replay the forecaster on stored history (MAPE, interval coverage, vs naive)')
      .option('--scope <scope>', 'backtest scope: all (default), unbudgeted, or a budgeted policy')
      .option('--days <n>', 'backtest days of history (28-400, default 365)'),
  ).action((opts: ForecastOptions) => runForecast(opts, (s) => process.stdout.write(s)));
}

async function runBudgets(opts: RangeOptions, write: (s: string) => void): Promise<void> {
  const res = await getFromCollector(
    resolveEndpoint(opts),
    `/v1/budgets/report?${rangeParams(opts)}&burndown=0`,
  );
  const body = (await res.json()) as { period: string; at: string; budgets: PeriodJson[] };
  if (opts.json) return write(JSON.stringify(body, null, 2) + '\n');
  write(`Budgets for ${body.period} (periods holding ${body.at.slice(0, 16).replace('T', ' ')} UTC)\n`);
  if (body.budgets.length === 0) return write('No budgets in the policy file.\n');
  const table = new Table({
    head: ['budget', 'period', 'spent', 'limit', 'limit from', 'state', 'forecast', 'breach'],
    colAligns: ['left', 'left', 'right', 'right', 'left', 'left', 'right', 'left'],
    style: { head: [], border: [] },
  });
  for (const b of body.budgets)
    table.push([
      b.policy ?? '',
      periodLabel(b),
      displayUsd(b.spent_usd),
      displayUsd(b.limit_usd),
      LIMIT_SOURCES[b.limit_source ?? ''] ?? '',
      STATES[b.state ?? ''] ?? '',
      b.closed ? `${displayUsd(b.forecast_usd)} (actual)` : displayUsd(b.forecast_usd),
      b.breach_at ? b.breach_at.slice(0, 10) : '',
    ]);
  write(table.toString() + '\n');
  for (const b of body.budgets)
    if ((b.limit_changes ?? []).length > 0)
      write(
        `${b.policy}: limit changed in the period: ${b.limit_changes!.map((c) => `${displayUsd(c.limit_usd)} from ${c.from.slice(0, 16).replace('T', ' ')}`).join(', ')}\n`,
      );
}

async function runForecast(opts: ForecastOptions, write: (s: string) => void): Promise<void> {
  const endpoint = resolveEndpoint(opts);
  if (opts.backtest) {
    const params = new URLSearchParams();
    if (opts.scope) params.set('scope', opts.scope);
    if (opts.days) params.set('days', opts.days);
    const r = (await (
      await getFromCollector(endpoint, `/v1/forecast/backtest?${params}`)
    ).json()) as BacktestReport;
    if (opts.json) return write(JSON.stringify(r, null, 2) + '\n');
    write(
      `Backtest of ${r.scope === 'all' ? 'all spend' : r.scope}: ${r.periods} ${r.period} periods, ` +
        `${r.days} days (${r.from.slice(0, 10)} → ${r.to.slice(0, 10)}), ${r.model.all.points} forecasts, ${r.seconds} s\n`,
    );
    const table = new Table({
      head: ['forecast', 'MAPE', 'mid-period MAPE', `${r.interval * 100} % interval coverage`],
      colAligns: ['left', 'right', 'right', 'right'],
      style: { head: [], border: [] },
    });
    table.push([
      'model',
      displayShare(r.model.all.mape),
      displayShare(r.model.midPeriod.mape),
      displayShare(r.model.all.coverage),
    ]);
    table.push([
      'naive (spent × length / elapsed)',
      displayShare(r.naive.all.mape),
      displayShare(r.naive.midPeriod.mape),
      '—',
    ]);
    write(table.toString() + '\n');
    write(`Model: ${r.model_description}\n`);
    return;
  }
  const body = (await (await getFromCollector(endpoint, `/v1/forecast?${rangeParams(opts)}`)).json()) as {
    model: string;
    interval: number;
    all: PeriodJson;
    unbudgeted: PeriodJson;
    budgets: PeriodJson[];
  };
  if (opts.json) return write(JSON.stringify(body, null, 2) + '\n');
  const table = new Table({
    head: [
      'scope',
      'period',
      'spent',
      'forecast',
      `${body.interval * 100} % interval`,
      'limit',
      'state',
      'breach',
    ],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'left', 'left'],
    style: { head: [], border: [] },
  });
  const row = (name: string, r: PeriodJson) =>
    table.push([
      name,
      periodLabel(r),
      displayUsd(r.spent_usd),
      r.closed ? `${displayUsd(r.forecast_usd)} (actual)` : displayUsd(r.forecast_usd),
      r.closed ? '' : `${displayUsd(r.forecast_low_usd)} – ${displayUsd(r.forecast_high_usd)}`,
      'limit_usd' in r ? displayUsd(r.limit_usd) : '',
      STATES[r.state ?? ''] ?? '',
      r.breach_at ? r.breach_at.slice(0, 10) : '',
    ]);
  row('all spend', body.all);
  row('not under any budget', body.unbudgeted);
  for (const b of body.budgets) row(b.policy ?? '', b);
  write(table.toString() + '\n');
  write(`Model: ${body.model}\n`);
}

const STATES: Record<string, string> = {
  ok: 'ok',
  warning: 'warning',
  forecast_to_exceed: 'forecast to exceed',
  exceeded: 'exceeded',
};

const LIMIT_SOURCES: Record<string, string> = {
  policy_history: 'policy in force then',
  snapshot: 'snapshot of the time',
  current_policy: "today's policy (none stored then)",
};

/** The period's first and last local dates. */
function periodLabel(r: PeriodJson): string {
  const date = (ms: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: r.timezone }).format(ms);
  const start = date(Date.parse(r.period_start));
  const end = date(Date.parse(r.period_end) - 1);
  return `${r.period} ${start}${start === end ? '' : ` – ${end}`}${r.timezone === 'UTC' ? '' : ` (${r.timezone})`}`;
}

/** The `tokenledger` command line. */
import './memory-first';
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../service/config';
import { startCollector } from '../service/start';
import { registerApprovalsCommand } from './approvals';
import { registerAuditCommand } from './audit';
import { registerBaselineCommand } from './baseline';
import { registerDashboardsCommand } from './dashboards';
import { registerEstimateCommand } from './estimate';
import { registerForecastCommands } from './forecast';
import { registerExpensesCommand } from './expenses';
import { registerInventoryCommand } from './inventory';
import { registerKeysCommand } from './keys';
import { registerPolicyCommand } from './policy';
import { registerReconcileCommand } from './reconcile';
import { registerRepairCommand } from './repair';
import { runReport } from './report';

/** The longest a graceful stop may take: open requests get 10 s, then writes and checks finish. */
const SHUTDOWN_LIMIT_MS = 25_000;

const program = new Command('tokenledger')
  .description('OpenTelemetry-native cost governance for AI/LLM spend')
  .showHelpAfterError()
  .exitOverride();

program
  .command('collector')
  .description('run the collector: OTLP/HTTP receiver + API (PORT, TOKENLEDGER_DATA_DIR, CLICKHOUSE_URL)')
  .action(async () => {
    // Files the collector and its embedded engine create are its own: 0600, directories 0700.
    process.umask(0o077);
    const collector = await startCollector(loadConfig());
    // First signal: graceful (finish in-flight writes, close ClickHouse); a second one: now. A
    // graceful stop that outlives SHUTDOWN_LIMIT_MS says so and exits, before an orchestrator's
    // kill (Kubernetes waits 30 s) would end it without a word.
    let stopping = false;
    const stop = (): void => {
      if (stopping) process.exit(1);
      stopping = true;
      setTimeout(() => {
        process.stderr.write(
          `tokenledger: shutdown did not finish in ${SHUTDOWN_LIMIT_MS / 1000} s; exiting\n`,
        );
        process.exit(1);
      }, SHUTDOWN_LIMIT_MS);
      collector.close().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`tokenledger: shutdown: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program
  .command('report')
  .description('spend report from the running collector')
  .option('--period <period>', 'current_month | last_month | last_7d | last_30d | YYYY-MM')
  .option('--from <iso>', 'start (ISO 8601, UTC unless a zone is given)')
  .option('--to <iso>', 'end, exclusive')
  .option(
    '--by <dimensions>',
    'group by: team,cost_center,feature,model,provider,environment,service,customer,asked_model',
  )
  .option(
    '--filter <dimension=values>',
    'only these, e.g. team=search or model=gpt-4o,gpt-4o-mini (repeatable)',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option('--json', 'JSON output')
  .option('--csv', 'CSV output')
  .option(
    '--url <url>',
    'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
  )
  .action((opts) => runReport(opts, (s) => process.stdout.write(s)));

registerKeysCommand(program);
registerEstimateCommand(program);
registerApprovalsCommand(program);
registerPolicyCommand(program);
registerInventoryCommand(program);
registerDashboardsCommand(program);
registerForecastCommands(program);
registerBaselineCommand(program);
registerReconcileCommand(program);
registerExpensesCommand(program);
registerRepairCommand(program);
registerAuditCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tokenledger: ${message.split('\n')[0]}\n`);
  process.exit(1);
});

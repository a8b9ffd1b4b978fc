/** `tokenledger approvals list | show | request | approve | reject`. */
import type { Command } from 'commander';
import Table from 'cli-table3';
import type { ApprovalList, ApprovalView as Approval } from 'tokenledger/wire';
import { getFromCollector, postToCollector, resolveEndpoint } from './client';

interface Common {
  json?: boolean;
  url?: string;
}

const URL_HELP =
  'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)';

function print(approvals: Approval[], json: boolean | undefined): void {
  if (json) {
    process.stdout.write(JSON.stringify(approvals.length === 1 ? approvals[0] : approvals, null, 2) + '\n');
    return;
  }
  const table = new Table({
    head: [
      'id',
      'job',
      'cost center',
      'estimated',
      'approved',
      'spent',
      'status',
      'requester',
      'approver / decided by',
    ],
    style: { head: [], border: [] },
  });
  for (const a of approvals)
    table.push([
      a.id,
      a.job,
      a.cost_center,
      a.estimated_usd,
      a.approved_usd,
      a.spent_usd,
      a.status,
      a.requester,
      a.decided_by || a.approver || '(any approver)',
    ]);
  process.stdout.write(table.toString() + '\n');
}

export function registerApprovalsCommand(program: Command): void {
  const approvals = program.command('approvals').description('approval workflow for expensive jobs');

  approvals
    .command('list')
    .description('approval requests, newest first')
    .option('--status <status>', 'pending | approved | rejected | exhausted')
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP)
    .action(async (opts: Common & { status?: string }) => {
      const q = opts.status ? `?status=${encodeURIComponent(opts.status)}` : '';
      const res = await getFromCollector(resolveEndpoint(opts), `/v1/approvals${q}`);
      print(((await res.json()) as ApprovalList).approvals, opts.json);
    });

  approvals
    .command('show')
    .argument('<id>')
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP)
    .action(async (id: string, opts: Common) => {
      const res = await getFromCollector(resolveEndpoint(opts), `/v1/approvals/${encodeURIComponent(id)}`);
      print([(await res.json()) as Approval], opts.json);
    });

  approvals
    .command('request')
    .description('ask for approval of a job before running it')
    .requiredOption('--job <name>', 'what will run')
    .requiredOption('--estimated-cost-usd <usd>', 'e.g. from `tokenledger estimate`')
    .requiredOption('--cost-center <cc>', 'who pays')
    .requiredOption('--justification <text>', 'why it is worth it')
    .option('--approver <name>', 'who should decide (an approver key name, e.g. an e-mail)')
    .option('--json', 'JSON output')
    .option('--url <url>', URL_HELP)
    .action(
      async (
        opts: Common & {
          job: string;
          estimatedCostUsd: string;
          costCenter: string;
          justification: string;
          approver?: string;
        },
      ) => {
        const res = await postToCollector(resolveEndpoint(opts), '/v1/approvals', {
          job: opts.job,
          estimated_cost_usd: opts.estimatedCostUsd,
          cost_center: opts.costCenter,
          justification: opts.justification,
          approver: opts.approver,
        });
        print([(await res.json()) as Approval], opts.json);
      },
    );

  for (const decision of ['approve', 'reject'] as const) {
    const command = approvals
      .command(decision)
      .description(`${decision} a pending request (needs an approver or admin key that did not request it)`)
      .argument('<id>')
      .option('--comment <text>', 'recorded with the decision')
      .option('--json', 'JSON output')
      .option('--url <url>', URL_HELP);
    if (decision === 'approve') command.option('--amount <usd>', 'grant less than the estimate');
    command.action(async (id: string, opts: Common & { comment?: string; amount?: string }) => {
      const res = await postToCollector(
        resolveEndpoint(opts),
        `/v1/approvals/${encodeURIComponent(id)}/decision`,
        {
          decision,
          comment: opts.comment,
          ...(opts.amount !== undefined ? { approved_usd: opts.amount } : {}),
        },
      );
      print([(await res.json()) as Approval], opts.json);
    });
  }
}

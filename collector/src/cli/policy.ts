/** `tokenledger policy check FILE` and `tokenledger policy schema`: policy as code in CI and editors. */
import type { Command } from 'commander';
import { POLICY_SCHEMA, type PolicyFile } from 'tokenledger/policy';
import { formatProblem, loadPolicy, PolicyFileError } from '../govern/policy/load';
import { ConfigError, maxValueLengthFrom } from '../service/config';

export function registerPolicyCommand(program: Command): void {
  const policy = program.command('policy').description('validate policy files, print their JSON Schema');

  policy
    .command('check')
    .description(
      'validate a policy file; every problem as FILE:LINE:COL  field  message  (hint); exit 1 if any',
    )
    .argument('[file]', 'policy file (default: TOKENLEDGER_POLICY_FILE or ./tokenledger.policy.yaml)')
    .action(async (file: string | undefined) => {
      const target = file ?? process.env.TOKENLEDGER_POLICY_FILE?.trim() ?? 'tokenledger.policy.yaml';
      const shown = target; // as the user wrote it, so the FILE:LINE:COL links resolve in their terminal
      try {
        // Match values are checked against the cap the collector would run with.
        const loaded = await loadPolicy(target, { maxValueLength: maxValueLengthFrom() });
        process.stdout.write(`${shown}: valid — ${summary(loaded.policy)}\n`);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        if (!(err instanceof PolicyFileError)) throw err;
        for (const p of err.problems) process.stdout.write(`${formatProblem(shown, p)}\n`);
        const n = err.problems.length;
        process.stderr.write(`${shown}: ${n} problem${n === 1 ? '' : 's'}\n`);
        process.exitCode = 1;
      }
    });

  policy
    .command('schema')
    .description('print the JSON Schema of the policy file (for editors and other validators)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(POLICY_SCHEMA, null, 2)}\n`);
    });
}

function summary(p: PolicyFile): string {
  const names = p.policies.map((x) => x.name);
  const budgets = p.policies.filter((x) => x.budget).length;
  const alerts = p.policies.filter((x) => x.alerts).length;
  const overrides = p.pricing?.overrides?.length ?? 0;
  return [
    `${names.length} ${names.length === 1 ? 'policy' : 'policies'}${names.length ? ` (${names.join(', ')})` : ''}`,
    `${budgets} with a budget`,
    `${alerts} with alerts`,
    `${overrides} price override${overrides === 1 ? '' : 's'}`,
    `kill switch ${p.kill_switch ? 'ON' : 'off'}`,
    `fail ${p.fail ?? 'open'}`,
  ].join(', ');
}

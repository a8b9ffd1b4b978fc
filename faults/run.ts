/**
 * `npm run faults` (after `npm run build`): runs every fault scenario, or the ones named
 * (`npm run faults -- kill-collector`), prints the table and, for a full run of all, writes
 * faults/RESULTS.md. `--short` runs CI's short version (what `test/faults/faults.test.ts` asserts).
 * Exits 1 when a check fails, or a scenario is SKIPPED without TOKENLEDGER_FAULTS_ALLOW_SKIP=1.
 */
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SCENARIOS } from './scenarios';
import { faultTable } from './table';
import { ALLOW_SKIP_VARIABLE, rowAccepted, type FaultRow } from './types';

const REPO_ROOT = path.resolve(__dirname, '..');

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const short = args.includes('--short');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(
      `unknown scenario ${unknown.join(', ')}; available: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
    return 2;
  }
  if (!existsSync(path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'main.js'))) {
    console.error('collector/dist is missing: run `npm run build` first (npm run faults does)');
    return 2;
  }
  const selected = names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  const machine = `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; load average ${os.loadavg()[0]!.toFixed(1)} at start`;
  console.log(`${machine}; ${short ? 'short' : 'full'} run, ${new Date().toISOString()}\n`);
  const rows: FaultRow[] = [];
  for (const scenario of selected) {
    console.error(`## ${scenario.name}: ${scenario.title}`);
    try {
      rows.push(await scenario.run({ short, log: (line) => console.error(line) }));
    } catch (err) {
      rows.push({
        scenario: scenario.name,
        fault: scenario.title,
        status: 'fail',
        checks: [
          {
            check: 'scenario ran to the end',
            measured: (err as Error).message.split('\n')[0]!,
            target: 'yes',
            ok: false,
          },
        ],
      });
    }
  }
  const table = faultTable(rows);
  console.log(table);
  if (!short && selected.length === SCENARIOS.length) {
    writeFileSync(
      path.join(REPO_ROOT, 'faults', 'RESULTS.md'),
      `# Fault suite results\n\n${machine}; full run, ${new Date().toISOString()}.\n\nReproduce: \`npm run faults\`.\n\n${table}\n`,
    );
    console.log('\nwrote faults/RESULTS.md');
  }
  const refused = rows.filter((r) => !rowAccepted(r));
  if (refused.some((r) => r.status === 'skipped'))
    console.error(`a scenario was SKIPPED: set ${ALLOW_SKIP_VARIABLE}=1 where that is expected`);
  return refused.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

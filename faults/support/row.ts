/** A fault scenario's result: one row of the fault table. */
export interface FaultRow {
  /** The scenario, as the table's first column. */
  scenario: string;
  /** 'pass' when every bar held, 'fail' when one did not, 'skipped' when it could not run here. */
  status: 'pass' | 'fail' | 'skipped';
  /** What was measured, as label → value, in the order printed. */
  figures: Array<[string, string]>;
  /** Each bar that did not hold (or why the scenario was skipped), in words. */
  failures: string[];
}

export interface FaultScenario {
  name: string;
  /** `short`: the CI-sized run; otherwise the full run recorded in docs/RELIABILITY.md. */
  run(opts: { short: boolean; log?: (line: string) => void }): Promise<FaultRow>;
}

/** Figures and bars collected while a scenario runs, then turned into its row. */
export class RowBuilder {
  readonly figures: Array<[string, string]> = [];
  readonly failures: string[] = [];

  constructor(private readonly scenario: string) {}

  figure(label: string, value: string | number): void {
    this.figures.push([label, typeof value === 'number' ? value.toLocaleString('en-US') : value]);
  }

  /** Records a bar: `held` false adds `why` to the failures. */
  bar(held: boolean, why: string): void {
    if (!held) this.failures.push(why);
  }

  row(): FaultRow {
    return {
      scenario: this.scenario,
      status: this.failures.length === 0 ? 'pass' : 'fail',
      figures: this.figures,
      failures: this.failures,
    };
  }
}

/** Prints a row as `scenario  PASS  label value; …` plus its failures, one per line. */
export function formatRow(row: FaultRow): string {
  const figures = row.figures.map(([k, v]) => `${k} ${v}`).join('; ');
  const head = `${row.scenario}  ${row.status.toUpperCase()}  ${figures}`;
  return [head, ...row.failures.map((f) => `  - ${f}`)].join('\n');
}

/** Runs a scenario when its module is the process's entry point: `npx tsx <file> [--full]`. */
export function runWhenMain(mod: NodeJS.Module, scenario: FaultScenario): void {
  if (require.main !== mod) return;
  const short = !process.argv.includes('--full');
  scenario
    .run({ short, log: (l) => console.error(l) })
    .then((row) => {
      console.log(formatRow(row));
      process.exitCode = row.status === 'fail' ? 1 : 0;
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}

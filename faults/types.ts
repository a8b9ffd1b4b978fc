/**
 * The fault suite's contract: one module per scenario under `faults/scenarios/`, each exporting a
 * `FaultScenario` whose `run` injects its faults into the real collector and returns one row of the
 * table that `npm run faults` prints (and that `test/faults/faults.test.ts` asserts in short mode).
 */

export interface RunOptions {
  /** CI's short version: fewer or shorter faults, the same checks and targets. */
  short: boolean;
  /** Progress lines (stderr in the runner, mocha's output in the test). */
  log: (line: string) => void;
}

/** One measured figure against its target. */
export interface FaultCheck {
  check: string;
  measured: string;
  target: string;
  ok: boolean;
  /**
   * False for a bar this run prints without judging it: a timing in the short run (on CI's shared
   * cores an app's latency moves 2x; full runs on a quiet machine judge it).
   */
  judged?: boolean;
}

/** Whether a check counts toward its row's status. */
export const isJudged = (check: FaultCheck): boolean => check.judged !== false;

export type FaultStatus = 'pass' | 'fail' | 'skipped';

export interface FaultRow {
  scenario: string;
  /** The fault injected, as a reader of the table should understand it ("kill -9 × 20 under ingest"). */
  fault: string;
  status: FaultStatus;
  checks: FaultCheck[];
  /** Why a scenario was skipped, or anything a reader must know to trust the figures. */
  note?: string;
  seconds?: number;
}

export interface FaultScenario {
  /** Short id: the module's file name, used on the command line (`npm run faults -- kill-collector`). */
  name: string;
  title: string;
  /** Upper bound of the short run, for the mocha test's timeout. */
  shortTimeoutMs: number;
  run(options: RunOptions): Promise<FaultRow>;
}

/** A row whose status follows from its checks: pass only when every judged check holds. */
export function rowFrom(
  scenario: string,
  fault: string,
  checks: FaultCheck[],
  extra: { note?: string; seconds?: number } = {},
): FaultRow {
  return {
    scenario,
    fault,
    status: checks.every((c) => c.ok || !isJudged(c)) ? 'pass' : 'fail',
    checks,
    ...extra,
  };
}

/** A scenario that could not run here (e.g. `mount` refused): the table says SKIPPED and why. */
export function skippedRow(scenario: string, fault: string, note: string): FaultRow {
  return { scenario, fault, status: 'skipped', checks: [], note };
}

/**
 * SKIPPED counts as a failure unless this variable allows it (a machine where the scenario cannot
 * run at all, e.g. without root for `mount`).
 */
export const ALLOW_SKIP_VARIABLE = 'TOKENLEDGER_FAULTS_ALLOW_SKIP';

const skipAllowed = (env: NodeJS.ProcessEnv = process.env): boolean => env[ALLOW_SKIP_VARIABLE] === '1';

/** Whether a row is acceptable: passed, or skipped where skipping is allowed. */
export const rowAccepted = (row: FaultRow, env: NodeJS.ProcessEnv = process.env): boolean =>
  row.status === 'pass' || (row.status === 'skipped' && skipAllowed(env));

/**
 * The test run's temporary folders, removed once the test file that made them is done.
 *
 * A run makes hundreds of collector data directories and several app and operator folders (one with
 * the embedded engine installed is 540 MB). Left in place they fill a CI machine's disk below the
 * free space the collector keeps (it then answers 503 to every span), and later suites fail for it.
 *
 * Loaded by mocha as a root hook plugin (`.mocharc.json`): a folder made while a file's hooks and
 * tests run is removed when the first test of the next file starts — after the file's own `after`
 * hooks stopped whatever used it. A folder made before the run starts (at import) or asked for with
 * `forRun` (shared by several files) is removed when the run ends.
 * `TOKENLEDGER_TEST_KEEP_TMP=1` keeps them all, to look at after a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Made {
  dir: string;
  seq: number;
}

let seq = 0;
let running = false;
const byFile: Made[] = [];
const forWholeRun = new Set<string>();
/** The file of the last test that finished, and how many folders had been made by then. */
let lastFile: string | undefined;
let madeByThen = 0;

/** A new folder under the OS temp dir, named `prefix` + random characters. */
export function tempDir(prefix: string, opts: { forRun?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (opts.forRun || !running) forWholeRun.add(dir);
  else byFile.push({ dir, seq: ++seq });
  return dir;
}

function remove(dir: string): void {
  if (process.env.TOKENLEDGER_TEST_KEEP_TMP) return;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    // A folder that cannot go costs disk, not correctness: say so and go on.
    console.warn(`test temp dir ${dir} not removed: ${(err as Error).message}`);
  }
}

export const mochaHooks = {
  beforeAll(): void {
    running = true;
  },
  beforeEach(this: Mocha.Context): void {
    const file = this.currentTest?.file;
    if (lastFile === undefined || file === lastFile) return;
    // The previous file is done, its `after` hooks included; this file's `before` hooks made
    // folders after `madeByThen`, which stay.
    while (byFile.length > 0 && byFile[0]!.seq <= madeByThen) remove(byFile.shift()!.dir);
  },
  afterEach(this: Mocha.Context): void {
    lastFile = this.currentTest?.file;
    madeByThen = seq;
  },
  afterAll(): void {
    for (const { dir } of byFile.splice(0)) remove(dir);
    for (const dir of forWholeRun) remove(dir);
    forWholeRun.clear();
  },
};

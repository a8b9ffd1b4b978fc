/** What the CLI's import commands share: reading the file, telling the rows it could not read. */
import { readFile } from 'node:fs/promises';
import { CliError } from './client';

export async function readImportFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export function writeProblems(
  write: (s: string) => void,
  result: { problem_count: number; problems: Array<{ line: number; message: string }> },
): void {
  if (result.problem_count === 0) return;
  write(`  ${result.problem_count} rows could not be read (the rest were kept):\n`);
  for (const p of result.problems) write(`    line ${p.line}: ${p.message}\n`);
  if (result.problem_count > result.problems.length)
    write(`    … and ${result.problem_count - result.problems.length} more\n`);
}

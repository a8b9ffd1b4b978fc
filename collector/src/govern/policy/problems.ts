/** What is wrong with a policy file, where, and what to do about it. */

export interface PolicyProblem {
  /** 1-based; 0 when the problem has no place in the file (e.g. it cannot be read). */
  line: number;
  column: number;
  /** The field, e.g. `policies[0].budget.period` ('' for the whole file). */
  path: string;
  message: string;
  hint?: string;
}

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
  constructor(
    readonly file: string,
    readonly problems: PolicyProblem[],
  ) {
    // First line is what a one-line CLI error shows; the rest lists every problem.
    super(
      `policy file ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})\n` +
        problems.map((p) => formatProblem(file, p)).join('\n'),
    );
  }
}

/** `FILE:LINE:COL  field  message  (hint)` — the shape editors and CI logs link to. */
export function formatProblem(file: string, p: PolicyProblem): string {
  const where = p.line > 0 ? `${file}:${p.line}:${p.column}` : file;
  return `${where}  ${p.path || '(file)'}  ${p.message}${p.hint ? `  (${p.hint})` : ''}`;
}

/** `['policies', 0, 'budget']` → `policies[0].budget`. */
export function fieldName(segments: ReadonlyArray<string | number>): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

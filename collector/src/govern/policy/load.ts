/**
 * Reads and validates a policy file: YAML (kept as a Document, so every problem has a line and
 * column), then the JSON Schema, then the cross-field rules. All problems are reported at once.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { PolicyFile } from 'tokenledger/policy';
import { locator } from './locate';
import { PolicyFileError, type PolicyProblem } from './problems';
import { ruleProblems } from './rules';
import { schemaProblems } from './validate';
import { DEFAULT_MAX_VALUE_LENGTH } from '../../ingest/value-cap';

export { PolicyFileError, formatProblem, type PolicyProblem } from './problems';

export interface LoadedPolicy {
  file: string;
  policy: PolicyFile;
  /** sha256 of the file's bytes: what GET /v1/budgets reports as policy_version. */
  version: string;
}

export type ParseResult = { ok: true; policy: PolicyFile } | { ok: false; problems: PolicyProblem[] };

export interface PolicyCheckOptions {
  /**
   * The longest value the collector stores from spans (TOKENLEDGER_MAX_ATTRIBUTE_LENGTH): a `match`
   * value longer than it could never match, the call's value being cut to it.
   */
  maxValueLength?: number;
}

/** Validates policy YAML text; never throws for bad content. */
export function parsePolicy(text: string, options: PolicyCheckOptions = {}): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          line: pos.line,
          column: pos.col,
          path: '',
          message: `YAML: ${e.message.split('\n')[0]}`,
          hint: e.code === 'DUPLICATE_KEY' ? 'a key may appear once per mapping' : undefined,
        };
      }),
    };
  }
  const data: unknown = doc.toJS();
  const locate = locator(doc, lines);
  const problems = [
    ...schemaProblems(data, locate),
    ...ruleProblems(data, locate, options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH),
  ];
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, problems };
  }
  return { ok: true, policy: data as PolicyFile };
}

/** Reads, validates and fingerprints a policy file; throws PolicyFileError listing every problem. */
export async function loadPolicy(file: string, options: PolicyCheckOptions = {}): Promise<LoadedPolicy> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyFileError(file, [
      {
        line: 0,
        column: 0,
        path: '',
        message: code === 'ENOENT' ? 'file not found' : `cannot read: ${code ?? (err as Error).message}`,
        hint: code === 'ENOENT' ? 'check TOKENLEDGER_POLICY_FILE or the path given' : undefined,
      },
    ]);
  }
  const result = parsePolicy(bytes.toString('utf8'), options);
  if (!result.ok) throw new PolicyFileError(file, result.problems);
  return { file, policy: result.policy, version: createHash('sha256').update(bytes).digest('hex') };
}

/** The contract's entry point: the validated object model of a policy file. */
export async function loadPolicyFile(file: string): Promise<PolicyFile> {
  return (await loadPolicy(file)).policy;
}

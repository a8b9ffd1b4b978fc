/**
 * Checks the schema cannot express: unique names, a downgrade target the policy itself allows, match
 * values no longer than what the collector stores.
 */
import { MATCH_FIELDS } from 'tokenledger/policy';
import { capText } from '../../ingest/value-cap';
import type { Locate } from './locate';
import { fieldName, type PolicyProblem } from './problems';

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

/**
 * Runs on data that may also have schema errors, so every access is defensive. `maxValueLength`:
 * the collector's cap on stored values (ingest/value-cap.ts).
 */
export function ruleProblems(data: unknown, locate: Locate, maxValueLength: number): PolicyProblem[] {
  if (!isObject(data)) return [];
  const problems: PolicyProblem[] = [];
  const report = (segments: Array<string | number>, message: string, hint?: string): void => {
    problems.push({ ...locate(segments), path: fieldName(segments), message, hint });
  };

  const firstByName = new Map<string, number>();
  const policies = Array.isArray(data.policies) ? data.policies : [];
  policies.forEach((p: unknown, i) => {
    if (!isObject(p)) return;
    if (typeof p.name === 'string') {
      const first = firstByName.get(p.name);
      if (first === undefined) firstByName.set(p.name, i);
      else
        report(
          ['policies', i, 'name'],
          `duplicate policy name '${p.name}'`,
          `also used by policies[${first}] at line ${locate(['policies', first, 'name']).line}; names identify budgets, alerts and audit entries`,
        );
    }
    if (isObject(p.match)) {
      for (const field of MATCH_FIELDS) {
        const value = p.match[field];
        const values = typeof value === 'string' ? [value] : strings(value);
        values.forEach((v, j) => {
          if (capText(v, maxValueLength) === v) return;
          report(
            ['policies', i, 'match', field, ...(Array.isArray(value) ? [j] : [])],
            `match value is ${[...v].length} characters, longer than the ${maxValueLength} the collector stores: a call's value is cut to ${maxValueLength}, so this could never match`,
            'shorten the value (and the attribute the app sends), or raise TOKENLEDGER_MAX_ATTRIBUTE_LENGTH',
          );
        });
      }
    }
    const target = p.downgrade_to;
    if (typeof target === 'string' && isObject(p.models)) {
      const allow = strings(p.models.allow);
      if (allow.length > 0 && !allow.includes(target))
        report(
          ['policies', i, 'downgrade_to'],
          `downgrade_to '${target}' is not in models.allow`,
          `add it to models.allow, or pick one of: ${allow.join(', ')}`,
        );
      if (strings(p.models.deny).includes(target))
        report(
          ['policies', i, 'downgrade_to'],
          `downgrade_to '${target}' is in models.deny`,
          'pick a model the policy allows',
        );
    }
  });

  const overrides =
    isObject(data.pricing) && Array.isArray(data.pricing.overrides) ? data.pricing.overrides : [];
  const seen = new Map<string, number>();
  overrides.forEach((o: unknown, i) => {
    if (!isObject(o) || typeof o.model !== 'string') return;
    const key = `${typeof o.provider === 'string' ? o.provider.toLowerCase() : '*'}/${o.model.toLowerCase()}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      report(
        ['pricing', 'overrides', i, 'model'],
        `a second override for ${key === `*/${o.model.toLowerCase()}` ? o.model : key}`,
        `pricing.overrides[${first}] already prices it; merge the two`,
      );
  });
  return problems;
}

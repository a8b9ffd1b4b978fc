/**
 * Scoped ingest keys: a key limited to cost centers, teams, departments or services. What such a
 * key reports outside its scope is recorded under its scope — spend is never dropped — with the
 * claimed values kept and flagged; it leases only from policies that can select calls in its scope.
 */
import type { PolicyMatch } from 'tokenledger/policy';
import { ATTRIBUTION_BY_POLICY_FIELD } from 'tokenledger/semconv';
import type { KeyScope } from 'tokenledger/wire';
import { recordField, type CallAttribution } from '../../core/call';
import { KeyConfigError } from './errors';

const SCOPE_FIELDS = ['team', 'cost_center', 'department', 'service'] as const;
export type ScopeField = (typeof SCOPE_FIELDS)[number];

const VALUE = /^[^\s,;|[\]=]{1,200}$/;

/**
 * `team=search` or `team=search|ads` (one field), as `keys create --scope` and `TOKENLEDGER_API_KEYS`
 * (`;` between fields) write them; merged into `into`.
 */
export function parseScopeEntry(entry: string, into: KeyScope = {}): KeyScope {
  const eq = entry.indexOf('=');
  const field = entry.slice(0, eq).trim();
  if (eq <= 0 || !(SCOPE_FIELDS as readonly string[]).includes(field)) {
    throw new KeyConfigError(
      `scope "${entry}": expected field=value with field one of ${SCOPE_FIELDS.join(', ')} (e.g. team=search)`,
    );
  }
  const values = entry
    .slice(eq + 1)
    .split(/[|,]/)
    .map((v) => v.trim())
    .filter(Boolean);
  if (values.length === 0 || !values.every((v) => VALUE.test(v)))
    throw new KeyConfigError(`scope "${entry}": values must be 1-200 characters without spaces , ; | [ ] =`);
  const f = field as ScopeField;
  into[f] = [...new Set([...(into[f] ?? []), ...values])];
  return into;
}

/** A scope as text: `team=search|ads;service=api`. */
export function formatScope(scope: KeyScope | undefined): string {
  return Object.entries(scope ?? {})
    .map(([field, values]) => `${field}=${(values as string[]).join('|')}`)
    .join(';');
}

/** Whether a policy can select any call a key of this scope records (no scope: any policy). */
export function scopeFitsMatch(scope: KeyScope | undefined, match: PolicyMatch | undefined): boolean {
  for (const field of SCOPE_FIELDS) {
    const allowed = scope?.[field];
    const want = match?.[field];
    if (!allowed || want === undefined) continue;
    const values = Array.isArray(want) ? want : [want];
    if (!values.some((v) => allowed.includes(v))) return false;
  }
  return true;
}

/**
 * Files `values` (a call's attribution, an outcome's fields) under the scope: a field claiming a
 * value outside it, or none, takes the scope's first value. Returns the claims it overrode
 * (field → claimed value), or undefined when everything was in scope. Changes `values` in place.
 */
export function applyScope(
  scope: KeyScope | undefined,
  get: (field: ScopeField) => string | undefined,
  set: (field: ScopeField, value: string) => void,
): Record<string, string> | undefined {
  let claimed: Record<string, string> | undefined;
  for (const field of SCOPE_FIELDS) {
    const allowed = scope?.[field];
    if (!allowed || allowed.length === 0) continue;
    const value = get(field) ?? '';
    if (allowed.includes(value)) continue;
    if (value !== '') (claimed ??= {})[field] = value;
    set(field, allowed[0]!);
  }
  return claimed;
}

/** applyScope on a call's attribution record. */
export function scopeCall(
  scope: KeyScope | undefined,
  a: CallAttribution,
): Record<string, string> | undefined {
  const key = (f: ScopeField) => recordField(ATTRIBUTION_BY_POLICY_FIELD[f]!.field);
  return applyScope(
    scope,
    (f) => a[key(f)],
    (f, v) => (a[key(f)] = v),
  );
}

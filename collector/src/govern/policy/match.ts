/**
 * A policy's `match` as a SQL condition (values only as query parameters, columns only from a
 * fixed map) and as an in-memory test on a call (for spend accepted but not yet stored).
 */
import type { PolicyMatch } from 'tokenledger/policy';
import { MATCH_FIELDS } from 'tokenledger/policy';
import { normaliseProvider } from '../../core/providers';
import { ATTRIBUTION_BY_POLICY_FIELD } from 'tokenledger/semconv';
import { recordField, type PricedCall } from '../../core/call';
import { MODEL_SQL } from '../../storage/rows';

type MatchField = (typeof MATCH_FIELDS)[number];

const valuesOf = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** The selectors that constrain anything, with provider names normalised like spans' are. */
function matchEntries(match: PolicyMatch | undefined): Array<[MatchField, string[]]> {
  const entries: Array<[MatchField, string[]]> = [];
  for (const field of MATCH_FIELDS) {
    const values = valuesOf(match?.[field]);
    if (values.length === 0) continue;
    entries.push([field, field === 'provider' ? values.map(normaliseProvider) : values]);
  }
  return entries;
}

export interface SqlCondition {
  sql: string;
  params: Record<string, string[]>;
}

/**
 * `team IN {m_team:Array(String)} AND …` for the rollup (`table: 'rollup'`, a column per field)
 * or the raw calls. `prefix` keeps parameter names apart when several conditions share a query.
 */
export function matchCondition(
  match: PolicyMatch | undefined,
  table: 'rollup' | 'raw',
  prefix = 'm',
): SqlCondition {
  const parts: string[] = [];
  const params: Record<string, string[]> = {};
  for (const [field, values] of matchEntries(match)) {
    const column = field === 'model' && table === 'raw' ? MODEL_SQL : field;
    const name = `${prefix}_${field}`;
    // IN rather than has(): the index can use it, and it is ~5 ms faster over a budget's rows.
    parts.push(`${column} IN {${name}:Array(String)}`);
    params[name] = values;
  }
  return { sql: parts.length > 0 ? parts.join(' AND ') : '1', params };
}

/** The match fields a scope's condition reads (where its spend can be read from depends on them). */
export function scopeFields(scope: SpendScope): Set<string> {
  const matches = 'all' in scope ? [] : 'match' in scope ? [scope.match] : scope.noneOf;
  return new Set(matches.flatMap((m) => matchEntries(m).map(([field]) => field)));
}

/** A call's value of a match field: the model and provider, else its attribution (by the SDK's table). */
function callValue(call: PricedCall, field: MatchField): string {
  if (field === 'model') return call.pricedModel || call.responseModel || call.requestModel;
  if (field === 'provider') return call.provider;
  return call.attribution[recordField(ATTRIBUTION_BY_POLICY_FIELD[field]!.field)];
}

export function callMatches(match: PolicyMatch | undefined, call: PricedCall): boolean {
  return matchEntries(match).every(([field, values]) => values.includes(callValue(call, field)));
}

/** Whose spend: every call, the calls one policy matches, or the calls no policy in a list matches. */
export type SpendScope = { all: true } | { match: PolicyMatch | undefined } | { noneOf: PolicyMatch[] };

/** A scope as one SQL condition (parameter names kept apart by `prefix`). */
export function scopeCondition(scope: SpendScope, table: 'rollup' | 'raw', prefix = 's'): SqlCondition {
  if ('all' in scope) return { sql: '1', params: {} };
  if ('match' in scope) return matchCondition(scope.match, table, prefix);
  const parts = scope.noneOf.map((m, i) => matchCondition(m, table, `${prefix}${i}`));
  return {
    sql: parts.length > 0 ? `NOT (${parts.map((p) => `(${p.sql})`).join(' OR ')})` : '1',
    params: Object.assign({}, ...parts.map((p) => p.params)) as Record<string, string[]>,
  };
}

/** The same in memory, for calls accepted but not yet stored. */
export function callInScope(scope: SpendScope, call: PricedCall): boolean {
  if ('all' in scope) return true;
  if ('match' in scope) return callMatches(scope.match, call);
  return !scope.noneOf.some((m) => callMatches(m, call));
}

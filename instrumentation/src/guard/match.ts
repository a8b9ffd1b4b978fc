/**
 * Which policies a call falls under. A call's attribution is its span attributes (context and
 * baggage) over the process's resource attributes (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME),
 * which tokenledger's own tracer provider puts on every span.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { PolicyMatch } from '../policy/types';
import type { KeyScope } from '../wire';
import {
  ATTRIBUTION_BY_POLICY_FIELD,
  ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED,
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_NAME,
} from '../semconv';

/** The process's resource attributes as the OTel env detector reads them. */
export function resourceFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // a malformed pair is skipped, as the OTel detector does
    }
  }
  const service = env.OTEL_SERVICE_NAME?.trim();
  if (service) out[ATTR_SERVICE_NAME] = service;
  if (out[ATTR_DEPLOYMENT_ENVIRONMENT_NAME] === undefined && out[ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED])
    out[ATTR_DEPLOYMENT_ENVIRONMENT_NAME] = out[ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED];
  return out;
}

/** A call as the matcher sees it. */
export interface CallFacts {
  provider: string;
  /** The model the app asked for. */
  model: string | undefined;
  attributes: Attributes;
}

export type Matcher = (call: CallFacts) => boolean;

function valueOf(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A scoped key's allowed values by policy-file field (`team` → [search]). */
export type ScopeValues = ReadonlyMap<string, readonly string[]>;

export function scopeValues(scope: KeyScope | null | undefined): ScopeValues | undefined {
  const out = new Map<string, readonly string[]>();
  for (const [field, values] of Object.entries(scope ?? {})) {
    if (Array.isArray(values) && values.length > 0 && ATTRIBUTION_BY_POLICY_FIELD[field] !== undefined)
      out.set(
        field,
        values.filter((v): v is string => typeof v === 'string'),
      );
  }
  return out.size > 0 ? out : undefined;
}

/** The value a field is recorded under: a scoped key's calls claiming another value (or none) are filed under its first. */
function scoped(
  field: string,
  claimed: string | undefined,
  scope: ScopeValues | undefined,
): string | undefined {
  const allowed = scope?.get(field);
  if (allowed === undefined || (claimed !== undefined && allowed.includes(claimed))) return claimed;
  return allowed[0];
}

/** The value of a policy-file field for a call, or undefined when it has none. */
function fieldValue(
  call: CallFacts,
  field: string,
  resource: Record<string, string>,
  scope: ScopeValues | undefined,
): string | undefined {
  if (field === 'model') return call.model;
  if (field === 'provider') return call.provider;
  const key = ATTRIBUTION_BY_POLICY_FIELD[field]?.key;
  if (key === undefined) return undefined;
  return scoped(field, valueOf(call.attributes[key]) ?? resource[key], scope);
}

/** A call's claimed value of an attribution field (span attributes, then the resource). */
export function claimedValue(
  attributes: Attributes,
  field: string,
  resource: Record<string, string>,
): string | undefined {
  const key = ATTRIBUTION_BY_POLICY_FIELD[field]?.key;
  return key === undefined ? undefined : (valueOf(attributes[key]) ?? resource[key]);
}

/**
 * Compiles a policy's `match` (every field must match; a list means any of) into a predicate. With
 * a scoped key, a call is matched as the collector will record it: under the key's scope.
 */
export function compileMatch(
  match: PolicyMatch | undefined,
  resource: Record<string, string>,
  scope?: ScopeValues,
): Matcher {
  const tests: Array<[string, Set<string>]> = [];
  for (const [field, want] of Object.entries(match ?? {})) {
    if (want === undefined) continue;
    tests.push([field, new Set(Array.isArray(want) ? want : [want])]);
  }
  if (tests.length === 0) return () => true;
  return (call) => {
    for (let i = 0; i < tests.length; i++) {
      const [field, values] = tests[i]!;
      const v = fieldValue(call, field, resource, scope);
      if (v === undefined || !values.has(v)) return false;
    }
    return true;
  };
}

/** Whether a policy can select any call a key of this scope records (the collector leases only those). */
export function matchFitsScope(match: PolicyMatch | undefined, scope: ScopeValues | undefined): boolean {
  if (!scope) return true;
  for (const [field, allowed] of scope) {
    const want = match?.[field as keyof PolicyMatch];
    if (want === undefined) continue;
    const values = Array.isArray(want) ? want : [want];
    if (!values.some((v) => allowed.includes(v))) return false;
  }
  return true;
}

/**
 * The guard's view of the collector's /v1/budgets answer, compiled once per refresh so the hot
 * path only reads fields: matchers, sets, integer pico-dollar limits.
 */
import type { OnExceeded } from '../policy/types';
import { ATTRIBUTION_BY_POLICY_FIELD } from '../semconv';
import { compileMatch, matchFitsScope, scopeValues, type Matcher, type ScopeValues } from './match';
import { toPico } from '../money/pico';
import { PriceBook } from '../money/price-book';
import type { BudgetsResponse, PolicyView } from '../wire';

export interface BudgetWindow {
  /** Key of this policy's period, for the per-process counters: `name|period_start`. */
  key: string;
  limitPico: bigint;
  /** Spent as the collector saw it (all processes). */
  spentPico: bigint;
  limitUsd: string;
  period: string;
  periodStart: string;
  periodEnd: string;
}

export interface CompiledPolicy {
  name: string;
  matches: Matcher;
  /** Whether `match.service` (if any) admits this service. */
  matchesService: (service: string | undefined) => boolean;
  /** Whether the policy can select calls this process's key records (a scoped key leases only those). */
  fitsScope: boolean;
  disabled: boolean;
  allow: Set<string> | undefined;
  allowList: string[] | undefined;
  deny: Set<string> | undefined;
  maxTokens: number | undefined;
  rejectMaxTokens: boolean;
  onExceeded: OnExceeded;
  downgradeTo: string | undefined;
  callsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  budget: BudgetWindow | undefined;
}

interface RequiredAttribution {
  fields: string[];
  keys: string[];
  block: boolean;
}

export interface GuardState {
  /** The key this process sends, when the collector says (a scoped key's calls are recorded under its scope). */
  keyName: string | undefined;
  scope: ScopeValues | undefined;
  killSwitch: boolean;
  failClosed: boolean;
  required: RequiredAttribution | undefined;
  policies: CompiledPolicy[];
  prices: PriceBook;
}

function positive(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

function compileBudget(p: PolicyView): BudgetWindow | undefined {
  const b = p.budget;
  if (!b) return undefined;
  const limitPico = toPico(b.usd);
  if (limitPico === undefined || typeof b.period_start !== 'string') return undefined;
  return {
    key: `${p.name}|${b.period_start}`,
    limitPico,
    spentPico: toPico(b.spent_usd) ?? 0n,
    limitUsd: String(b.usd),
    period: b.period,
    periodStart: b.period_start,
    periodEnd: b.period_end,
  };
}

function compilePolicy(
  p: PolicyView,
  resource: Record<string, string>,
  scope: ScopeValues | undefined,
): CompiledPolicy {
  return {
    name: p.name,
    matches: compileMatch(p.match, resource, scope),
    fitsScope: matchFitsScope(p.match, scope),
    matchesService: (service) => {
      const want = p.match?.service;
      if (want === undefined || service === undefined) return true;
      return Array.isArray(want) ? want.includes(service) : want === service;
    },
    disabled: p.disabled === true,
    allow: p.models?.allow ? new Set(p.models.allow) : undefined,
    allowList: p.models?.allow,
    deny: p.models?.deny ? new Set(p.models.deny) : undefined,
    maxTokens: positive(p.max_tokens_per_call),
    rejectMaxTokens: p.on_max_tokens === 'reject',
    onExceeded: p.on_exceeded ?? 'alert',
    downgradeTo: p.downgrade_to,
    callsPerMinute: positive(p.rate_limit?.calls_per_minute),
    tokensPerMinute: positive(p.rate_limit?.tokens_per_minute),
    budget: compileBudget(p),
  };
}

export function compileState(res: Partial<BudgetsResponse>, resource: Record<string, string>): GuardState {
  const required =
    res.attribution?.required?.filter((f) => ATTRIBUTION_BY_POLICY_FIELD[f] !== undefined) ?? [];
  const scope = scopeValues(res.key?.scope);
  return {
    keyName: typeof res.key?.name === 'string' ? res.key.name : undefined,
    scope,
    killSwitch: res.kill_switch === true,
    failClosed: res.fail === 'closed',
    required:
      required.length > 0
        ? {
            fields: required,
            keys: required.map((f) => ATTRIBUTION_BY_POLICY_FIELD[f]!.key),
            block: (res.attribution?.on_missing ?? 'block') === 'block',
          }
        : undefined,
    policies: (res.policies ?? [])
      .filter((p) => typeof p?.name === 'string')
      .map((p) => compilePolicy(p, resource, scope)),
    prices: new PriceBook(res.prices),
  };
}

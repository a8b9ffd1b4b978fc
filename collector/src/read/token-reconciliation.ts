/**
 * The token side of a reconciliation: a provider's usage export (tokens it counted, no money) vs
 * the meter's stored tokens, per provider × UTC day × model (× project when the policy maps the
 * provider's projects or API keys to services). Input (cache reads and writes included), cached
 * input and output are compared apart; a line matches when each is within the tolerance share of
 * the larger. Usage exports date tokens by when the calls ran, as the meter does: no billing delay.
 */
import { Money } from '../core/money';
import type { StoredUsageLine, TokenReconciliationRow } from '../storage/bills';
import type { MeteredDay } from './spend';

const TOKEN_STATUSES = ['matched', 'billed_only', 'metered_only', 'token_mismatch'] as const;
type TokenStatus = (typeof TOKEN_STATUSES)[number];

/** A line as stored (`reconciliation_token_lines`), its status one of TOKEN_STATUSES. */
export type TokenReconciliationLine = TokenReconciliationRow & { status: TokenStatus };

interface TokenTotals {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
}

export interface ProviderTokenReconciliation {
  /** Days of the range a usage export covers. */
  days_covered: number;
  billed: TokenTotals & { requests: number | null };
  metered: TokenTotals & { calls: number };
  /** Per token kind: Σ min(billed, metered) ÷ billed, 6 decimals; null when nothing was billed. */
  coverage: Record<keyof TokenTotals, string | null>;
  lines: Record<TokenStatus, number>;
}

interface Cell {
  billed: TokenTotals;
  metered: TokenTotals;
  requests: number | null;
  calls: number;
  billedRow: boolean;
}

const zero = (): TokenTotals => ({ input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 });
const KINDS = ['input_tokens', 'cached_input_tokens', 'output_tokens'] as const;

export interface TokenReconcileInput {
  usage: StoredUsageLine[];
  metered: MeteredDay[];
  /** Per provider, the days a current usage export covers. */
  covered: Map<string, Set<string>>;
  /** Only lines on days in [from, to). */
  from: string;
  to: string;
  toleranceShare: string;
  normalise: (provider: string, model: string) => string;
  billedProject: (provider: string, project: string, apiKey: string) => string;
  meteredProject: (provider: string, service: string) => string;
}

export function reconcileTokens(input: TokenReconcileInput): TokenReconciliationLine[] {
  const inRange = (provider: string, day: string): boolean =>
    day >= input.from && day < input.to && (input.covered.get(provider)?.has(day) ?? false);
  // A provider whose export is not grouped by model is compared per day.
  const byModel = new Set(input.usage.filter((u) => u.model !== '').map((u) => u.provider));
  const cells = new Map<string, Cell>();
  const cell = (provider: string, day: string, model: string, project: string): Cell => {
    const key = [provider, day, model, project].join('\u0000');
    let c = cells.get(key);
    if (!c)
      cells.set(key, (c = { billed: zero(), metered: zero(), requests: null, calls: 0, billedRow: false }));
    return c;
  };
  for (const u of input.usage) {
    if (!inRange(u.provider, u.day)) continue;
    const model = byModel.has(u.provider) ? input.normalise(u.provider, u.model) : '';
    const c = cell(u.provider, u.day, model, input.billedProject(u.provider, u.project, u.apiKey));
    c.billedRow = true;
    c.billed.input_tokens += u.inputTokens;
    c.billed.cached_input_tokens += u.cachedInputTokens;
    c.billed.output_tokens += u.outputTokens;
    if (u.requests !== undefined) c.requests = (c.requests ?? 0) + u.requests;
  }
  for (const m of input.metered) {
    if (!inRange(m.provider, m.day)) continue;
    const model = byModel.has(m.provider) ? input.normalise(m.provider, m.model) : '';
    const c = cell(m.provider, m.day, model, input.meteredProject(m.provider, m.service));
    c.metered.input_tokens += m.input_tokens;
    c.metered.cached_input_tokens += m.cached_input_tokens;
    c.metered.output_tokens += m.output_tokens;
    c.calls += m.calls;
  }
  const share = new Money(input.toleranceShare);
  const lines: TokenReconciliationLine[] = [];
  for (const [key, c] of cells) {
    const [provider, day, model, project] = key.split('\u0000') as [string, string, string, string];
    const within = KINDS.every((k) => {
      const b = c.billed[k];
      const m = c.metered[k];
      return new Money(Math.abs(b - m)).lte(share.times(Math.max(b, m)));
    });
    const meteredNone = c.calls === 0 && KINDS.every((k) => c.metered[k] === 0);
    const status: TokenStatus = within
      ? 'matched'
      : meteredNone
        ? 'billed_only'
        : !c.billedRow
          ? 'metered_only'
          : 'token_mismatch';
    lines.push({
      provider,
      day,
      model,
      project,
      status,
      billed_input_tokens: c.billed.input_tokens,
      metered_input_tokens: c.metered.input_tokens,
      billed_cached_input_tokens: c.billed.cached_input_tokens,
      metered_cached_input_tokens: c.metered.cached_input_tokens,
      billed_output_tokens: c.billed.output_tokens,
      metered_output_tokens: c.metered.output_tokens,
      billed_requests: c.requests,
      calls: c.calls,
    });
  }
  return lines.sort(
    (a, b) =>
      a.provider.localeCompare(b.provider) ||
      a.day.localeCompare(b.day) ||
      a.model.localeCompare(b.model) ||
      a.project.localeCompare(b.project),
  );
}

export function summariseTokens(
  lines: TokenReconciliationLine[],
  daysCovered: number,
): ProviderTokenReconciliation {
  const billed = { ...zero(), requests: null as number | null };
  const metered = { ...zero(), calls: 0 };
  const covered = zero();
  for (const l of lines) {
    for (const k of KINDS) {
      const b = l[`billed_${k}`];
      const m = l[`metered_${k}`];
      billed[k] += b;
      metered[k] += m;
      covered[k] += Math.min(b, m);
    }
    if (l.billed_requests !== null) billed.requests = (billed.requests ?? 0) + l.billed_requests;
    metered.calls += l.calls;
  }
  const coverage = Object.fromEntries(
    KINDS.map((k) => [
      k,
      billed[k] > 0
        ? new Money(covered[k]).div(billed[k]).toDecimalPlaces(6, Money.ROUND_DOWN).toFixed()
        : null,
    ]),
  ) as Record<keyof TokenTotals, string | null>;
  const counts = Object.fromEntries(
    TOKEN_STATUSES.map((s) => [s, lines.filter((l) => l.status === s).length]),
  ) as Record<TokenStatus, number>;
  return { days_covered: daysCovered, billed, metered, coverage, lines: counts };
}

export const TOKEN_CSV_COLUMNS = [
  'provider',
  'day',
  'model',
  'project',
  'status',
  'billed_input_tokens',
  'metered_input_tokens',
  'billed_cached_input_tokens',
  'metered_cached_input_tokens',
  'billed_output_tokens',
  'metered_output_tokens',
  'billed_requests',
  'calls',
] as const;

/**
 * Reconciliation of imported bills with the meter, per provider × UTC day × model (× project when
 * the policy maps a provider's projects to services): billed vs metered, what the meter covers,
 * the unmetered remainder and what was metered but not billed, each line classified matched,
 * billed-only, metered-only or amount mismatch. Decision 0042 explains the rules.
 *
 * Whole UTC months are computed (with the billing-delay window of padding on either side), stored
 * as each provider × month's latest run for the dashboards, and the asked range cut from them, so
 * the API, the CLI, the report page and Grafana show the same figures.
 */
import { randomUUID } from 'node:crypto';
import type { PolicyFile } from 'tokenledger/policy';
import { daysBetween, nextDay, utcDay } from '../core/bill';
import { Money, ZERO, type Money as MoneyT } from '../core/money';
import { normaliseProvider, PROVIDER_ANTHROPIC } from '../core/providers';
import { BillStore, pruneSupersededRuns, type ReconciliationLineRow } from '../storage/bills';
import type { Storage } from '../storage/client';
import { uninstrumentedTraffic, type UninstrumentedHost } from './inventory';
import { resolvePeriod } from './period';
import { modelNormaliser, projectResolver, type ProjectMapping } from './reconciliation-keys';
import { meteredSpendByDay, meteredTierSpendByDay } from './spend';
import {
  reconcileTokens,
  summariseTokens,
  TOKEN_CSV_COLUMNS,
  type ProviderTokenReconciliation,
  type TokenReconciliationLine,
} from './token-reconciliation';

const LINE_STATUSES = ['matched', 'billed_only', 'metered_only', 'amount_mismatch'] as const;
type LineStatus = (typeof LINE_STATUSES)[number];
/**
 * Why a line is metered above its bill (free tier, batch, Flex and cached-input rates, Anthropic
 * Priority Tier calls billed under the commitment), billed above the meter (Priority tier rates),
 * or that it matched a later day's bill.
 */
type Explanation =
  | ''
  | 'billing_delay'
  | 'free_tier'
  | 'batch_discount'
  | 'flex_discount'
  | 'priority_commitment'
  | 'cache_discount'
  | 'priority_premium';
/** Reasons for metered spend the bill did not charge, and for billed spend the meter did not count. */
const NOT_BILLED_REASONS = [
  'free_tier',
  'batch_discount',
  'flex_discount',
  'priority_commitment',
  'cache_discount',
] as const satisfies readonly Explanation[];
const UNMETERED_REASONS = ['priority_premium'] as const satisfies readonly Explanation[];

export interface ReconciliationSettings {
  /** A line matches when |billed − metered| ≤ max(toleranceUsd, toleranceShare × the larger). */
  toleranceUsd: string;
  toleranceShare: string;
  /** Metered spend may match a bill dated up to this many days later. */
  billingDelayDays: number;
  projects: ProjectMapping[];
}

const DEFAULT_SETTINGS: ReconciliationSettings = {
  toleranceUsd: '0.01',
  toleranceShare: '0.01',
  billingDelayDays: 1,
  projects: [],
};

/** The policy file's `reconciliation` section, defaults where it is silent. */
export function settingsFromPolicy(policy: PolicyFile | undefined): ReconciliationSettings {
  const r = policy?.reconciliation;
  if (!r) return DEFAULT_SETTINGS;
  return {
    toleranceUsd:
      r.tolerance_usd !== undefined ? new Money(r.tolerance_usd).toFixed() : DEFAULT_SETTINGS.toleranceUsd,
    toleranceShare:
      r.tolerance_share !== undefined
        ? new Money(r.tolerance_share).toFixed()
        : DEFAULT_SETTINGS.toleranceShare,
    billingDelayDays: r.billing_delay_days ?? DEFAULT_SETTINGS.billingDelayDays,
    projects: (r.projects ?? []).map((p) => ({
      ...(p.provider ? { provider: normaliseProvider(p.provider) } : {}),
      project: p.project,
      services: Array.isArray(p.service) ? p.service : [p.service],
    })),
  };
}

interface ReconciliationLine {
  provider: string;
  day: string;
  model: string;
  project: string;
  status: LineStatus;
  explanation: Explanation;
  billed_usd: string;
  /** The meter's spend on this day. */
  metered_usd: string;
  /** Meter moved here from earlier days (billed late, > 0) or to a later day's bill (< 0). */
  late_usd: string;
  covered_usd: string;
  unmetered_usd: string;
  metered_not_billed_usd: string;
  credits_usd: string;
  other_usd: string;
  calls: number;
}

interface ProviderReconciliation {
  provider: string;
  /** Usage billed (credits, taxes and other charges apart). */
  billed_usd: string;
  metered_usd: string;
  covered_usd: string;
  /** covered ÷ billed, as a decimal string ("0.9125"); null when nothing was billed. */
  coverage: string | null;
  unmetered_usd: string;
  metered_not_billed_usd: string;
  metered_not_billed_by_reason: Record<(typeof NOT_BILLED_REASONS)[number] | 'unexplained', string>;
  /** The unmetered remainder by reason: a Priority tier's higher rate, the rest unexplained. */
  unmetered_by_reason: Record<(typeof UNMETERED_REASONS)[number] | 'unexplained', string>;
  credits_usd: string;
  other_charges_usd: string;
  /** What the bill adds up to: usage + credits + other charges. */
  invoice_total_usd: string;
  lines: Record<LineStatus, number>;
  /** Lines compared per model, and per day (model '': the bill names no model for them). */
  compared: { per_model: number; per_day: number };
  /** Bill lines left out: no rate to convert their currency to USD. */
  unconverted_lines: number;
  /** Usage billed per project / workspace / API key, largest first (where the export has one). */
  billed_by_project: Array<{ project: string; billed_usd: string }>;
  /** AI API requests no GenAI span covered (the inventory's uninstrumented traffic) for this provider. */
  uninstrumented: UninstrumentedHost[];
  days_covered: number;
  /** Billed vs metered tokens, when a usage export (OpenAI Usage API, Anthropic usage report) covers the range. */
  tokens: ProviderTokenReconciliation | null;
}

export interface ReconciliationReport {
  period: string;
  from: string;
  to: string;
  computed_at: string;
  settings: { tolerance_usd: string; tolerance_share: string; billing_delay_days: number };
  providers: ProviderReconciliation[];
  lines: ReconciliationLine[];
  /** Billed vs metered tokens per provider × day × model (× project), on days a usage export covers. */
  token_lines: TokenReconciliationLine[];
}

export interface ReconcileInput {
  period?: string;
  from?: string;
  to?: string;
  /** Only this canonical provider. */
  provider?: string;
}

const monthStart = (day: string): string => `${day.slice(0, 7)}-01`;
const nextMonth = (month: string): string => {
  const d = new Date(`${month}T00:00:00Z`);
  return utcDay(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)));
};
const addDays = (day: string, n: number): string =>
  utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000));
const min = (a: MoneyT, b: MoneyT): MoneyT => (a.lt(b) ? a : b);
const max = (a: MoneyT, b: MoneyT): MoneyT => (a.gt(b) ? a : b);

interface Cell {
  billed: MoneyT;
  metered: MoneyT;
  credits: MoneyT;
  other: MoneyT;
  calls: number;
  /** A usage row exists (possibly at 0: a free tier). */
  billedRow: boolean;
  freeTier: boolean;
  batch: boolean;
  cached: boolean;
  /** The meter's spend on calls served on a Flex / Priority tier (priced at list, the standard rate). */
  flex: MoneyT;
  priority: MoneyT;
  /** The provider's usage export has tokens of this line on a Flex / Priority tier. */
  flexExported: boolean;
  priorityExported: boolean;
  lateIn: MoneyT;
  lateOut: MoneyT;
}

const emptyCell = (): Cell => ({
  billed: ZERO,
  metered: ZERO,
  credits: ZERO,
  other: ZERO,
  calls: 0,
  billedRow: false,
  freeTier: false,
  batch: false,
  cached: false,
  flex: ZERO,
  priority: ZERO,
  flexExported: false,
  priorityExported: false,
  lateIn: ZERO,
  lateOut: ZERO,
});

export async function reconcile(
  storage: Storage,
  input: ReconcileInput,
  settings: ReconciliationSettings = DEFAULT_SETTINGS,
  now: Date = new Date(),
): Promise<ReconciliationReport> {
  const range = resolvePeriod(input, now);
  const fromDay = utcDay(range.from);
  // A range ending inside a day includes that day.
  const toDay = range.to.getTime() % 86_400_000 === 0 ? utcDay(range.to) : nextDay(utcDay(range.to));
  const firstMonth = monthStart(fromDay);
  const endMonth = nextMonth(monthStart(addDays(toDay, -1)));
  const delay = Math.max(0, Math.floor(settings.billingDelayDays));
  const padFrom = addDays(firstMonth, -delay);
  const padTo = addDays(endMonth, delay);

  const store = new BillStore(storage);
  const coverage = await store.currentCoverage(padFrom, padTo);
  const bills = await store.currentLines(padFrom, padTo);
  const usageCoverage = await store.currentCoverage(firstMonth, endMonth, 'usage');
  const usage = await store.currentUsageLines(firstMonth, endMonth);
  const metered = await meteredSpendByDay(storage, padFrom, padTo);
  const meteredTiers = await meteredTierSpendByDay(storage, padFrom, padTo);

  const daysOf = (rows: Array<{ provider: string; day: string }>): Map<string, Set<string>> => {
    const out = new Map<string, Set<string>>();
    for (const c of rows) {
      if (input.provider && c.provider !== input.provider) continue;
      let days = out.get(c.provider);
      if (!days) out.set(c.provider, (days = new Set()));
      days.add(c.day);
    }
    return out;
  };
  const covered = daysOf(coverage);
  const tokensCovered = daysOf(usageCoverage);
  const normalise = modelNormaliser();
  const projects = projectResolver(settings.projects);
  // Model granularity: a provider whose bill names no model is compared per day. Where its bill
  // names models, a day's usage line that names none (a cloud SKU the mapping does not know) is
  // compared per day with the metered spend of the models no line of that day names.
  const byModel = new Set(bills.filter((l) => l.charge === 'usage' && l.model !== '').map((l) => l.provider));
  const namedOn = new Map<string, Set<string>>();
  const unnamedOn = new Set<string>();
  for (const l of bills) {
    if (l.charge !== 'usage' || !byModel.has(l.provider)) continue;
    const key = `${l.provider}\u0000${l.day}`;
    if (l.model === '') unnamedOn.add(key);
    else {
      let models = namedOn.get(key);
      if (!models) namedOn.set(key, (models = new Set()));
      models.add(normalise(l.provider, l.model));
    }
  }
  const meteredModel = (provider: string, day: string, model: string): string => {
    if (!byModel.has(provider)) return '';
    const id = normalise(provider, model);
    const key = `${provider}\u0000${day}`;
    return unnamedOn.has(key) && !namedOn.get(key)?.has(id) ? '' : id;
  };

  // series: provider \0 model \0 project → day → cell
  const series = new Map<string, Map<string, Cell>>();
  const cell = (provider: string, model: string, project: string, day: string): Cell => {
    const key = [provider, model, project].join('\u0000');
    let days = series.get(key);
    if (!days) series.set(key, (days = new Map()));
    let c = days.get(day);
    if (!c) days.set(day, (c = emptyCell()));
    return c;
  };
  /** The cell the bill or the meter made for this key, if any: a tier only explains what is there. */
  const existing = (provider: string, model: string, project: string, day: string): Cell | undefined =>
    series.get([provider, model, project].join('\u0000'))?.get(day);
  const unconverted = new Map<string, number>();
  const billedByProject = new Map<string, Map<string, MoneyT>>();
  for (const l of bills) {
    if (!covered.get(l.provider)?.has(l.day)) continue;
    if (l.amountUsd === undefined) {
      if (l.day >= fromDay && l.day < toDay)
        unconverted.set(l.provider, (unconverted.get(l.provider) ?? 0) + 1);
      continue;
    }
    const amount = new Money(l.amountUsd);
    const model = byModel.has(l.provider) ? normalise(l.provider, l.model) : '';
    // A mapping names the bill's project, workspace or API key id, whichever the export has.
    const c = cell(l.provider, model, projects.billed(l.provider, l.project, l.apiKey), l.day);
    if (l.charge === 'usage') {
      c.billed = c.billed.plus(amount);
      c.billedRow = true;
      if (l.pricing === 'free_tier') c.freeTier = true;
      if (l.pricing === 'batch') c.batch = true;
      if (l.pricing === 'cached') c.cached = true;
      if (l.day >= fromDay && l.day < toDay) {
        let projects = billedByProject.get(l.provider);
        if (!projects) billedByProject.set(l.provider, (projects = new Map()));
        projects.set(l.project, (projects.get(l.project) ?? ZERO).plus(amount));
      }
    } else if (l.charge === 'credit') c.credits = c.credits.plus(amount);
    else c.other = c.other.plus(amount);
  }
  for (const m of metered) {
    if (!covered.get(m.provider)?.has(m.day)) continue;
    const model = meteredModel(m.provider, m.day, m.model);
    const c = cell(m.provider, model, projects.metered(m.provider, m.service), m.day);
    c.metered = c.metered.plus(m.spend_usd);
    c.calls += m.calls;
  }
  // The part of that spend served on a Flex or Priority tier: what explains a bill at another rate.
  for (const t of meteredTiers) {
    if (!covered.get(t.provider)?.has(t.day)) continue;
    const c = existing(
      t.provider,
      meteredModel(t.provider, t.day, t.model),
      projects.metered(t.provider, t.service),
      t.day,
    );
    if (!c) continue;
    if (t.tier === 'flex') c.flex = c.flex.plus(t.spend_usd);
    else c.priority = c.priority.plus(t.spend_usd);
  }
  // The provider's side of the tier: a usage export grouped by service tier (OpenAI's Usage API,
  // Anthropic's usage report) says which lines had tokens on Flex or Priority. Only lines the bill
  // or the meter has are marked.
  for (const u of usage) {
    const tier = u.tier.toLowerCase();
    if (tier !== 'flex' && tier !== 'priority') continue;
    const model = byModel.has(u.provider) ? normalise(u.provider, u.model) : '';
    const c = existing(u.provider, model, projects.billed(u.provider, u.project, u.apiKey), u.day);
    if (!c) continue;
    if (tier === 'flex') c.flexExported = true;
    else c.priorityExported = true;
  }

  // Billing delay: what a day's meter has left over pays the earliest later bill (within the
  // window) that its own day's meter did not cover.
  for (const days of series.values()) {
    const residual = new Map<string, { billed: MoneyT; metered: MoneyT }>();
    for (const [day, c] of days) {
      const same = max(ZERO, min(c.billed, c.metered));
      residual.set(day, { billed: c.billed.minus(same), metered: c.metered.minus(same) });
    }
    for (const day of [...days.keys()].sort()) {
      const r = residual.get(day)!;
      for (let k = 1; k <= delay && r.metered.gt(0); k++) {
        const later = addDays(day, k);
        const target = residual.get(later);
        if (!target || target.billed.lte(0)) continue;
        const moved = min(r.metered, target.billed);
        r.metered = r.metered.minus(moved);
        target.billed = target.billed.minus(moved);
        days.get(day)!.lateOut = days.get(day)!.lateOut.plus(moved);
        days.get(later)!.lateIn = days.get(later)!.lateIn.plus(moved);
      }
    }
  }

  const tolUsd = new Money(settings.toleranceUsd);
  const tolShare = new Money(settings.toleranceShare);
  const lines: ReconciliationLine[] = [];
  const stored: ReconciliationLineRow[] = [];
  const monthsDone = new Set<string>();
  for (const [key, days] of series) {
    const [provider, model, project] = key.split('\u0000') as [string, string, string];
    for (const [day, c] of days) {
      if (day < firstMonth || day >= endMonth) continue;
      const late = c.lateIn.minus(c.lateOut);
      const effective = c.metered.plus(late);
      const coveredUsd = max(ZERO, min(c.billed, effective));
      const diff = c.billed.minus(effective).abs();
      const tolerance = max(tolUsd, tolShare.times(max(c.billed.abs(), effective.abs())));
      const status: LineStatus = diff.lte(tolerance)
        ? 'matched'
        : effective.isZero()
          ? 'billed_only'
          : c.billed.isZero()
            ? 'metered_only'
            : 'amount_mismatch';
      const explanation = explain(provider, c, status, effective);
      const line: ReconciliationLine = {
        provider,
        day,
        model,
        project,
        status,
        explanation,
        billed_usd: c.billed.toFixed(),
        metered_usd: c.metered.toFixed(),
        late_usd: late.toFixed(),
        covered_usd: coveredUsd.toFixed(),
        unmetered_usd: c.billed.minus(coveredUsd).toFixed(),
        metered_not_billed_usd: effective.minus(coveredUsd).toFixed(),
        credits_usd: c.credits.toFixed(),
        other_usd: c.other.toFixed(),
        calls: c.calls,
      };
      stored.push(line);
      monthsDone.add(`${provider}\u0000${monthStart(day)}`);
      if (day >= fromDay && day < toDay) lines.push(line);
    }
  }
  const tokenLines = reconcileTokens({
    usage,
    metered,
    covered: tokensCovered,
    from: firstMonth,
    to: endMonth,
    toleranceShare: settings.toleranceShare,
    normalise,
    billedProject: projects.billed,
    meteredProject: projects.metered,
  });
  // Every covered month is stored, also one left with no line (a restatement that emptied it).
  for (const days of [covered, tokensCovered])
    for (const [provider, set] of days)
      for (const day of set)
        if (day >= firstMonth && day < endMonth) monthsDone.add(`${provider}\u0000${monthStart(day)}`);
  const months = [...monthsDone].map((k) => {
    const [provider, month] = k.split('\u0000') as [string, string];
    return { provider, month };
  });
  if (months.length > 0) await new BillStore(storage).saveRun(randomUUID(), months, stored, now, tokenLines);
  const tokenLinesShown = tokenLines.filter((l) => l.day >= fromDay && l.day < toDay);

  lines.sort(
    (a, b) =>
      a.provider.localeCompare(b.provider) ||
      a.day.localeCompare(b.day) ||
      a.model.localeCompare(b.model) ||
      a.project.localeCompare(b.project),
  );
  const traffic = await uninstrumentedTraffic(storage, range);
  const daysIn = (days: Set<string> | undefined): number =>
    days ? daysBetween(fromDay, toDay).filter((d) => days.has(d)).length : 0;
  const providers = [...new Set([...covered.keys(), ...tokensCovered.keys()])].sort().map((provider) => ({
    ...summarise(
      provider,
      lines.filter((l) => l.provider === provider),
      {
        unconverted: unconverted.get(provider) ?? 0,
        billedByProject: billedByProject.get(provider) ?? new Map(),
        uninstrumented: traffic.filter((t) => t.provider === provider),
        daysCovered: daysIn(covered.get(provider)),
      },
    ),
    tokens: tokensCovered.has(provider)
      ? summariseTokens(
          tokenLinesShown.filter((l) => l.provider === provider),
          daysIn(tokensCovered.get(provider)),
        )
      : null,
  }));
  return {
    period: range.period,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    computed_at: now.toISOString(),
    settings: {
      tolerance_usd: settings.toleranceUsd,
      tolerance_share: settings.toleranceShare,
      billing_delay_days: delay,
    },
    providers,
    lines,
    token_lines: tokenLinesShown,
  };
}

/**
 * Why a line's bill and meter differ, where the bill, its usage export or the meter says. A Flex
 * discount explains at most what the meter's Flex calls were metered at (a discount cannot take off
 * more than the price), and so do Anthropic's Priority Tier calls, which its cost report leaves out
 * (billed under the capacity commitment); a usage export's tier explains the line (the meter may
 * not know its calls' tier). A Priority tier's higher rate explains a bill above the meter.
 */
function explain(provider: string, c: Cell, status: LineStatus, effective: MoneyT): Explanation {
  if (status === 'matched') return !c.lateIn.isZero() || !c.lateOut.isZero() ? 'billing_delay' : '';
  if (effective.gt(c.billed)) {
    const gap = effective.minus(max(ZERO, c.billed));
    if (c.freeTier || (c.billedRow && c.billed.isZero())) return 'free_tier';
    if (c.batch) return 'batch_discount';
    if (c.flexExported || (c.flex.gt(0) && gap.lte(c.flex))) return 'flex_discount';
    if (provider === PROVIDER_ANTHROPIC && (c.priorityExported || (c.priority.gt(0) && gap.lte(c.priority))))
      return 'priority_commitment';
    if (c.cached) return 'cache_discount';
    return '';
  }
  return c.billed.gt(effective) && (c.priority.gt(0) || c.priorityExported) ? 'priority_premium' : '';
}

function summarise(
  provider: string,
  lines: ReconciliationLine[],
  extra: {
    unconverted: number;
    billedByProject: Map<string, MoneyT>;
    uninstrumented: UninstrumentedHost[];
    daysCovered: number;
  },
): Omit<ProviderReconciliation, 'tokens'> {
  const sum = (pick: (l: ReconciliationLine) => string, only?: (l: ReconciliationLine) => boolean): MoneyT =>
    lines.filter(only ?? (() => true)).reduce((s, l) => s.plus(pick(l)), ZERO);
  const billed = sum((l) => l.billed_usd);
  const coveredUsd = sum((l) => l.covered_usd);
  const credits = sum((l) => l.credits_usd);
  const other = sum((l) => l.other_usd);
  const notBilled = (reason: Explanation) =>
    sum(
      (l) => l.metered_not_billed_usd,
      (l) => l.explanation === reason,
    );
  const metered_not_billed = sum((l) => l.metered_not_billed_usd);
  const byReason = (
    reasons: readonly Explanation[],
    total: MoneyT,
    amount: (reason: Explanation) => MoneyT,
  ): Record<string, string> => {
    const out: Record<string, string> = {};
    let rest = total;
    for (const r of reasons) {
      const v = amount(r);
      out[r] = v.toFixed();
      rest = rest.minus(v);
    }
    out.unexplained = rest.toFixed();
    return out;
  };
  const unmeteredOf = (reason: Explanation) =>
    sum(
      (l) => l.unmetered_usd,
      (l) => l.explanation === reason,
    );
  const counts = Object.fromEntries(
    LINE_STATUSES.map((s) => [s, lines.filter((l) => l.status === s).length]),
  ) as Record<LineStatus, number>;
  return {
    provider,
    billed_usd: billed.toFixed(),
    metered_usd: sum((l) => l.metered_usd).toFixed(),
    covered_usd: coveredUsd.toFixed(),
    coverage: billed.gt(0) ? coveredUsd.div(billed).toDecimalPlaces(6, Money.ROUND_DOWN).toFixed() : null,
    unmetered_usd: billed.minus(coveredUsd).toFixed(),
    metered_not_billed_usd: metered_not_billed.toFixed(),
    metered_not_billed_by_reason: byReason(
      NOT_BILLED_REASONS,
      metered_not_billed,
      notBilled,
    ) as ProviderReconciliation['metered_not_billed_by_reason'],
    unmetered_by_reason: byReason(
      UNMETERED_REASONS,
      billed.minus(coveredUsd),
      unmeteredOf,
    ) as ProviderReconciliation['unmetered_by_reason'],
    credits_usd: credits.toFixed(),
    other_charges_usd: other.toFixed(),
    invoice_total_usd: billed.plus(credits).plus(other).toFixed(),
    lines: counts,
    compared: {
      per_model: lines.filter((l) => l.model !== '').length,
      per_day: lines.filter((l) => l.model === '').length,
    },
    unconverted_lines: extra.unconverted,
    billed_by_project: [...extra.billedByProject]
      .filter(([project]) => project !== '')
      .sort((a, b) => b[1].comparedTo(a[1]) || a[0].localeCompare(b[0]))
      .map(([project, amount]) => ({ project, billed_usd: amount.toFixed() })),
    uninstrumented: extra.uninstrumented,
    days_covered: extra.daysCovered,
  };
}

const CSV_COLUMNS = [
  'provider',
  'day',
  'model',
  'project',
  'status',
  'explanation',
  'billed_usd',
  'metered_usd',
  'late_usd',
  'covered_usd',
  'unmetered_usd',
  'metered_not_billed_usd',
  'credits_usd',
  'other_usd',
  'calls',
] as const;

/**
 * The report's lines as CSV, one row per provider × day × model (× project): the money lines, or
 * with `tokens` the token lines.
 */
export function reconciliationCsv(
  report: ReconciliationReport,
  what: 'amounts' | 'tokens' = 'amounts',
): string {
  const escape = (v: string | number | null): string => {
    const s = v === null ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const table = <C extends string>(columns: readonly C[], rows: Array<Record<C, string | number | null>>) =>
    [columns.join(','), ...rows.map((r) => columns.map((c) => escape(r[c])).join(','))].join('\n') + '\n';
  return what === 'tokens' ? table(TOKEN_CSV_COLUMNS, report.token_lines) : table(CSV_COLUMNS, report.lines);
}

/**
 * Recomputes the stored reconciliation of the current month and the two before it, so the
 * dashboards follow spans that arrive after an import and a policy's new tolerance, and deletes the
 * lines of the runs it supersedes.
 */
export class ReconciliationRefresher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly deps: {
      storage: Storage;
      settings: () => ReconciliationSettings;
      log: (line: string) => void;
    },
  ) {}

  start(everyMs: number): void {
    if (everyMs <= 0) return;
    this.timer = setInterval(() => void this.refresh(), everyMs);
    this.timer.unref();
  }

  refresh(now: Date = new Date()): Promise<void> {
    this.running ??= (async () => {
      try {
        const from = utcDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1)));
        const to = utcDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));
        if ((await new BillStore(this.deps.storage).billedMonths(from)).length === 0) return;
        await reconcile(this.deps.storage, { from, to }, this.deps.settings(), now);
        // Only each month's latest run is read: the older ones' lines go (runs of the last hour stay).
        await pruneSupersededRuns(this.deps.storage, from, to, new Date(now.getTime() - 3_600_000));
      } catch (err) {
        this.deps.log(`reconciliation refresh: ${(err as Error).message}`);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

/**
 * Expected panel results computed from the seed in TypeScript (Decimal for money), following the
 * panels' documented semantics — never by running SQL.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import type { MacroContext } from '../../dashboards/src/index';
import { catalogPrices } from '../../collector/src/storage/model-prices/prices';
import {
  EXTRA_PRICES,
  PRICES_AT,
  SAVINGS_ALTERNATIVES,
  type Seed,
  type SeedCall,
  type SeedPoint,
  type SeedReconLine,
  type SeedTokenLine,
} from './seed';

export type Cell = Decimal | Approx | number | string | null;
export type Row = Record<string, Cell>;
export class Approx {
  /** `relative`: how far the panel may be (a sketch's figure, e.g. a quantile from a histogram). */
  constructor(
    readonly value: number,
    readonly relative = 1e-9,
  ) {}
}
/**
 * ClickHouse's quantileBFloat16: each value cut to its float32's upper 16 bits (8 significant bits),
 * then the first value whose running count reaches ceil(level × count).
 */
function bfloat16Quantile(sortedValues: number[], level: number): number {
  const view = new DataView(new ArrayBuffer(4));
  const cut = sortedValues.map((v) => {
    view.setFloat32(0, v);
    view.setUint16(2, 0);
    return view.getFloat32(0);
  });
  return cut[Math.max(Math.ceil(cut.length * level), 1) - 1]!;
}

const approx = (part: Decimal.Value, whole: Decimal.Value): Approx =>
  new Approx(new Decimal(whole).isZero() ? 0 : new Decimal(part).div(whole).toNumber());

const D = (v: Decimal.Value): Decimal => new Decimal(v);
const sum = (xs: Decimal.Value[]): Decimal => xs.reduce<Decimal>((a, x) => a.plus(x), D(0));
/** ClickHouse Decimal(38,18) division: truncated to 18 places. */
const div18 = (a: Decimal, b: Decimal.Value): Decimal => a.div(b).toDecimalPlaces(18, Decimal.ROUND_DOWN);

const sec = (d: Date): number => Math.floor(d.getTime() / 1000);
const hourOf = (c: SeedCall): number => Math.floor(c.at.getTime() / 3_600_000) * 3600;
const nanosOf = (c: SeedCall): number => Number(c.start_time.slice(20));
const chTime = (epochSeconds: number): string =>
  new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
const label = (v: string, empty = '(unattributed)'): string => (v === '' ? empty : v);

/** $__timeFilter(hour) on the rollup: the call's hour, in whole seconds. */
export const inHourRange = (c: SeedCall, ctx: MacroContext): boolean =>
  hourOf(c) >= sec(ctx.from) && hourOf(c) <= sec(ctx.to);
/** $__timeFilter(start_time) on the raw table (DateTime64(9) against whole seconds). */
export const inRawRange = (c: SeedCall, ctx: MacroContext): boolean => {
  const s = c.at.getTime() / 1000;
  return s >= sec(ctx.from) && (s < sec(ctx.to) || (s === sec(ctx.to) && nanosOf(c) === 0));
};
const inTimeRange = (chDateTime: string, ctx: MacroContext): boolean => {
  const ms = Date.parse(`${chDateTime.replace(' ', 'T')}Z`);
  return ms >= sec(ctx.from) * 1000 && ms <= sec(ctx.to) * 1000;
};

function selected(ctx: MacroContext, name: string): string[] | null {
  const v = ctx.variables[name] ?? [];
  return v.length === 0 || v.includes('$__all') ? null : v;
}
const matchesVariables = (c: SeedCall, ctx: MacroContext): boolean =>
  (['team', 'environment', 'feature'] as const).every((k) => {
    const values = selected(ctx, k);
    return values === null || values.includes(c[k]);
  });

const rollupModel = (c: SeedCall): string => c.priced_model || c.response_model || c.request_model;

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return m;
}
const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const bySpendThen = (k: string) => (a: Row, b: Row) =>
  (b.spend_usd as Decimal).cmp(a.spend_usd as Decimal) || cmpStr(a[k] as string, b[k] as string);

/** Distinct values in byte order (ClickHouse's arraySort of strings). */
const distinct = (values: string[]): string[] => [...new Set(values)].sort(cmpStr);
const spend = (cs: SeedCall[]): Decimal => sum(cs.map((c) => c.cost_usd));
const calls = (cs: SeedCall[]): number => cs.length;
const bucket = (c: SeedCall, seconds: number): number => Math.floor(hourOf(c) / seconds) * seconds;
const teamBucket = (ctx: MacroContext): number =>
  Math.max(Math.max(Math.floor(ctx.intervalSeconds), 1), 3600);

/**
 * The burn-down table read with FINAL (the latest computed_at per bucket), then per (scope, policy)
 * the latest point with at in (to − 7 days, to + 1 s].
 */
function finalPoints(seed: Seed): SeedPoint[] {
  const byBucket = groupBy(seed.burndown, (p) =>
    [p.scope, p.policy, p.period_start, p.bucket_start].join('\u0000'),
  );
  return [...byBucket.values()].map((list) => list.reduce((b, p) => (p.computed_at > b.computed_at ? p : b)));
}
const atMs = (at: string): number => Date.parse(`${at.replace(' ', 'T')}Z`);
function latestPoints(seed: Seed, ctx: MacroContext, scope: string): SeedPoint[] {
  const toMs = sec(ctx.to) * 1000;
  const visible = finalPoints(seed).filter(
    (p) => p.scope === scope && atMs(p.at) <= toMs + 1000 && atMs(p.at) > toMs - 7 * 86_400_000,
  );
  return [...groupBy(visible, (p) => p.policy).values()].map((list) =>
    list.reduce((best, p) => (p.at > best.at ? p : best)),
  );
}
const sumOf = (points: SeedPoint[], k: 'spent_usd' | 'forecast_usd' | 'limit_usd'): Decimal | null =>
  points.length === 0 ? null : sum(points.map((p) => p[k] ?? 0));

function latestApprovals(seed: Seed) {
  return [...groupBy(seed.approvals, (a) => a.id).values()].map((l) =>
    l.reduce((b, a) => (a.version > b.version ? a : b)),
  );
}

type Expect = (seed: Seed, ctx: MacroContext) => Row[];

/** List-price cost of calls' tokens at a price row (cache reads at the cache price), as ClickHouse truncates it. */
function listCostOf(
  p: { input_mtok: string; output_mtok: string; cache_read_mtok: string },
  cs: SeedCall[],
): Decimal {
  const input = cs.reduce((a, c) => a + c.input_tokens, 0);
  const cached = cs.reduce((a, c) => a + c.cache_read_tokens, 0);
  const output = cs.reduce((a, c) => a + c.output_tokens, 0);
  return div18(
    D(input - cached)
      .mul(p.input_mtok)
      .plus(D(cached).mul(p.cache_read_mtok))
      .plus(D(output).mul(p.output_mtok)),
    1_000_000,
  );
}
/** Issue 25: each provider × month's latest run, its lines on the range's UTC days. */
/** The lines of each provider × month's latest run, on the range's days (as the panels read them). */
function latestRunLines<L extends { run_id: string; provider: string; day: string }>(
  seed: Seed,
  lines: L[],
  ctx: MacroContext,
): L[] {
  const latest = new Map<string, { run: string; at: string }>();
  for (const r of seed.runs) {
    const k = `${r.provider}\u0000${r.month}`;
    const best = latest.get(k);
    if (!best || r.computed_at > best.at) latest.set(k, { run: r.run_id, at: r.computed_at });
  }
  const from = ctx.from.toISOString().slice(0, 10);
  const to = ctx.to.toISOString().slice(0, 10);
  return lines.filter(
    (l) =>
      latest.get(`${l.provider}\u0000${l.day.slice(0, 7)}-01`)?.run === l.run_id &&
      l.day >= from &&
      l.day <= to,
  );
}
const currentReconLines = (seed: Seed, ctx: MacroContext): SeedReconLine[] =>
  latestRunLines(seed, seed.reconLines, ctx);
const currentTokenLines = (seed: Seed, ctx: MacroContext): SeedTokenLine[] =>
  latestRunLines(seed, seed.tokenLines, ctx);
const lineSum = (lines: SeedReconLine[], k: keyof SeedReconLine): Decimal =>
  sum(lines.map((l) => String(l[k])));
function coverageByProvider(seed: Seed, ctx: MacroContext, full: boolean): Row[] {
  return [...groupBy(currentReconLines(seed, ctx), (l) => l.provider)]
    .map(([provider, ls]) => ({
      provider,
      billed_usd: lineSum(ls, 'billed_usd'),
      metered_usd: lineSum(ls, 'metered_usd'),
      ...(full ? { covered_usd: lineSum(ls, 'covered_usd') } : {}),
      coverage_share: approx(lineSum(ls, 'covered_usd'), lineSum(ls, 'billed_usd')),
      unmetered_usd: lineSum(ls, 'unmetered_usd'),
      ...(full
        ? {
            metered_not_billed_usd: lineSum(ls, 'metered_not_billed_usd'),
            credits_usd: lineSum(ls, 'credits_usd'),
            other_charges_usd: lineSum(ls, 'other_usd'),
          }
        : {}),
    }))
    .sort((a, b) => b.billed_usd.cmp(a.billed_usd) || cmpStr(a.provider, b.provider));
}

export const EXPECTED: Record<string, Expect> = {
  'cfo-total-spend': (seed, ctx) => [{ spend_usd: spend(seed.calls.filter((c) => inHourRange(c, ctx))) }],

  'cfo-projected-month-end': (seed, ctx) => {
    const monthly = latestPoints(seed, ctx, 'budget').filter((p) => p.period === 'monthly');
    return [
      {
        month_to_date_usd: sumOf(latestPoints(seed, ctx, 'all'), 'spent_usd') ?? D(0),
        projected_usd: sumOf(latestPoints(seed, ctx, 'all'), 'forecast_usd') ?? D(0),
        budgeted_projected_usd: sumOf(monthly, 'forecast_usd') ?? D(0),
        monthly_budgets_usd: sumOf(monthly, 'limit_usd') ?? D(0),
        unbudgeted_projected_usd: sumOf(latestPoints(seed, ctx, 'unbudgeted'), 'forecast_usd') ?? D(0),
      },
    ];
  },

  'cfo-unattributed-share': (seed, ctx) => {
    const cs = seed.calls.filter((c) => inHourRange(c, ctx));
    const orphan = spend(cs.filter((c) => c.team === '' && c.cost_center === ''));
    const unpriced = cs.filter((c) => c.priced === 0).length;
    return [
      {
        unattributed_usd: orphan,
        unattributed_share: approx(orphan, spend(cs)),
        unpriced_calls: unpriced,
        unpriced_call_share: approx(unpriced, cs.length),
      },
    ];
  },

  'cfo-spend-by-team': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => label(c.team),
      ),
    ]
      .map(([team, cs]) => ({ team, spend_usd: spend(cs), calls: calls(cs) }))
      .sort(bySpendThen('team')),

  'cfo-budgets-near-cap': (seed, ctx) =>
    latestPoints(seed, ctx, 'budget')
      .map((b) => ({
        policy: b.policy,
        period: b.period,
        spent_usd: D(b.spent_usd),
        limit_usd: D(b.limit_usd!),
        forecast_usd: D(b.forecast_usd),
        used_share: approx(b.spent_usd, b.limit_usd!),
        state: b.state,
      }))
      .sort((a, b) => b.used_share.value - a.used_share.value || cmpStr(a.policy, b.policy)),

  'cfo-monthly-trend': (seed, ctx) => {
    const monthOf = (c: SeedCall): number => Date.UTC(c.at.getUTCFullYear(), c.at.getUTCMonth(), 1) / 1000;
    const first = Date.UTC(ctx.to.getUTCFullYear(), ctx.to.getUTCMonth() - 11, 1) / 1000;
    const cs = seed.calls.filter((c) => hourOf(c) >= first && hourOf(c) <= sec(ctx.to));
    return [...groupBy(cs, (c) => String(monthOf(c)))]
      .map(([m, list]) => ({ time: chTime(Number(m)), spend_usd: spend(list) }))
      .sort((a, b) => cmpStr(a.time, b.time));
  },

  'cfo-models-in-use': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => `${c.provider}\u0000${rollupModel(c)}`,
      ),
    ]
      .map(([k, cs]) => {
        const [provider, model] = k.split('\u0000') as [string, string];
        return { provider, model, calls: calls(cs), spend_usd: spend(cs) };
      })
      .sort(
        (a, b) => b.spend_usd.cmp(a.spend_usd) || cmpStr(a.provider, b.provider) || cmpStr(a.model, b.model),
      ),

  'cfo-cost-per-feature': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => label(c.feature),
      ),
    ]
      .map(([feature, cs]) => ({ feature, spend_usd: spend(cs), calls: calls(cs) }))
      .sort(bySpendThen('feature')),

  'cfo-cost-per-user': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => label(c.feature),
      ),
    ]
      .map(([feature, cs]) => {
        // Exact: uniqCombined counts small sets exactly (the error shows in the millions: the benchmark).
        const users = new Set(cs.map((c) => c.end_user).filter((u) => u !== '')).size;
        return {
          feature,
          spend_usd: spend(cs),
          users,
          cost_per_user_usd: users === 0 ? null : div18(spend(cs), users),
        };
      })
      .sort(bySpendThen('feature')),

  'cfo-cost-per-outcome': (seed, ctx) => {
    const spendByFeature = groupBy(
      seed.calls.filter((c) => inHourRange(c, ctx)),
      (c) => c.feature,
    );
    const outcomes = seed.outcomes.filter((o) => inTimeRange(o.time, ctx));
    return [...groupBy(outcomes, (o) => `${o.feature}\u0000${o.outcome}`)]
      .map(([k, list]) => {
        const [feature, outcome] = k.split('\u0000') as [string, string];
        const n = list.reduce((a, o) => a + o.count, 0);
        const s = spend(spendByFeature.get(feature) ?? []);
        return {
          feature,
          outcome,
          outcomes: n,
          outcome_value_usd: sum(list.map((o) => o.value_usd)),
          spend_usd: s,
          cost_per_outcome_usd: n === 0 ? null : div18(s, n),
        };
      })
      .sort((a, b) => cmpStr(a.feature, b.feature) || cmpStr(a.outcome, b.outcome));
  },

  'team-usage': (seed, ctx) => {
    const cs = seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx));
    const input = cs.reduce((a, c) => a + c.input_tokens, 0);
    const cached = cs.reduce((a, c) => a + c.cache_read_tokens, 0);
    const errors = cs.filter((c) => c.error_type !== '').length;
    return [
      {
        spend_usd: spend(cs),
        calls: cs.length,
        input_tokens: input,
        output_tokens: cs.reduce((a, c) => a + c.output_tokens, 0),
        cache_read_tokens: cached,
        error_calls: errors,
        cache_hit_share: approx(cached, input),
        error_rate: approx(errors, cs.length),
      },
    ];
  },

  'team-spend-over-time': (seed, ctx) => {
    const cs = seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx));
    return [...groupBy(cs, (c) => `${bucket(c, teamBucket(ctx))}\u0000${label(c.feature)}`)]
      .map(([k, list]) => {
        const [t, feature] = k.split('\u0000') as [string, string];
        return { time: chTime(Number(t)), feature, spend_usd: spend(list) };
      })
      .sort((a, b) => cmpStr(a.time, b.time) || cmpStr(a.feature, b.feature));
  },

  ...Object.fromEntries(
    (['feature', 'model', 'environment'] as const).map((col) => [
      `team-spend-by-${col}`,
      ((seed, ctx) =>
        [
          ...groupBy(
            seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx)),
            (c) => label(col === 'model' ? rollupModel(c) : c[col]),
          ),
        ]
          .map(([v, cs]) => ({ [col]: v, spend_usd: spend(cs), calls: calls(cs) }))
          .sort(bySpendThen(col))) as Expect,
    ]),
  ),

  'team-latency-p95': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx)),
        rollupModel,
      ),
    ]
      .map(([model, cs]) => {
        const sorted = cs.map((c) => c.duration_ms).sort((a, b) => a - b);
        const exact = sorted[Math.min(Math.floor(0.95 * sorted.length), sorted.length - 1)]!;
        const p95 = bfloat16Quantile(sorted, 0.95);
        assert.ok(Math.abs(p95 - exact) <= 0.01 * exact, `p95 ${p95} within 1 % of ${exact}`);
        return {
          model,
          calls: cs.length,
          p95_ms: new Approx(p95),
        };
      })
      .sort((a, b) => b.p95_ms.value - a.p95_ms.value || cmpStr(a.model, b.model)),

  'team-error-rate': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx)),
        (c) => String(bucket(c, teamBucket(ctx))),
      ),
    ]
      .map(([t, cs]) => ({
        time: chTime(Number(t)),
        error_rate: approx(cs.filter((c) => c.error_type !== '').length, cs.length),
      }))
      .sort((a, b) => cmpStr(a.time, b.time)),

  'team-top-customers': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx) && matchesVariables(c, ctx)),
        (c) => label(c.customer, '(none)'),
      ),
    ]
      .map(([customer, cs]) => ({ customer, spend_usd: spend(cs), calls: calls(cs) }))
      .sort(bySpendThen('customer'))
      .slice(0, 10),

  'team-enforcement': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter(
          (c) =>
            inHourRange(c, ctx) &&
            matchesVariables(c, ctx) &&
            ['blocked', 'downgraded', 'clamped'].includes(c.enforcement),
        ),
        (c) => `${c.enforcement}\u0000${label(c.feature)}`,
      ),
    ]
      .map(([k, cs]) => {
        const [enforcement, feature] = k.split('\u0000') as [string, string];
        return { enforcement, feature, calls: cs.length };
      })
      .sort(
        (a, b) => b.calls - a.calls || cmpStr(a.enforcement, b.enforcement) || cmpStr(a.feature, b.feature),
      ),

  'models-cost-by-provider': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => c.provider,
      ),
    ]
      .map(([provider, cs]) => ({ provider, spend_usd: spend(cs) }))
      .sort(bySpendThen('provider')),

  'models-cost-mix': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => `${c.provider}\u0000${rollupModel(c)}`,
      ),
    ]
      .map(([k, cs]) => {
        const [provider, model] = k.split('\u0000') as [string, string];
        const total = spend(cs);
        const input = sum(cs.map((c) => c.input_cost_usd));
        const output = sum(cs.map((c) => c.output_cost_usd));
        return {
          provider,
          model,
          calls: cs.length,
          spend_usd: total,
          input_cost_usd: input,
          output_cost_usd: output,
          input_cost_share: approx(input, total),
          output_cost_share: approx(output, total),
          cached_input_share: approx(
            cs.reduce((a, c) => a + c.cache_read_tokens, 0),
            cs.reduce((a, c) => a + c.input_tokens, 0),
          ),
        };
      })
      .sort(
        (a, b) => b.spend_usd.cmp(a.spend_usd) || cmpStr(a.provider, b.provider) || cmpStr(a.model, b.model),
      ),

  'models-savings': (seed, ctx) => {
    const prices = [...catalogPrices(PRICES_AT), ...EXTRA_PRICES];
    const price = (provider: string, model: string) =>
      prices.find((p) => p.provider === provider && p.model === model);
    const rows: Row[] = [];
    for (const [k, cs] of groupBy(
      seed.calls.filter((c) => inHourRange(c, ctx)),
      (c) => `${c.provider}\u0000${rollupModel(c)}`,
    )) {
      const [provider, model] = k.split('\u0000') as [string, string];
      const own = price(provider, model);
      const listed = SAVINGS_ALTERNATIVES[model];
      let best: { model: string; cost: Decimal } | undefined;
      if (own) {
        const ownCost = listCostOf(own, cs);
        for (const alt of prices) {
          const acceptable = listed
            ? listed.includes(alt.model)
            : alt.provider === provider &&
              alt.family === own.family &&
              alt.model !== model &&
              D(alt.input_mtok).lte(own.input_mtok) &&
              D(alt.output_mtok).lte(own.output_mtok) &&
              (D(alt.input_mtok).lt(own.input_mtok) || D(alt.output_mtok).lt(own.output_mtok)) &&
              alt.preview === 0;
          if (!acceptable) continue;
          const cost = listCostOf(alt, cs);
          if (!cost.lt(ownCost)) continue;
          if (!best || cost.lt(best.cost) || (cost.eq(best.cost) && alt.model < best.model))
            best = { model: alt.model, cost };
        }
        rows.push({
          provider,
          model,
          calls: cs.length,
          spend_usd: spend(cs),
          list_cost_usd: best ? ownCost : null,
          cheaper_model: best?.model ?? null,
          alternative_source: best ? (listed ? 'policy' : 'family') : null,
          cheaper_list_cost_usd: best?.cost ?? null,
          list_savings_usd: best ? ownCost.minus(best.cost) : null,
        });
      } else
        rows.push({
          provider,
          model,
          calls: cs.length,
          spend_usd: spend(cs),
          list_cost_usd: null,
          cheaper_model: null,
          alternative_source: null,
          cheaper_list_cost_usd: null,
          list_savings_usd: null,
        });
    }
    const saving = (r: Row) => r.list_savings_usd as Decimal | null;
    return rows.sort(
      (a, b) =>
        (saving(a) === null ? 1 : 0) - (saving(b) === null ? 1 : 0) ||
        (saving(a) && saving(b) ? saving(b)!.cmp(saving(a)!) : 0) ||
        (b.spend_usd as Decimal).cmp(a.spend_usd as Decimal) ||
        cmpStr(a.provider as string, b.provider as string) ||
        cmpStr(a.model as string, b.model as string),
    );
  },

  'models-downgrades-saved': (seed, ctx) => {
    const prices = [...catalogPrices(PRICES_AT), ...EXTRA_PRICES];
    const price = (provider: string, model: string) =>
      prices.find((p) => p.provider === provider && p.model === model);
    const downgraded = seed.calls.filter(
      (c) =>
        inHourRange(c, ctx) &&
        c.enforcement === 'downgraded' &&
        c.asked_model !== '' &&
        c.asked_model !== c.request_model,
    );
    return [...groupBy(downgraded, (c) => `${c.provider}\u0000${c.asked_model}\u0000${rollupModel(c)}`)]
      .map(([k, cs]): Row => {
        const [provider, asked, model] = k.split('\u0000') as [string, string, string];
        const a = price(provider, asked);
        const p = price(provider, model);
        const askedCost = a ? listCostOf(a, cs) : null;
        const cost = p ? listCostOf(p, cs) : null;
        return {
          asked_model: asked,
          model,
          calls: cs.length,
          spend_usd: spend(cs),
          asked_list_cost_usd: askedCost,
          list_cost_usd: cost,
          downgrade_saved_usd: askedCost && cost ? askedCost.minus(cost) : null,
        };
      })
      .sort(
        (a, b) =>
          (a.downgrade_saved_usd === null ? 1 : 0) - (b.downgrade_saved_usd === null ? 1 : 0) ||
          (a.downgrade_saved_usd && b.downgrade_saved_usd
            ? (b.downgrade_saved_usd as Decimal).cmp(a.downgrade_saved_usd as Decimal)
            : 0) ||
          cmpStr(a.asked_model as string, b.asked_model as string) ||
          cmpStr(a.model as string, b.model as string),
      );
  },

  'models-tokens-over-time': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inHourRange(c, ctx)),
        (c) => String(bucket(c, teamBucket(ctx))),
      ),
    ]
      .map(([t, cs]) => {
        const input = cs.reduce((a, c) => a + c.input_tokens, 0);
        const cached = cs.reduce((a, c) => a + c.cache_read_tokens, 0);
        return {
          time: chTime(Number(t)),
          uncached_input_tokens: input - cached,
          cached_input_tokens: cached,
          output_tokens: cs.reduce((a, c) => a + c.output_tokens, 0),
        };
      })
      .sort((a, b) => cmpStr(a.time, b.time)),

  'budgets-current': (seed, ctx) =>
    latestPoints(seed, ctx, 'budget')
      .map((b) => ({
        policy: b.policy,
        period: b.period,
        period_start: b.period_start,
        period_end: b.period_end,
        spent_usd: D(b.spent_usd),
        limit_usd: D(b.limit_usd!),
        limit_source: b.limit_source,
        remaining_usd: Decimal.max(D(b.limit_usd!).minus(b.spent_usd), 0),
        forecast_usd: D(b.forecast_usd),
        forecast_low_usd: D(b.forecast_low_usd),
        forecast_high_usd: D(b.forecast_high_usd),
        breach_at: b.breach_at,
        used_share: approx(b.spent_usd, b.limit_usd!),
        state: b.state,
      }))
      .sort((a, b) => b.used_share.value - a.used_share.value || cmpStr(a.policy, b.policy)),

  ...Object.fromEntries(
    (['burndown', 'forecast'] as const).map((kind) => [
      `budgets-${kind}`,
      ((seed, ctx) => {
        const step = Math.max(Math.floor(ctx.intervalSeconds), 3600);
        const visible = finalPoints(seed).filter(
          (p) =>
            p.scope === 'budget' &&
            atMs(p.at) > sec(ctx.from) * 1000 &&
            atMs(p.at) <= sec(ctx.to) * 1000 + 1000,
        );
        return [
          ...groupBy(
            visible,
            (p) => `${Math.floor(atMs(p.bucket_start) / 1000 / step) * step}\u0000${p.policy}`,
          ),
        ]
          .map(([k, list]): Row => {
            const [t, policy] = k.split('\u0000') as [string, string];
            const last = list.reduce((b, p) => (p.at > b.at ? p : b));
            return kind === 'burndown'
              ? {
                  time: chTime(Number(t)),
                  policy,
                  remaining_usd: Decimal.max(D(last.limit_usd!).minus(last.spent_usd), 0),
                }
              : {
                  time: chTime(Number(t)),
                  policy,
                  forecast_share_of_limit: approx(last.forecast_usd, last.limit_usd!),
                };
          })
          .sort(
            (a, b) =>
              cmpStr(a.time as string, b.time as string) || cmpStr(a.policy as string, b.policy as string),
          );
      }) as Expect,
    ]),
  ),

  'team-baselines': (seed, ctx) => {
    const HOUR = 3600;
    const hourOfTime = (t: string): number => Math.floor(atMs(t) / 1000 / HOUR) * HOUR;
    const all = [...seed.baselines].sort((a, b) => cmpStr(a.at, b.at) || cmpStr(a.id, b.id));
    const unique = [...new Map(all.map((b) => [`${b.feature}\u0000${b.id}`, b])).values()];
    const lo = sec(ctx.from) - 8 * 86_400;
    const hi = sec(ctx.to) + 8 * 86_400;
    const feature = selected(ctx, 'feature');
    const rows: Row[] = [];
    for (const b of unique) {
      if (!inTimeRange(b.at, ctx) || (feature !== null && !feature.includes(b.feature))) continue;
      const same = unique.filter((x) => x.feature === b.feature);
      const i = same.indexOf(b);
      const hour = hourOfTime(b.at);
      const beforeFrom = Math.max(hour - 7 * 86_400, i > 0 ? hourOfTime(same[i - 1]!.at) + HOUR : 0);
      const afterTo = Math.min(
        hour + HOUR + 7 * 86_400,
        i < same.length - 1 ? hourOfTime(same[i + 1]!.at) : Infinity,
      );
      const isBefore = (h: number) => h >= beforeFrom && h < hour;
      const isAfter = (h: number) => h > hour && h < afterTo;
      const calls = seed.calls.filter(
        (c) =>
          c.feature === b.feature &&
          hourOf(c) >= lo &&
          hourOf(c) <= hi &&
          (['team', 'environment'] as const).every((k) => {
            const v = selected(ctx, k);
            return v === null || v.includes(c[k]);
          }),
      );
      const side = (f: (h: number) => boolean) => calls.filter((c) => f(hourOf(c)));
      const [cb, ca] = [side(isBefore), side(isAfter)];
      const tokens = (cs: SeedCall[]) => cs.reduce((a, c) => a + c.input_tokens + c.output_tokens, 0);
      const outs = seed.outcomes.filter((o) => {
        const t = atMs(o.time) / 1000;
        return o.feature === b.feature && t >= lo && t <= hi;
      });
      const count = (f: (h: number) => boolean) =>
        outs.filter((o) => f(hourOfTime(o.time))).reduce((a, o) => a + o.count, 0);
      const has = calls.length > 0;
      const perCallBefore = has && cb.length > 0 ? div18(spend(cb), cb.length) : null;
      const perCallAfter = has && ca.length > 0 ? div18(spend(ca), ca.length) : null;
      const ob = outs.length > 0 ? count(isBefore) : null;
      const oa = outs.length > 0 ? count(isAfter) : null;
      rows.push({
        feature: b.feature,
        label: b.label,
        at: b.at,
        source: b.source,
        calls_before: has ? cb.length : null,
        calls_after: has ? ca.length : null,
        cost_per_call_before_usd: perCallBefore,
        cost_per_call_after_usd: perCallAfter,
        cost_per_call_change:
          perCallBefore && perCallAfter && !spend(cb).isZero()
            ? new Approx(perCallAfter.toNumber() / perCallBefore.toNumber() - 1)
            : null,
        tokens_per_call_before: has && cb.length > 0 ? new Approx(tokens(cb) / cb.length) : null,
        tokens_per_call_after: has && ca.length > 0 ? new Approx(tokens(ca) / ca.length) : null,
        outcomes_before: ob,
        outcomes_after: oa,
        cost_per_outcome_before_usd: has && ob ? div18(spend(cb), ob) : null,
        cost_per_outcome_after_usd: has && oa ? div18(spend(ca), oa) : null,
      });
    }
    return rows.sort(
      (a, b) =>
        cmpStr(b.at as string, a.at as string) ||
        cmpStr(a.feature as string, b.feature as string) ||
        cmpStr(a.label as string, b.label as string),
    );
  },

  'approvals-pending': (seed) =>
    latestApprovals(seed)
      .filter((a) => a.status === 'pending')
      .sort((a, b) => cmpStr(a.created_at, b.created_at) || cmpStr(a.id, b.id))
      .map((a) => ({
        id: a.id,
        job: a.job,
        requester: a.requester,
        approver: a.approver,
        cost_center: a.cost_center,
        estimated_usd: D(a.estimated_usd),
        created_at: a.created_at,
        justification: a.justification,
      })),

  'approvals-decided': (seed, ctx) =>
    latestApprovals(seed)
      .filter((a) => a.status !== 'pending' && a.decided_at !== null && inTimeRange(a.decided_at, ctx))
      .sort((a, b) => cmpStr(b.decided_at ?? '', a.decided_at ?? '') || cmpStr(a.id, b.id))
      .map((a) => ({
        id: a.id,
        job: a.job,
        status: a.status,
        decided_by: a.decided_by,
        cost_center: a.cost_center,
        estimated_usd: D(a.estimated_usd),
        approved_usd: D(a.approved_usd),
        spent_usd: D(a.spent_usd),
        decided_at: a.decided_at,
      })),
  'cfo-bill-coverage': (seed, ctx) => coverageByProvider(seed, ctx, false),
  'bill-coverage-by-provider': (seed, ctx) => coverageByProvider(seed, ctx, true),
  'cfo-ai-outside-api': (seed, ctx) => {
    const current = new Map<string, { id: string; at: string }>();
    for (const imp of seed.expenseImports)
      for (const day of imp.days) {
        const k = `${imp.source} ${day}`;
        if (!current.has(k) || imp.imported_at > current.get(k)!.at)
          current.set(k, { id: imp.import_id, at: imp.imported_at });
      }
    const from = ctx.from.toISOString().slice(0, 10);
    const to = ctx.to.toISOString().slice(0, 10);
    const lines = seed.expenses.filter(
      (e) =>
        e.vendor !== '' &&
        current.get(`${e.source} ${e.day}`)?.id === e.import_id &&
        e.day >= from &&
        e.day <= to,
    );
    return [...groupBy(lines, (e) => `${e.vendor}\u0000${e.product}`)]
      .map(([k, es]) => {
        const [vendor, product] = k.split('\u0000') as [string, string];
        return {
          vendor,
          product,
          owners: new Set(es.map((e) => e.employee || e.department)).size,
          charges: es.length,
          spend_usd: sum(es.map((e) => e.amount_usd!)),
        };
      })
      .sort(
        (a, b) => b.spend_usd.cmp(a.spend_usd) || cmpStr(a.vendor, b.vendor) || cmpStr(a.product, b.product),
      );
  },
  'bill-daily': (seed, ctx) =>
    [...groupBy(currentReconLines(seed, ctx), (l) => l.day)]
      .sort((a, b) => cmpStr(a[0], b[0]))
      .map(([day, ls]) => ({
        time: `${day} 00:00:00`,
        billed_usd: lineSum(ls, 'billed_usd'),
        metered_usd: lineSum(ls, 'metered_usd'),
      })),
  'bill-metered-not-billed': (seed, ctx) => {
    const known = ['free_tier', 'batch_discount', 'flex_discount', 'priority_commitment', 'cache_discount'];
    const ls = currentReconLines(seed, ctx).filter((l) => D(l.metered_not_billed_usd).gt(0));
    return [
      ...groupBy(
        ls,
        (l) => `${l.provider}\u0000${known.includes(l.explanation) ? l.explanation : 'unexplained'}`,
      ),
    ]
      .map(([k, group]) => {
        const [provider, reason] = k.split('\u0000') as [string, string];
        return { provider, reason, metered_not_billed_usd: lineSum(group, 'metered_not_billed_usd') };
      })
      .sort((a, b) => cmpStr(a.provider, b.provider) || cmpStr(a.reason, b.reason));
  },
  'bill-unmatched-lines': (seed, ctx) =>
    currentReconLines(seed, ctx)
      .filter((l) => l.status !== 'matched' || l.explanation !== '')
      .sort(
        (a, b) =>
          D(b.unmetered_usd).cmp(a.unmetered_usd) ||
          D(b.metered_not_billed_usd).cmp(a.metered_not_billed_usd) ||
          cmpStr(a.provider, b.provider) ||
          cmpStr(a.day, b.day) ||
          cmpStr(a.model, b.model) ||
          cmpStr(a.project, b.project),
      )
      .slice(0, 500)
      .map((l) => ({
        provider: l.provider,
        line_day: l.day,
        model: l.model,
        project: l.project,
        status: l.status,
        explanation: l.explanation,
        billed_usd: D(l.billed_usd),
        metered_usd: D(l.metered_usd),
        late_usd: D(l.late_usd),
        unmetered_usd: D(l.unmetered_usd),
        metered_not_billed_usd: D(l.metered_not_billed_usd),
      })),
  'bill-uninstrumented': (seed, ctx) => {
    const inRange = seed.httpCalls.filter((h) => inTimeRange(h.start_time, ctx));
    return [...groupBy(inRange, (h) => `${h.provider}\u0000${h.service}\u0000${h.host}`)]
      .map(([k, hs]) => {
        const [provider, service, host] = k.split('\u0000') as [string, string, string];
        return { provider, service, host, requests: new Set(hs.map((h) => h.trace_id + h.span_id)).size };
      })
      .sort(
        (a, b) =>
          b.requests - a.requests ||
          cmpStr(a.provider, b.provider) ||
          cmpStr(a.service, b.service) ||
          cmpStr(a.host, b.host),
      );
  },
  'bill-tokens-by-provider': (seed, ctx) =>
    [...groupBy(currentTokenLines(seed, ctx), (l) => l.provider)]
      .map(([provider, ls]) => {
        const total = (pick: (l: SeedTokenLine) => number): number => ls.reduce((n, l) => n + pick(l), 0);
        const billedIn = total((l) => l.billed_input_tokens);
        const billedOut = total((l) => l.billed_output_tokens);
        return {
          provider,
          billed_input_tokens: billedIn,
          metered_input_tokens: total((l) => l.metered_input_tokens),
          input_coverage_share: approx(
            total((l) => Math.min(l.billed_input_tokens, l.metered_input_tokens)),
            billedIn,
          ),
          billed_cached_input_tokens: total((l) => l.billed_cached_input_tokens),
          metered_cached_input_tokens: total((l) => l.metered_cached_input_tokens),
          billed_output_tokens: billedOut,
          metered_output_tokens: total((l) => l.metered_output_tokens),
          output_coverage_share: approx(
            total((l) => Math.min(l.billed_output_tokens, l.metered_output_tokens)),
            billedOut,
          ),
          unmatched_token_lines: ls.filter((l) => l.status !== 'matched').length,
        };
      })
      .sort((a, b) => b.billed_input_tokens - a.billed_input_tokens || cmpStr(a.provider, b.provider)),
  'bill-imports': (seed, ctx) => {
    const from = ctx.from.toISOString().slice(0, 10);
    const to = ctx.to.toISOString().slice(0, 10);
    return seed.billImports
      .filter((i) => i.period_from <= to && i.period_to > from)
      .sort((a, b) => cmpStr(b.imported_at, a.imported_at) || cmpStr(a.file_name, b.file_name))
      .map((i) => ({
        imported_at: i.imported_at,
        file_name: i.file_name,
        format: i.format,
        providers: i.providers.join(', '),
        covers_from: i.period_from,
        covers_until: i.period_to,
        lines_kept: i.lines_kept,
        problem_rows: (JSON.parse(i.problems) as { count: number }).count,
        imported_by: i.imported_by,
      }));
  },
  'inventory-services': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inRawRange(c, ctx)),
        (c) => c.service,
      ),
    ]
      .map(([service, cs]) => ({
        service,
        calls: calls(cs),
        spend_usd: spend(cs),
        providers: distinct(cs.map((c) => c.provider)).join(', '),
        models: distinct(cs.map(rollupModel)).join(', '),
      }))
      .sort(bySpendThen('service')),

  'inventory-ingest-keys': (seed, ctx) =>
    [
      ...groupBy(
        seed.calls.filter((c) => inRawRange(c, ctx) && c.ingest_key !== ''),
        (c) => c.ingest_key,
      ),
    ]
      .map(([key, cs]) => {
        const latest = cs.reduce((a, b) => (b.start_time > a.start_time ? b : a));
        const outside = cs.filter((c) => c.claimed_attribution !== '');
        return {
          ingest_key: key,
          key_scope: latest.ingest_key_scope || '(any)',
          calls: calls(cs),
          spend_usd: spend(cs),
          out_of_scope_calls: outside.length,
          claimed: distinct(outside.map((c) => c.claimed_attribution)).join(' '),
        };
      })
      .sort(
        (a, b) =>
          b.out_of_scope_calls - a.out_of_scope_calls ||
          b.spend_usd.cmp(a.spend_usd) ||
          cmpStr(a.ingest_key, b.ingest_key),
      ),
};

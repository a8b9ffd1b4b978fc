/**
 * GET /v1/budgets — what the in-app guard reads: the policy (kill switch, fail mode, attribution,
 * every policy as written) with each budget's state in its current period, the prices of the
 * models in play so the guard can cost its own calls, and the caller's key (a scoped key's calls
 * are recorded under its scope). Money as decimal strings. A budget's spend includes what lease
 * holders reported spent and the collector never stored (LeaseBook.lostSpend), as lease answers do.
 */
import express from 'express';
import type { Policy, PolicyFile } from 'tokenledger/policy';
import type { BudgetView, BudgetsResponse } from 'tokenledger/wire';
import type { KeyRing } from '../govern/keys/keys';
import { requireScope } from './auth';
import type { BudgetEngine, BudgetStatus } from '../govern/budgets/engine';
import type { LeaseBook } from '../govern/budgets/leases';
import { withLostSpend } from '../govern/budgets/status';
import { modelsSeen } from '../govern/budgets/spend';
import { modelPrices } from '../govern/policy/prices';
import type { LoadedPolicy } from '../govern/policy/load';
import type { Pricer } from '../pricing/pricer';
import type { Storage } from '../storage/client';

export interface BudgetsRouteDeps {
  keys: KeyRing;
  storage: Storage;
  pricer: Pricer;
  engine: BudgetEngine;
  policy: () => LoadedPolicy | undefined;
  /** The lease book: spend its holders reported and the collector never stored counts as spent here too. */
  leases?: LeaseBook;
}

const SEEN_MODELS_TTL_MS = 10_000;

export function budgetsRouter(deps: BudgetsRouteDeps): express.Router {
  const router = express.Router();
  let seen: { at: number; from: number; models: Array<{ provider: string; model: string }> } | undefined;

  let refreshing: Promise<unknown> | undefined;
  /** The models seen since `from`; a list older than the TTL is served while a new one is read. */
  const seenSince = async (from: Date) => {
    const now = Date.now();
    const read = () =>
      (refreshing ??= modelsSeen(deps.storage, from)
        .then((models) => (seen = { at: Date.now(), from: from.getTime(), models }))
        .finally(() => (refreshing = undefined)));
    if (!seen || seen.from !== from.getTime()) await read();
    else if (now - seen.at > SEEN_MODELS_TTL_MS) read().catch(() => undefined);
    return seen!.models;
  };

  router.get('/v1/budgets', requireScope(deps.keys, ['read', 'ingest']), async (req, res, next) => {
    try {
      const loaded = deps.policy();
      const file = loaded?.policy;
      const computed = await deps.engine.statuses();
      // As the lease answers count it (decision 0104): a one-shot process reads "exceeded" here.
      const statuses = computed.map((s) => {
        const p = file?.policies.find((x) => x.name === s.policy);
        return p && deps.leases ? withLostSpend(s, p, deps.leases.lostSpend(s.policy, s.periodStart)) : s;
      });
      const earliest = statuses.reduce<Date>(
        (min, s) => (s.periodStart < min ? s.periodStart : min),
        monthStart(new Date()),
      );
      const models = [...policyModels(file), ...(await seenSince(earliest))];
      const body: BudgetsResponse = {
        generated_at: new Date().toISOString(),
        policy_version: loaded?.version ?? null,
        kill_switch: file?.kill_switch ?? false,
        fail: file?.fail ?? 'open',
        attribution: file?.attribution ? { on_missing: 'block', ...file.attribution } : null,
        policies: (file?.policies ?? []).map((p) => ({ ...p, budget: budgetJson(p, statuses) })),
        prices: modelPrices(deps.pricer, dedupe(models)),
        key: { name: req.principal!.name, role: req.principal!.role, scope: req.principal!.scope ?? null },
      };
      res.json(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

function budgetJson(p: Policy, statuses: BudgetStatus[]): BudgetView | null {
  const s = statuses.find((x) => x.policy === p.name);
  if (!p.budget || !s) return null;
  return {
    ...p.budget,
    usd: String(p.budget.usd),
    timezone: s.timezone,
    period_start: s.periodStart.toISOString(),
    period_end: s.periodEnd.toISOString(),
    spent_usd: s.spentUsd.toFixed(),
    remaining_usd: s.remainingUsd.toFixed(),
    state: s.state,
    forecast_usd: s.forecastUsd.toFixed(),
    forecast_low_usd: s.forecastLowUsd.toFixed(),
    forecast_high_usd: s.forecastHighUsd.toFixed(),
    breach_at: s.breachAt?.toISOString() ?? null,
  };
}

const valuesOf = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** Models the file names (allow lists, downgrade targets, selectors, overrides), with a provider when it says one. */
function policyModels(file: PolicyFile | undefined): Array<{ provider: string; model: string }> {
  const out: Array<{ provider: string; model: string }> = [];
  const overrideProvider = new Map(
    (file?.pricing?.overrides ?? []).map((o) => [o.model.toLowerCase(), o.provider ?? ''] as const),
  );
  for (const p of file?.policies ?? []) {
    const providers = valuesOf(p.match?.provider);
    const names = [
      ...(p.models?.allow ?? []),
      ...valuesOf(p.match?.model),
      ...(p.downgrade_to ? [p.downgrade_to] : []),
    ];
    for (const model of names)
      out.push({
        provider: providers.length === 1 ? providers[0]! : (overrideProvider.get(model.toLowerCase()) ?? ''),
        model,
      });
  }
  for (const o of file?.pricing?.overrides ?? []) out.push({ provider: o.provider ?? '', model: o.model });
  return out;
}

function dedupe(
  models: Array<{ provider: string; model: string }>,
): Array<{ provider: string; model: string }> {
  const seen = new Set<string>();
  return models.filter((m) => {
    const k = `${m.provider}/${m.model}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const monthStart = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));

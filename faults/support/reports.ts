/**
 * Every way a user reads spend, asked of the running collector, and the same figures computed from
 * the raw calls: the fault scenarios compare the two.
 */
import Decimal from 'decimal.js';
import type { FaultCollector } from './collector';

Decimal.set({ precision: 80 });

export const HOUR_MS = 3_600_000;

export interface Figure {
  calls: number | undefined;
  usd: Decimal;
}

interface SpendReport {
  total_usd: string;
  breakdown: Array<{ calls: number }>;
}

const reportFigure = (r: SpendReport): Figure => ({
  calls: r.breakdown.reduce((n, b) => n + b.calls, 0),
  usd: new Decimal(r.total_usd),
});

const iso = (ms: number): string => new Date(ms).toISOString();

/** The hourly path (whole hours: the rollup and its live tail). */
export async function hourlyReport(c: FaultCollector, fromMs: number, toMs: number): Promise<Figure> {
  return reportFigure(await c.get<SpendReport>(`/v1/reports/spend?from=${iso(fromMs)}&to=${iso(toMs)}`));
}

/** The raw path: a range off the hour reads the deduplicated raw calls. */
export async function rawReport(c: FaultCollector, fromMs: number, toMs: number): Promise<Figure> {
  if (fromMs % HOUR_MS === 0) fromMs -= 1; // one millisecond earlier: off the hour (no span starts there)
  return reportFigure(await c.get<SpendReport>(`/v1/reports/spend?from=${iso(fromMs)}&to=${iso(toMs)}`));
}

export async function monthReport(c: FaultCollector, month: string): Promise<Figure> {
  return reportFigure(await c.get<SpendReport>(`/v1/reports/spend?period=${month}`));
}

/** The spent amount of the policy's budget in its current period (GET /v1/budgets, as the guard reads it). */
export async function budgetSpent(c: FaultCollector, policy: string): Promise<Figure> {
  const body = await c.get<{ policies: Array<{ name: string; budget: { spent_usd: string } | null }> }>(
    '/v1/budgets',
  );
  const p = body.policies.find((x) => x.name === policy);
  if (!p?.budget) throw new Error(`no budget for policy ${policy} in GET /v1/budgets`);
  return { calls: undefined, usd: new Decimal(p.budget.spent_usd) };
}

/**
 * The budget's spent amount, read until it equals `expected` (what the collector's own report says
 * this month cost) or 60 s have passed — the bound every report, budget and panel is held to after
 * a fault: the budget engine answers with its last figure while it recomputes (decision 0054).
 */
export async function budgetSpentWithin60s(
  c: FaultCollector,
  policy: string,
  expected: Decimal,
): Promise<Figure> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await budgetSpent(c, policy);
    if (now.usd.equals(expected) || Date.now() > deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The CFO dashboard's spend-by-team panel over the current month (the rollup as Grafana reads it). */
export async function panelFigure(c: FaultCollector): Promise<Figure> {
  const body = await c.get<{ columns: Array<{ name: string }>; rows: unknown[][] }>(
    '/v1/panels/tokenledger-cfo/cfo-spend-by-team?period=current_month',
  );
  const spend = body.columns.findIndex((x) => x.name === 'spend_usd');
  const calls = body.columns.findIndex((x) => x.name === 'calls');
  let usd = new Decimal(0);
  let n = 0;
  for (const row of body.rows) {
    usd = usd.plus(String(row[spend]));
    n += Number(row[calls]);
  }
  return { calls: n, usd };
}

export const sameFigure = (a: Figure, b: Figure): boolean =>
  a.usd.equals(b.usd) && (a.calls === undefined || b.calls === undefined || a.calls === b.calls);

export const showFigure = (f: Figure): string =>
  `${f.calls === undefined ? '' : `${f.calls} calls, `}$${f.usd.toFixed()}`;

export const monthOf = (ms: number): string => iso(ms).slice(0, 7);
export const monthStartMs = (ms: number): number => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

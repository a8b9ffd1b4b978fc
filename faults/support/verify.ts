/**
 * What every "lose nothing" scenario checks at its end, once ingest has stopped: each report read
 * through the running collector (raw from/to, monthly, the budget, a CFO panel) against the raw
 * calls read from the store after it stopped; every acknowledged span stored; the rollup table equal
 * to the raw calls hour by hour. And, after each fault, how long the rollup took to equal the raw
 * calls again.
 */
import Decimal from 'decimal.js';
import type { FaultCheck } from '../types';
import { BUDGET_POLICY, queryStore, type FaultCollector } from './collector';
import type { RetryingLoad } from './load';
import {
  HOUR_MS,
  budgetSpentWithin60s,
  hourlyReport,
  monthOf,
  monthReport,
  monthStartMs,
  panelFigure,
  rawReport,
  sameFigure,
  showFigure,
  type Figure,
} from './reports';

/** How long the rollup may differ from the raw calls after a fault. */
const CONVERGE_LIMIT_MS = 60_000;

export const fmt = (n: number): string => n.toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until each of `hours` (past hours no longer written to) reads the same through the rollup
 * as from the raw calls; the time is counted from the fault. Batches cut by the fault are retried
 * first (their hours are still being written until then).
 */
export async function rollupConverged(
  collector: FaultCollector,
  load: RetryingLoad,
  hours: () => number[],
  faultAt: number,
): Promise<{ ms: number; stuck?: string }> {
  const restartedAt = Date.now();
  while (!load.settledSince(restartedAt) && Date.now() - faultAt < CONVERGE_LIMIT_MS) await sleep(100);
  for (;;) {
    let differing = '';
    for (const hour of hours()) {
      const [rollup, raw] = await Promise.all([
        hourlyReport(collector, hour, hour + HOUR_MS),
        rawReport(collector, hour, hour + HOUR_MS),
      ]);
      if (!sameFigure(rollup, raw)) {
        differing = `${new Date(hour).toISOString().slice(0, 13)}h: rollup ${showFigure(rollup)}, raw ${showFigure(raw)}`;
        break;
      }
    }
    if (!differing) return { ms: Date.now() - faultAt };
    if (Date.now() - faultAt > CONVERGE_LIMIT_MS) return { ms: Date.now() - faultAt, stuck: differing };
    await sleep(500);
  }
}

/** The rollup-after-faults check from the lags measured. */
export function convergenceCheck(what: string, lags: Array<{ ms: number; stuck?: string }>): FaultCheck {
  const stuck = lags.filter((l) => l.stuck).length;
  const max = Math.max(0, ...lags.map((l) => l.ms));
  return {
    check: `rollup = raw after ${what} (max of ${lags.length})`,
    measured: stuck > 0 ? `not within 60 s (${stuck}×)` : `${(max / 1000).toFixed(1)} s`,
    target: '≤ 60 s',
    ok: lags.length > 0 && stuck === 0 && max <= CONVERGE_LIMIT_MS,
  };
}

/**
 * Reads every report from the running collector, stops it, reads the truth from its store, and
 * compares. `hours` are the hours spans were written to.
 */
export async function everyReportChecks(
  collector: FaultCollector,
  dataDir: string,
  load: RetryingLoad,
  hours: number[],
): Promise<{ checks: FaultCheck[]; notes: string[] }> {
  const first = Math.min(...hours, Math.floor(Date.now() / HOUR_MS) * HOUR_MS);
  const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + 2 * HOUR_MS;
  const months = [...new Set(hours.map(monthOf).concat(monthOf(Date.now())))];
  const monthly: Figure[] = [];
  for (const m of months) monthly.push(await monthReport(collector, m));
  const reports = {
    raw: await rawReport(collector, first, to),
    monthly: {
      calls: monthly.reduce((n, f) => n + (f.calls ?? 0), 0),
      usd: monthly.reduce((s, f) => s.plus(f.usd), new Decimal(0)),
    },
    budget: await budgetSpentWithin60s(
      collector,
      BUDGET_POLICY,
      (await monthReport(collector, monthOf(Date.now()))).usd,
    ),
    panel: await panelFigure(collector),
  };
  await collector.stop();

  const store = await queryStore(dataDir, {
    calls: `SELECT concat(trace_id, span_id) AS key, toString(toUnixTimestamp64Milli(start_time)) AS ms,
                   toString(cost_usd) AS usd FROM \${DB}.llm_calls FINAL`,
    physical: `SELECT toString(count()) AS n FROM \${DB}.llm_calls`,
    // The rollup table itself, hour by hour, against the raw calls (not through the view).
    sealed: `SELECT toString(count()) AS hours, toString(countIf(r.calls != w.calls OR r.usd != w.usd)) AS differing
             FROM (SELECT hour, sum(calls) AS calls, sum(cost_usd) AS usd FROM \${DB}.spend_hourly_sealed FINAL
                   WHERE hour < (SELECT max(sealed_until) FROM \${DB}.rollup_frontier) GROUP BY hour) AS r
             FULL OUTER JOIN
                  (SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, count() AS calls, sum(cost_usd) AS usd
                   FROM \${DB}.llm_calls FINAL
                   WHERE start_time < (SELECT max(sealed_until) FROM \${DB}.rollup_frontier) GROUP BY hour) AS w
             USING (hour)`,
  });
  const stored = new Set<string>();
  const all = { calls: 0, usd: new Decimal(0) };
  const thisMonth = { calls: 0, usd: new Decimal(0) };
  const monthFrom = monthStartMs(Date.now());
  for (const row of store.calls!) {
    stored.add(row.key!);
    all.calls++;
    all.usd = all.usd.plus(row.usd!);
    if (Number(row.ms) >= monthFrom) {
      thisMonth.calls++;
      thisMonth.usd = thisMonth.usd.plus(row.usd!);
    }
  }
  let lost = 0;
  for (const k of load.acknowledged) if (!stored.has(k)) lost++;
  const physicalDuplicates = Number(store.physical![0]!.n) - all.calls;
  const sealed = store.sealed![0]!;

  const compare = (what: string, got: Figure, truth: Figure): FaultCheck => ({
    check: `${what} = raw calls`,
    measured: sameFigure(got, truth)
      ? `equal (${showFigure(got)})`
      : `${showFigure(got)} vs ${showFigure(truth)}`,
    target: 'equal',
    ok: sameFigure(got, truth),
  });
  const above = Object.values(reports).filter(
    (f) => (f.calls ?? 0) > all.calls || f.usd.greaterThan(all.usd),
  ).length;
  const totals = load.totals;
  const checks: FaultCheck[] = [
    {
      check: 'acknowledged spans lost',
      measured: `${fmt(lost)} of ${fmt(totals.acknowledged)}`,
      target: '0',
      ok: lost === 0 && totals.acknowledged > 0,
    },
    { check: 'reports counting a span twice', measured: String(above), target: '0', ok: above === 0 },
    compare('raw from/to report', reports.raw, all),
    compare('monthly report', reports.monthly, all),
    compare('budget spent (this month)', reports.budget, thisMonth),
    compare('CFO panel (this month)', reports.panel, thisMonth),
    {
      check: 'sealed hours differing from raw (in the store)',
      measured: `${sealed.differing} of ${sealed.hours}`,
      target: '0',
      ok: sealed.differing === '0' && sealed.hours !== '0',
    },
    {
      check: 'answers other than 200/429/503',
      measured: String(totals.unexpected.length),
      target: '0',
      ok: totals.unexpected.length === 0,
    },
  ];
  const notes = [
    `${fmt(totals.batches)} batches acked after ${fmt(totals.retries)} retries; ` +
      `${fmt(physicalDuplicates)} duplicate rows physically in llm_calls (read deduplicated)`,
    ...totals.unexpected.slice(0, 3),
  ];
  return { checks, notes };
}

/**
 * Row 1: kill -9 of the collector, many times, under sustained retrying ingest. Four senders retry
 * every batch until it is answered 200 and count each acknowledged span; half of every batch starts
 * now (the live tail), half in a past hour (data the rollup has sealed: late spans, retries). After
 * every restart, each past hour must read the same through the rollup as from the raw calls within
 * 60 s; at the end every report — raw from/to, monthly, the budget, a dashboard panel — must equal
 * the raw calls, and every acknowledged span must be stored once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Decimal from 'decimal.js';
import { rowFrom, type FaultCheck, type FaultScenario } from '../types';
import { FaultCollector, freePort, queryStore } from '../support/collector';
import { RetryingLoad } from '../support/load';
import {
  HOUR_MS,
  budgetSpent,
  hourlyReport,
  monthOf,
  monthReport,
  monthStartMs,
  panelFigure,
  rawReport,
  sameFigure,
  showFigure,
  type Figure,
} from '../support/reports';

const CRASHES = 20;
const SENDERS = 4;
/** How long the rollup may differ from the raw calls after a fault. */
const CONVERGE_LIMIT_MS = 60_000;
const POLICY = 'fault-suite-all';
/** Past hours written to, in turn (hours ago, from the current hour). */
const PAST_HOURS = [2, 3, 5, 8, 13, 26];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => n.toLocaleString('en-US');

export const killCollector: FaultScenario = {
  name: 'kill-collector',
  title: 'kill -9 of the collector under sustained retrying ingest',
  shortTimeoutMs: 8 * 60_000,
  async run({ short, log }) {
    const started = Date.now();
    const work = mkdtempSync(path.join(tmpdir(), 'tl-fault-kill-'));
    const dataDir = path.join(work, 'data');
    const policyFile = path.join(work, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1\npolicies:\n  - name: ${POLICY}\n    budget: { usd: 1000000, period: monthly }\n`,
    );
    const keys = { admin: `fault-admin-${process.pid}`, ingest: `fault-ingest-${process.pid}` };
    const collector = new FaultCollector({
      dataDir,
      port: await freePort(),
      keys,
      env: { TOKENLEDGER_POLICY_FILE: policyFile },
    });
    let cycle = 0;
    /** Past hour (ms) → the last cycle that wrote it. */
    const written = new Map<number, number>();
    const pastHour = (): number => {
      const current = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
      return current - PAST_HOURS[cycle % PAST_HOURS.length]! * HOUR_MS;
    };
    const load = new RetryingLoad({
      url: collector.url,
      ingestKey: keys.ingest,
      senders: SENDERS,
      spansPerBatch: short ? 100 : 200,
      startTimeMs: (i) => {
        if (i % 2 === 0) return Date.now() - Math.random() * 1000;
        const hour = pastHour();
        written.set(hour, cycle);
        // Never in an hour's last second, so an off-the-hour range one millisecond wider reads the same calls.
        return hour + Math.random() * (HOUR_MS - 2000);
      },
    });
    const lags: number[] = [];
    const stuck: string[] = [];
    try {
      await collector.start();
      load.start();
      for (cycle = 0; cycle < CRASHES;) {
        await sleep(short ? 1500 + Math.random() * 1500 : 4000 + Math.random() * 4000);
        const killedAt = Date.now();
        await collector.kill9();
        cycle++;
        await sleep(200 + Math.random() * 800);
        await collector.start();
        const lag = await convergence(collector, load, written, cycle, killedAt);
        lags.push(lag.ms);
        if (lag.stuck) stuck.push(`after crash ${cycle}: ${lag.stuck}`);
        log(
          `kill-collector: crash ${cycle}/${CRASHES}, ${fmt(load.totals.acknowledged)} spans acknowledged, ` +
            `rollup = raw ${lag.stuck ? 'NOT reached' : `after ${(lag.ms / 1000).toFixed(1)} s`}`,
        );
      }
      await load.stop();
      const settled = await convergence(collector, load, written, Infinity, Date.now());
      if (settled.stuck) stuck.push(`at the end: ${settled.stuck}`);

      // Every report, read through the running collector once ingest has stopped.
      const hours = [...written.keys()];
      const first = Math.min(...hours);
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
        budget: await budgetSpent(collector, POLICY),
        panel: await panelFigure(collector),
      };
      await collector.stop();

      // The truth: the raw calls, deduplicated, read from the store after the collector stopped.
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
      const maxLag = Math.max(...lags);
      const totals = load.totals;
      const checks: FaultCheck[] = [
        {
          check: 'acknowledged spans lost',
          measured: `${fmt(lost)} of ${fmt(totals.acknowledged)}`,
          target: '0',
          ok: lost === 0,
        },
        { check: 'reports counting a span twice', measured: String(above), target: '0', ok: above === 0 },
        compare('raw from/to report', reports.raw, all),
        compare('monthly report', reports.monthly, all),
        compare('budget spent (this month)', reports.budget, thisMonth),
        compare('CFO panel (this month)', reports.panel, thisMonth),
        {
          check: `rollup = raw after each crash (max of ${lags.length})`,
          measured:
            stuck.length > 0 ? `not within 60 s (${stuck.length}×)` : `${(maxLag / 1000).toFixed(1)} s`,
          target: '≤ 60 s',
          ok: stuck.length === 0 && maxLag <= CONVERGE_LIMIT_MS,
        },
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
        ...stuck.slice(0, 3),
        ...totals.unexpected.slice(0, 3),
      ];
      return rowFrom(
        'kill-collector',
        `kill -9 × ${CRASHES}, ${SENDERS} retrying senders, ${fmt(totals.acknowledged)} spans acked`,
        checks,
        { note: notes.join('; '), seconds: (Date.now() - started) / 1000 },
      );
    } finally {
      await load.stop().catch(() => undefined);
      await collector.stop().catch(() => undefined);
      if (!process.env.TOKENLEDGER_FAULTS_KEEP) rmSync(work, { recursive: true, force: true });
    }
  },
};

/**
 * Waits until every past hour written before cycle `cycle` (all of them with Infinity) reads the same
 * through the rollup as from the raw calls; the time is counted from the fault.
 */
async function convergence(
  collector: FaultCollector,
  load: RetryingLoad,
  written: Map<number, number>,
  cycle: number,
  faultAt: number,
): Promise<{ ms: number; stuck?: string }> {
  // The batches cut by the crash are retried first; until then their hours are still being written.
  const restartedAt = Date.now();
  while (!load.settledSince(restartedAt) && Date.now() - faultAt < CONVERGE_LIMIT_MS) await sleep(100);
  let last = '';
  for (;;) {
    const current = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const hours = [...written]
      .filter(([hour, lastCycle]) => lastCycle < cycle && hour < current - HOUR_MS)
      .map(([hour]) => hour);
    let differing = '';
    for (const hour of hours) {
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
    last = differing;
    if (Date.now() - faultAt > CONVERGE_LIMIT_MS) return { ms: Date.now() - faultAt, stuck: last };
    await sleep(500);
  }
}

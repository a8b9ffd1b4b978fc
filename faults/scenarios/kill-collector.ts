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
import { rowFrom, type FaultScenario } from '../types';
import { FaultCollector } from '../support/collector';
import { RetryingLoad } from '../support/load';
import { HOUR_MS } from '../support/reports';
import { convergenceCheck, everyReportChecks, fmt, rollupConverged } from '../support/verify';

const CRASHES = 20;
const SENDERS = 4;
/** Past hours written to, in turn (hours ago, from the current hour). */
const PAST_HOURS = [2, 3, 5, 8, 13, 26];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const killCollector: FaultScenario = {
  name: 'kill-collector',
  title: 'kill -9 of the collector under sustained retrying ingest',
  shortTimeoutMs: 8 * 60_000,
  async run({ short, log }) {
    const started = Date.now();
    const work = mkdtempSync(path.join(tmpdir(), 'tl-fault-kill-'));
    const dataDir = path.join(work, 'data');
    const collector = await FaultCollector.forScenario(work, dataDir);
    const keys = collector.keys;
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
    /** Past hours written before `before` (a cycle), not the current or previous clock hour. */
    const settledHours = (before: number) => (): number[] => {
      const current = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
      return [...written].filter(([h, c]) => c < before && h < current - HOUR_MS).map(([h]) => h);
    };
    const lags: Array<{ ms: number; stuck?: string }> = [];
    let fromRollup = 0;
    try {
      await collector.start();
      // Late spans go into hours the rollup has already sealed, as they do in the field: the load
      // starts once the first round has sealed them, not while that round waits for its inserts.
      await sealedPast(collector, Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS);
      load.start();
      for (cycle = 0; cycle < CRASHES;) {
        await sleep(short ? 1500 + Math.random() * 1500 : 4000 + Math.random() * 4000);
        const killedAt = Date.now();
        await collector.kill9();
        cycle++;
        await sleep(200 + Math.random() * 800);
        await collector.start();
        const lag = await rollupConverged(collector, load, settledHours(cycle), killedAt);
        lags.push(lag);
        // The hours compared are sealed ones (read from the rollup, not from the raw tail).
        const checked = settledHours(cycle)();
        if (checked.length > 0 && (await sealedUntilMs(collector)) > Math.max(...checked)) fromRollup++;
        log(
          `kill-collector: crash ${cycle}/${CRASHES}, ${fmt(load.totals.acknowledged)} spans acknowledged, ` +
            `rollup = raw ${lag.stuck ? `NOT reached (${lag.stuck})` : `after ${(lag.ms / 1000).toFixed(1)} s`}`,
        );
      }
      await load.stop();
      const settled = await rollupConverged(collector, load, settledHours(Infinity), Date.now());
      const { checks, notes } = await everyReportChecks(collector, dataDir, load, [...written.keys()]);
      checks.push(convergenceCheck('each crash', lags), {
        check: 'crashes after which the hours compared were sealed ones',
        measured: `${fromRollup} of ${CRASHES}`,
        target: `${CRASHES} of ${CRASHES}`,
        ok: fromRollup === CRASHES,
      });
      if (settled.stuck) notes.push(`at the end: ${settled.stuck}`);
      notes.push(
        ...lags
          .filter((l) => l.stuck)
          .slice(0, 3)
          .map((l) => l.stuck!),
      );
      return rowFrom(
        'kill-collector',
        `kill -9 × ${CRASHES}, ${SENDERS} retrying senders, ${fmt(load.totals.acknowledged)} spans acked`,
        checks,
        { note: notes.join('; '), seconds: (Date.now() - started) / 1000 },
      );
    } finally {
      await load.stop().catch(() => undefined);
      await collector.stop().catch(() => undefined);
      writeFileSync(path.join(work, 'collector.log'), collector.output);
      if (!process.env.TOKENLEDGER_FAULTS_KEEP) rmSync(work, { recursive: true, force: true });
    }
  },
};

/** Waits (up to 60 s) until the rollup has sealed the hours before `ms`. */
async function sealedPast(collector: FaultCollector, ms: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await sealedUntilMs(collector)) < ms) {
    if (Date.now() > deadline)
      throw new Error(`the rollup did not seal the hours before ${new Date(ms).toISOString()} in 60 s`);
    await sleep(500);
  }
}

/**
 * The frontier the collector's rollup maintainer last read (its /metrics gauge, there once its first
 * round after the restart is done), in ms; 0 if it never shows.
 */
async function sealedUntilMs(collector: FaultCollector): Promise<number> {
  for (let i = 0; i < 60; i++) {
    const res = await fetch(`${collector.url}/metrics`, {
      headers: { authorization: `Bearer ${collector.keys.admin}` },
    });
    const m = /^tokenledger_rollup_sealed_until_seconds (\d+)$/m.exec(await res.text());
    if (m) return Number(m[1]) * 1000;
    await sleep(250);
  }
  return 0;
}

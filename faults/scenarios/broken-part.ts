/**
 * Row 5 (after the issue's four): a part of llm_calls the engine can no longer read, while the
 * collector runs under sustained retrying ingest — a merged part's files emptied, as a full disk
 * once left one (an empty marks file) and reads then failed until a restart. The collector must repair it by itself: set the
 * part aside, put back the parts it was merged from, rebuild the rollup's hours, replay the journal;
 * nothing acknowledged lost, every report equal to the raw calls within 60 s, no restart.
 */
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rowFrom, type FaultCheck, type FaultScenario } from '../types';
import { FaultCollector } from '../support/collector';
import { nowAndPastHour, RetryingLoad } from '../support/load';
import { HOUR_MS, rawReport } from '../support/reports';
import { convergenceCheck, everyReportChecks, fmt, rollupConverged } from '../support/verify';

const SENDERS = 4;
const FAULT =
  'a merged part of llm_calls (an earlier month, merges settled) made unreadable (files emptied) while running';
/** Seconds from the part broken to reports whole again. */
const REPAIR_LIMIT_S = 60;
const REPAIRED =
  /storage: part llm_calls\/(\S+) \((\d+) rows\) could not be read .*?; (the (\d+) parts it was merged from attached back|no part it was merged from is left)/;

/** The first past hour written: 40 days ago, always an earlier month than the rest. */
const OLD_HOURS_AGO = 40 * 24;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const brokenPart: FaultScenario = {
  name: 'broken-part',
  title: 'a part the engine cannot read, repaired while running',
  shortTimeoutMs: 4 * 60_000,
  async run({ short, log }) {
    const started = Date.now();
    const work = mkdtempSync(path.join(tmpdir(), 'tl-fault-part-'));
    const dataDir = path.join(work, 'data');
    const collector = await FaultCollector.forScenario(work, dataDir);
    // Half the spans in past hours (sealed by the rollup): first an hour 40 days ago (an earlier
    // month: a partition of its own), then, from the moment its parts are left to settle, 3 hours
    // ago. Nothing then merges into the old month's part but the part itself, so the part broken is
    // the one read, and its hour can be compared with its raw calls.
    let hoursAgo = OLD_HOURS_AGO;
    const hours = new Set<number>();
    const load = new RetryingLoad({
      url: collector.url,
      ingestKey: collector.keys.ingest,
      senders: SENDERS,
      spansPerBatch: 200,
      startTimeMs: nowAndPastHour(() => hoursAgo, hours),
    });
    try {
      await collector.start();
      load.start();
      await sleep(short ? 8_000 : 30_000);

      const oldMonth = new Date(Date.now() - OLD_HOURS_AGO * HOUR_MS)
        .toISOString()
        .slice(0, 7)
        .replace('-', '');
      const faultHours = [...hours];
      hoursAgo = 3;
      // The part to break: the old month's merged part holding most blocks, once its merges settled.
      const broken = await settledPart(dataDir, oldMonth, 60_000);
      const emptied = emptyFiles(broken.dir);
      const brokeAt = Date.now();
      log(`broken-part: emptied ${emptied} files of llm_calls/${broken.name} (${broken.rows} rows)`);

      // Read as users do until the report answers again (the failing reads are what find the part).
      let repairedAt = 0;
      let failedReads = 0;
      let degraded = '';
      while (!repairedAt && Date.now() - brokeAt < REPAIR_LIMIT_S * 1000) {
        const health = await fetch(`${collector.url}/healthz`).catch(() => undefined);
        const said = (await health?.text()) ?? '';
        if (health?.status === 503 && !degraded) degraded = said;
        try {
          await rawReport(collector, Date.now() - (OLD_HOURS_AGO + 2) * HOUR_MS, Date.now() + HOUR_MS);
          if (REPAIRED.test(collector.output)) repairedAt = Date.now();
        } catch {
          failedReads++;
        }
        if (!repairedAt) await sleep(250);
      }
      const lag = await rollupConverged(collector, load, () => faultHours, brokeAt);
      await sleep(short ? 3_000 : 15_000);
      await load.stop();
      await rollupConverged(collector, load, () => [...hours], Date.now());
      const health = await fetch(`${collector.url}/healthz`);
      const healthBody = await health.text();
      const restarts =
        collector.output.split('\n').filter((l) => l.includes('collector listening on')).length - 1;
      const line = REPAIRED.exec(collector.output);
      const { checks, notes } = await everyReportChecks(collector, dataDir, load, [...hours]);

      const partChecks: FaultCheck[] = [
        {
          check: 'part set aside and its sources attached back, no restart',
          measured: line
            ? `${line[1]} (${fmt(Number(line[2]))} rows): ${line[4] ? `${line[4]} sources` : 'no source'}, ${((repairedAt - brokeAt) / 1000).toFixed(1)} s, ${restarts} restarts`
            : 'not repaired',
          target: `sources back, ≤ ${REPAIR_LIMIT_S} s, 0 restarts`,
          ok: Boolean(line?.[4]) && repairedAt > 0 && restarts === 0,
        },
        {
          check: '/healthz after the repair',
          measured: String(health.status),
          target: '200',
          ok: health.status === 200,
        },
        convergenceCheck('the repair', [lag]),
        ...checks,
      ];
      notes.unshift(
        `broke llm_calls/${broken.name} (${fmt(broken.rows)} rows, ${emptied} files emptied); ${failedReads} report reads failed before the repair`,
      );
      if (health.status !== 200) notes.push(`healthz: ${healthBody}`);
      // Not judged: a repair can be over between two looks.
      notes.push(
        degraded
          ? `/healthz while repairing: ${degraded.slice(0, 200)}`
          : '/healthz not seen degraded (the repair was quicker than a look)',
      );
      return rowFrom(
        'broken-part',
        `${FAULT}, ${SENDERS} retrying senders, ${fmt(load.totals.acknowledged)} spans acked`,
        partChecks,
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

/** `a` was merged from `b` (among others). */
const covers = (a: PartOnDisk, b: PartOnDisk): boolean =>
  a.name !== b.name &&
  a.name.split('_')[0] === b.name.split('_')[0] &&
  a.min <= b.min &&
  a.max >= b.max &&
  a.level > b.level;

interface PartOnDisk {
  name: string;
  dir: string;
  rows: number;
  level: number;
  min: number;
  max: number;
}

/**
 * The active merged part of `partition` of llm_calls covering the most blocks, once the partition's
 * parts stayed the same for 3 s with no merge being written: read from the engine's files (the
 * collector's process holds the engine).
 */
async function settledPart(dataDir: string, partition: string, waitMs: number): Promise<PartOnDisk> {
  const root = path.join(dataDir, 'clickhouse');
  const uuid = /UUID '([0-9a-f-]{36})'/.exec(
    readFileSync(path.join(root, 'metadata', 'tokenledger', 'llm_calls.sql'), 'utf8'),
  )?.[1];
  if (!uuid) throw new Error('llm_calls has no UUID in its metadata');
  const tableDir = path.join(root, 'store', uuid.slice(0, 3), uuid);
  const deadline = Date.now() + waitMs;
  let last = '';
  let sameSince = Date.now();
  for (;;) {
    const names = readdirSync(tableDir).filter((n) => n.includes(`${partition}_`));
    const parts: PartOnDisk[] = [];
    for (const name of names) {
      const m = /^(\d+)_(\d+)_(\d+)_(\d+)$/.exec(name);
      if (!m) continue;
      try {
        const rows = Number(readFileSync(path.join(tableDir, name, 'count.txt'), 'utf8'));
        parts.push({
          name,
          dir: path.join(tableDir, name),
          rows,
          level: Number(m[4]),
          min: Number(m[2]),
          max: Number(m[3]),
        });
      } catch {
        // being written or removed
      }
    }
    const active = parts.filter((p) => !parts.some((q) => covers(q, p)));
    const now = active
      .map((p) => p.name)
      .sort()
      .join(' ');
    if (now !== last || names.some((n) => n.startsWith('tmp'))) {
      last = now;
      sameSince = Date.now();
    }
    const best = active.filter((p) => p.level > 0).sort((a, b) => b.max - b.min - (a.max - a.min))[0];
    if (best && best.max - best.min >= 3 && Date.now() - sameSince >= 3_000) return best;
    if (Date.now() > deadline) throw new Error(`no merged part of llm_calls in ${partition} settled`);
    await sleep(250);
  }
}

/** Empties the part's data and marks files, as the full disk left one: every read of it fails. */
function emptyFiles(dir: string): number {
  let n = 0;
  for (const file of readdirSync(dir)) {
    if (/\.(bin|c?mrk\d*)$/.test(file) && statSync(path.join(dir, file)).size > 0) {
      truncateSync(path.join(dir, file), 0);
      n++;
    }
  }
  return n;
}

/**
 * Row 2: the data directory's disk (a 300 MiB tmpfs) filled to the last byte by another process,
 * held full, then freed, under sustained retrying ingest. While it is full the collector must refuse
 * spans with 503 + Retry-After (never acknowledge what it cannot keep), say so in /healthz and
 * /metrics, and accept again by itself once there is room, without a restart; nothing acknowledged
 * may be lost, every report must equal the raw calls, and a restart afterwards must find no broken
 * or detached part. Needs `mount` (root; CI runs as root): where mount fails the row is SKIPPED.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rowFrom, skippedRow, type FaultCheck, type FaultScenario } from '../types';
import { FaultCollector } from '../support/collector';
import { nowAndPastHour, RetryingLoad } from '../support/load';
import { convergenceCheck, everyReportChecks, fmt, rollupConverged } from '../support/verify';

const DISK = '300m';
const SENDERS = 4;
const FAULT = `disk of the data directory (${DISK.replace('m', ' MiB')} tmpfs) filled by another process`;
/** Seconds from room again to spans acknowledged again. */
const RESUME_LIMIT_S = 30;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fills `dir` until the disk refuses, holds, frees: a process of its own, as a log or a backup would. */
const FILLER = `
const fs = require('node:fs');
const [file, holdMs] = process.argv.slice(1);
const fd = fs.openSync(file, 'w');
const chunk = Buffer.alloc(1 << 20);
let bytes = 0;
for (;;) {
  try { bytes += fs.writeSync(fd, chunk); } catch (e) { if (e.code !== 'ENOSPC') throw e; break; }
}
// The last bytes too: down to the block.
for (let size = 1 << 19; size >= 4096; size >>= 1)
  for (;;) { try { bytes += fs.writeSync(fd, chunk.subarray(0, size)); } catch { break; } }
console.log('full ' + bytes);
setTimeout(() => { fs.closeSync(fd); fs.unlinkSync(file); console.log('freed'); }, Number(holdMs));
`;

export const diskFull: FaultScenario = {
  name: 'disk-full',
  title: 'the disk filled by another process, then freed',
  shortTimeoutMs: 5 * 60_000,
  async run({ short, log }) {
    const started = Date.now();
    const work = mkdtempSync(path.join(tmpdir(), 'tl-fault-disk-'));
    const disk = path.join(work, 'disk');
    mkdirSync(disk);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK}`, 'tmpfs', disk], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      rmSync(work, { recursive: true, force: true });
      const why = (mounted.stderr || mounted.error?.message || `exit ${mounted.status}`).trim();
      return skippedRow('disk-full', FAULT, `mount -t tmpfs failed here (${why})`);
    }
    const dataDir = path.join(disk, 'data');
    const collector = await FaultCollector.forScenario(work, dataDir);
    const keys = collector.keys;
    // Past hours (sealed ones) get spans too: 3 hours ago until the disk is freed, then 4 hours ago,
    // so the first can be compared with its raw calls once the spans cut by the fault are in.
    let hoursAgo = 3;
    const hours = new Set<number>();
    const load = new RetryingLoad({
      url: collector.url,
      ingestKey: keys.ingest,
      senders: SENDERS,
      spansPerBatch: 200,
      startTimeMs: nowAndPastHour(() => hoursAgo, hours),
    });
    try {
      await collector.start();
      load.start();
      await sleep(short ? 5_000 : 20_000);

      const filler = spawn(
        process.execPath,
        ['-e', FILLER, path.join(disk, 'filler'), String(short ? 8_000 : 30_000)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let fillerOut = '';
      filler.stdout.on('data', (d: Buffer) => (fillerOut += d.toString()));
      const fillerDone = new Promise((resolve) => filler.once('exit', resolve));
      const before = load.totals;
      let degraded = '';
      let metricLow = false;
      let freedAt = 0;
      while (!freedAt) {
        const health = await fetch(`${collector.url}/healthz`).catch(() => undefined);
        if (health?.status === 503) {
          const body = (await health.json()) as { problems?: string[] };
          degraded ||= body.problems?.find((p) => p.startsWith('disk low')) ?? '';
        } else await health?.arrayBuffer();
        metricLow ||= /^tokenledger_disk_low 1$/m.test(await metricsText(collector));
        if (fillerOut.includes('freed')) freedAt = Date.now();
        else await sleep(250);
      }
      await fillerDone;
      const faultHours = [...hours];
      hoursAgo = 4;
      const during = load.totals;
      log(
        `disk-full: disk freed; ${fmt(during.refused - before.refused)} batches refused with 503 while full`,
      );

      // Accepting again by itself: healthz ok and new batches acknowledged, no restart.
      let resumedAt = 0;
      const ackedAtFree = load.totals.acknowledged;
      while (!resumedAt && Date.now() - freedAt < RESUME_LIMIT_S * 2000) {
        const health = await fetch(`${collector.url}/healthz`).catch(() => undefined);
        const ok = health?.status === 200;
        await health?.arrayBuffer();
        if (ok && load.totals.acknowledged > ackedAtFree) resumedAt = Date.now();
        else await sleep(250);
      }
      const lag = await rollupConverged(collector, load, () => faultHours, freedAt);
      await sleep(short ? 3_000 : 15_000);
      await load.stop();
      await rollupConverged(collector, load, () => [...hours], Date.now());
      const { checks, notes } = await everyReportChecks(collector, dataDir, load, [...hours]);

      // A restart on the same data finds nothing broken or set aside.
      await collector.start();
      const health = await fetch(`${collector.url}/healthz`);
      const healthBody = await health.text();
      const setAside = collector.output.split('\n').filter((l) => l.includes('detached part')).length;
      await collector.stop();

      const refused = during.refused - before.refused;
      const diskChecks: FaultCheck[] = [
        {
          check: 'spans refused with 503 while full',
          measured: `${fmt(refused)} batches, ${during.refusedWithoutRetryAfter} without Retry-After`,
          target: '> 0, all with Retry-After',
          ok: refused > 0 && during.refusedWithoutRetryAfter === 0,
        },
        {
          check: '/healthz degraded, /metrics disk_low while full',
          measured: `${degraded ? 'degraded' : 'NOT degraded'}, ${metricLow ? 'disk_low 1' : 'disk_low never 1'}`,
          target: 'both',
          ok: Boolean(degraded) && metricLow,
        },
        {
          check: 'accepting again after room returned, no restart',
          measured: resumedAt ? `${((resumedAt - freedAt) / 1000).toFixed(1)} s` : 'not resumed',
          target: `≤ ${RESUME_LIMIT_S} s`,
          ok: resumedAt > 0 && resumedAt - freedAt <= RESUME_LIMIT_S * 1000,
        },
        convergenceCheck('room returned', [lag]),
        ...checks,
        {
          check: 'after a restart: /healthz, detached parts',
          measured: `${health.status}, ${setAside}`,
          target: '200, 0',
          ok: health.status === 200 && setAside === 0,
        },
      ];
      if (health.status !== 200) notes.push(`healthz after restart: ${healthBody}`);
      // A part the engine wrote broken while the disk was full, repaired while running (decision 0096).
      const repaired = collector.output
        .split('\n')
        .filter((l) => /^storage: part \S+ \(\d+ rows\) could not be read/.test(l));
      notes.push(
        `parts repaired while running: ${repaired.length}${repaired.length > 0 ? ` (${repaired.map((l) => /part (\S+ \(\d+ rows\))/.exec(l)?.[1]).join(', ')})` : ''}`,
      );
      if (degraded) notes.push(`healthz said: "${degraded}"`);
      return rowFrom(
        'disk-full',
        `${FAULT}, held ${short ? 8 : 30} s, ${SENDERS} retrying senders, ${fmt(load.totals.acknowledged)} spans acked`,
        diskChecks,
        { note: notes.join('; '), seconds: (Date.now() - started) / 1000 },
      );
    } finally {
      await load.stop().catch(() => undefined);
      await collector.stop().catch(() => undefined);
      spawnSync('umount', [disk]);
      writeFileSync(path.join(work, 'collector.log'), collector.output);
      if (!process.env.TOKENLEDGER_FAULTS_KEEP) rmSync(work, { recursive: true, force: true });
    }
  },
};

async function metricsText(collector: FaultCollector): Promise<string> {
  const res = await fetch(`${collector.url}/metrics`, {
    headers: { authorization: `Bearer ${collector.keys.admin}` },
  }).catch(() => undefined);
  return res?.ok ? res.text() : '';
}

/**
 * Row 3: a crowd of hostile OTLP requests against a real collector process (embedded engine, its
 * defaults).
 *
 * Checks: the collector never crashes; every answer is 2xx or 4xx (429 and 503 only while shedding
 * load, with Retry-After; never another 5xx); every valid call of an acknowledged batch is stored;
 * the process's peak resident memory (VmHWM, the engine's pages included) stays under 500 MB.
 */
import { readFileSync } from 'node:fs';
import {
  collectorKey,
  startCollectorProcess,
  type CollectorProcess,
} from '../../test/support/collector-process';
import { HOSTILE_FEATURE, HostileBodies } from '../support/hostile-bodies';
import { closeSenderSockets, sendAll, type BodyResult } from '../support/hostile-sender';
import { fmt } from '../support/verify';
import { rowFrom, type FaultCheck, type FaultScenario } from '../types';

/** The ceiling the issue sets for the collector process, bytes. */
export const MEMORY_CEILING_BYTES = 500 * 1000 * 1000;

/** The collector's default body limit (TOKENLEDGER_MAX_BODY_BYTES). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

interface Plan {
  bodies: number;
  concurrency: number;
  heavyPerMille: number;
}

const PLANS: Record<'short' | 'full', Plan> = {
  short: { bodies: 10_000, concurrency: 16, heavyPerMille: 2 },
  full: { bodies: 30_000, concurrency: 32, heavyPerMille: 4 },
};

/**
 * Peak (VmHWM) and current (VmRSS) resident memory of a process, bytes, and of the current: the
 * anonymous part (heaps: V8's and the engine's) and the file part (mapped code, chdb's library).
 */
export function memoryOf(pid: number): { peak: number; current: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return {
    peak: kib('VmHWM') * 1024,
    current: kib('VmRSS') * 1024,
    anon: kib('RssAnon') * 1024,
    file: kib('RssFile') * 1024,
  };
}

const mb = (bytes: number): string => `${Math.round(bytes / 1e6)} MB`;

/** The team report must not carry the 8 MiB team name back: the stored value is capped (256 characters). */
const TEAM_REPORT_LIMIT_BYTES = 64_000;

async function getJson<T>(
  collector: CollectorProcess,
  key: string,
  path: string,
): Promise<{ body: T; bytes: number }> {
  const res = await fetch(new URL(path, collector.url), { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text.slice(0, 200)}`);
  return { body: JSON.parse(text) as T, bytes: text.length };
}

interface Report {
  breakdown: Array<{ team?: string; calls: number }>;
}

export const hostileInput: FaultScenario = {
  name: 'hostile-input',
  title: 'hostile bodies from a crowd of broken senders',
  shortTimeoutMs: 10 * 60_000,
  async run({ short, log }) {
    const plan = PLANS[short ? 'short' : 'full'];
    // The window holds every valid call's start: an hour that ended before the run.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const windowStart = new Date(hour);
    const collector = await startCollectorProcess();
    let crashed = '';
    collector.child.once('exit', (code, signal) => {
      crashed = `exit ${code ?? signal}`;
    });
    const pid = collector.child.pid!;
    let stopped = false;
    try {
      const ingestKey = await collectorKey(collector, 'ingest');
      const adminKey = await collectorKey(collector, 'admin');
      const idle = memoryOf(pid);
      // The sample with the most resident memory, to tell the heaps from the mapped code at the peak.
      let atPeak = idle;
      const sampler = setInterval(() => {
        if (crashed) return;
        const now = memoryOf(pid);
        if (now.current > atPeak.current) atPeak = now;
      }, 100);

      // The collector's own view of its memory, at its highest resident sample: V8's heap and the
      // buffers outside it; the rest of the anonymous memory is the engine's and the allocators'.
      let heapAtPeak = { rss: 0, heapTotal: NaN, external: NaN };
      const metricsSampler = setInterval(() => {
        if (crashed) return;
        void fetch(new URL('/metrics', collector.url), { headers: { authorization: `Bearer ${adminKey}` } })
          .then((r) => r.text())
          .then((text) => {
            const read = (name: string): number =>
              Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
            const rss = read('process_resident_memory_bytes');
            if (rss > heapAtPeak.rss)
              heapAtPeak = {
                rss,
                heapTotal: read('nodejs_heap_size_total_bytes'),
                external: read('nodejs_external_memory_bytes'),
              };
          })
          .catch(() => undefined);
      }, 500);

      const bodies = new HostileBodies({
        seed: 20,
        maxBodyBytes: MAX_BODY_BYTES,
        windowStart,
        heavyPerMille: plan.heavyPerMille,
      });
      const results: BodyResult[] = [];
      const started = Date.now();
      let lastLog = started;
      await sendAll(
        { url: collector.url, ingestKey },
        () => bodies.next(),
        plan.bodies,
        plan.concurrency,
        (r) => {
          results.push(r);
          if (Date.now() - lastLog > 5_000) {
            lastLog = Date.now();
            log(`hostile-input: ${results.length} bodies sent, RSS ${mb(memoryOf(pid).current)}`);
          }
        },
      );
      const seconds = (Date.now() - started) / 1000;
      clearInterval(sampler);
      clearInterval(metricsSampler);
      closeSenderSockets();
      const peak = crashed ? NaN : memoryOf(pid).peak;

      // Answers.
      const byStatus = new Map<number, number>();
      let shed = 0;
      let wireErrors = 0;
      const badAnswers: string[] = [];
      const expected = (s: number): boolean => (s >= 200 && s < 300) || (s >= 400 && s < 500) || s === 503;
      for (const r of results) {
        for (const s of r.statuses) {
          byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
          if (s === 429 || s === 503) shed++;
          if (s === 0) {
            if (r.kind !== 'aborted body') {
              wireErrors++;
              if (badAnswers.length < 5) badAnswers.push(`${r.kind}: no answer (${r.error})`);
            }
          } else if (!expected(s) && badAnswers.length < 5) badAnswers.push(`${r.kind}: ${s}`);
        }
      }
      const unexpected = [...byStatus].filter(([s]) => s !== 0 && !expected(s));
      // A body too large to decode within the collector's memory is refused (413, final: the
      // exporter reports it); only the bodies built to be that large may be.
      const refusedLarge = results.filter((r) => r.validCalls > 0 && r.statuses.at(-1) === 413);
      const gaveUp = results.filter((r) => r.validCalls > 0 && !r.acked && r.statuses.at(-1) !== 413);
      const wronglyRefused = refusedLarge.filter((r) => r.kind !== 'many spans');
      const ackedCalls = results.reduce((n, r) => n + (r.acked ? r.validCalls : 0), 0);

      // What was stored: the raw calls of the window (not hour-aligned: read from llm_calls).
      let storedCalls = NaN;
      let teamReportBytes = NaN;
      let healthz = NaN;
      if (!crashed) {
        const from = new Date(hour - 1).toISOString();
        const to = new Date(hour + 3_600_000 + 1).toISOString();
        const report = await getJson<Report>(
          collector,
          adminKey,
          `/v1/reports/spend?from=${from}&to=${to}&feature=${HOSTILE_FEATURE}&groupBy=team`,
        );
        storedCalls = report.body.breakdown.reduce((n, b) => n + b.calls, 0);
        teamReportBytes = report.bytes;
        healthz = (await fetch(new URL('/healthz', collector.url))).status;
      }
      const crashedDuringRun = crashed;
      const exitCode = crashed ? NaN : await collector.stop();
      stopped = true;

      const checks: FaultCheck[] = [
        {
          check: 'collector crashes',
          measured: crashedDuringRun || '0',
          target: '0',
          ok: !crashedDuringRun,
        },
        {
          check: 'answers other than 2xx/4xx (503 while shedding)',
          measured: unexpected.length === 0 ? '0' : unexpected.map(([s, n]) => `${s}×${n}`).join(' '),
          target: '0',
          ok: unexpected.length === 0,
        },
        {
          check: 'requests without an answer (not aborted on purpose)',
          measured: fmt(wireErrors),
          target: '0',
          ok: wireErrors === 0,
        },
        {
          check: 'bodies with valid calls never acknowledged',
          measured: fmt(gaveUp.length),
          target: '0',
          ok: gaveUp.length === 0,
        },
        {
          check: 'bodies of ordinary size refused as too large (413)',
          measured: fmt(wronglyRefused.length),
          target: '0',
          ok: wronglyRefused.length === 0,
        },
        {
          check: 'valid calls of mixed batches: acknowledged = stored',
          measured: `${fmt(ackedCalls)} acked, ${fmt(storedCalls)} stored`,
          target: 'equal',
          ok: storedCalls === ackedCalls,
        },
        {
          check: 'team report with an 8 MiB team name in the store',
          measured: `${Math.round(teamReportBytes / 1000)} kB`,
          target: `≤ ${TEAM_REPORT_LIMIT_BYTES / 1000} kB`,
          ok: teamReportBytes <= TEAM_REPORT_LIMIT_BYTES,
        },
        {
          check: '/healthz after the run; exit code on SIGTERM',
          measured: `${healthz}, ${exitCode}`,
          target: '200, 0',
          ok: healthz === 200 && exitCode === 0,
        },
        {
          check: 'peak resident memory (VmHWM, engine included)',
          measured: mb(peak),
          target: `≤ ${mb(MEMORY_CEILING_BYTES)}`,
          ok: peak <= MEMORY_CEILING_BYTES,
        },
      ];
      const statuses = [...byStatus]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s || 'dropped'}×${fmt(n)}`)
        .join(' ');
      const note = [
        `answers ${statuses} (dropped: bodies the sender aborted on purpose); shed (429/503) ${fmt(shed)}`,
        `refused as too large to decode: ${refusedLarge.length} bodies built to be (${fmt(refusedLarge.reduce((n, r) => n + r.validCalls, 0))} calls)`,
        `memory: idle ${mb(idle.current)} (${mb(idle.anon)} anonymous + ${mb(idle.file)} file, chdb's library); at the highest sample ${mb(atPeak.anon)} anonymous + ${mb(atPeak.file)} file; at the highest /metrics sample RSS ${mb(heapAtPeak.rss)}: V8 heap ${mb(heapAtPeak.heapTotal)}, external ${mb(heapAtPeak.external)}`,
        `${seconds.toFixed(0)} s of sending`,
        ...(badAnswers.length > 0 ? [`first bad answers: ${badAnswers.join('; ')}`] : []),
      ].join('; ');
      return rowFrom(
        'hostile-input',
        `${fmt(results.length)} hostile bodies (seed 20), ${plan.concurrency} senders at once, valid calls retried on 429/503`,
        checks,
        { note, seconds },
      );
    } finally {
      closeSenderSockets();
      if (!crashed && !stopped) await collector.stop();
    }
  },
};

/** What /healthz and /metrics say about storage beyond "it answers": disk, journal, parts, rollup. */
import type { CollectorMetrics } from '../http/metrics';
import { formatMiB, type DiskGuard } from '../storage/disk-guard';
import type { IngestJournal } from '../storage/journal';
import { describePart, type DetachedPart } from '../storage/parts';
import type { RollupMaintainer } from '../storage/rollup/maintainer';
import type { PartRepairs } from './part-repairs';
import { ROLLUPS } from '../storage/rollup/rollups';

interface StorageParts {
  disk: DiskGuard;
  journal: IngestJournal;
  detached: DetachedPart[];
}

/** One line per problem; none when all is well. */
export function storageProblems({ disk, journal, detached }: StorageParts): string[] {
  const problems: string[] = [];
  const d = disk.state;
  if (d?.low)
    problems.push(
      `disk low: ${formatMiB(d.freeBytes)} free on ${d.disk}, ${formatMiB(d.reserveBytes)} kept free; new spans refused (503)`,
    );
  const j = journal.stats;
  if (j.lastError) problems.push(`journal: ${j.lastError}`);
  if (journal.full) problems.push(`journal full (${formatMiB(j.bytes)}): new spans refused (503)`);
  for (const p of detached) problems.push(`detached part ${describePart(p)}: run tokenledger repair`);
  return problems;
}

export function registerStorageGauges(
  metrics: CollectorMetrics,
  parts: {
    disk: DiskGuard;
    journal: IngestJournal;
    rollup: RollupMaintainer;
    repairs: PartRepairs;
    detached: () => DetachedPart[];
  },
): void {
  const { disk, journal, rollup, repairs } = parts;
  metrics.gauge(
    'tokenledger_disk_free_bytes',
    'Free space on the tightest disk checked.',
    () => disk.state?.freeBytes,
  );
  metrics.gauge(
    'tokenledger_disk_reserve_bytes',
    'Space kept free: below it new spans get 503.',
    () => disk.state?.reserveBytes,
  );
  metrics.gauge('tokenledger_disk_low', '1 while new spans are refused for lack of disk space.', () =>
    disk.state ? Number(disk.state.low) : undefined,
  );
  metrics.gauge(
    'tokenledger_journal_bytes',
    'Acknowledged calls journaled, not yet read back.',
    () => journal.stats.bytes,
  );
  metrics.gauge(
    'tokenledger_journal_restored_calls_total',
    'Acknowledged calls found missing from llm_calls and written again from the journal.',
    () => journal.stats.restoredCalls,
    'counter',
  );
  metrics.gauge(
    'tokenledger_detached_parts',
    'Parts of tokenledger tables the engine set aside.',
    () => parts.detached().length,
  );
  metrics.gauge(
    'tokenledger_parts_repaired_total',
    'Parts the engine could not read, set aside while running (their sources attached back).',
    () => repairs.stats.repaired,
    'counter',
  );
  metrics.gauge(
    'tokenledger_rollup_sealed_until_seconds',
    'Hours before this are read from the rollup.',
    () => {
      const s = rollup.stats.sealedUntil;
      return s ? Date.parse(s) / 1000 : undefined;
    },
  );
  // One gauge per rollup after the first (each behind it while an upgraded store fills it).
  for (const { name } of ROLLUPS.slice(1)) {
    metrics.gauge(
      `tokenledger_rollup_${name}_sealed_until_seconds`,
      `Hours before this are read from ${name} (behind the one above while an upgraded store fills it).`,
      () => {
        const s = rollup.stats.followers[name];
        return s ? Date.parse(s) / 1000 : undefined;
      },
    );
  }
  metrics.gauge(
    'tokenledger_rollup_hours_rebuilt_total',
    'Sealed hours rebuilt after late writes.',
    () => rollup.stats.hoursRebuilt,
    'counter',
  );
  metrics.gauge(
    'tokenledger_rollup_hours_repaired_total',
    'Sealed hours found different from their raw calls with no write to explain it, and rebuilt.',
    () => rollup.stats.hoursRepaired,
    'counter',
  );
}

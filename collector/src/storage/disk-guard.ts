/**
 * Free disk space, checked every second: below the reserve the collector refuses new spans (503 +
 * Retry-After, the exporters keep them) before the disk is full, because a full disk is where the
 * engine fails writes and merges, and where it once left a part with empty files. Ingest resumes by
 * itself once the reserve is free again (with some slack, so it does not flap).
 *
 * Checked: the data directory's file system (the embedded engine and the ingest journal live there)
 * and, with a ClickHouse server, the server's disks (system.disks). Each insert also carries the
 * engine's own guard, min_free_disk_bytes_to_perform_insert at half the reserve, for what fills the
 * disk between two checks.
 */
import { statfs } from 'node:fs/promises';
import type { Storage } from './client';
import { isRefusedByEngine } from './errors';

const MiB = 1024 * 1024;
const CHECK_EVERY_MS = 1_000;

export interface DiskState {
  /** The smallest free space among the disks checked (bytes). */
  freeBytes: number;
  totalBytes: number;
  reserveBytes: number;
  low: boolean;
  /** Which disk the figures are of ("data directory /x" or "ClickHouse disk default"). */
  disk: string;
}

/** The reserve: TOKENLEDGER_MIN_FREE_DISK_MB if set, else 5 % of the disk, at least 64 MiB, at most 1 GiB. */
function reserveFor(totalBytes: number, configuredBytes?: number): number {
  if (configuredBytes !== undefined) return configuredBytes;
  return Math.max(64 * MiB, Math.min(1024 * MiB, Math.floor(totalBytes * 0.05)));
}

export const formatMiB = (bytes: number): string => `${Math.floor(bytes / MiB)} MiB`;

export interface DiskGuardOptions {
  storage: Storage;
  dataDir: string;
  /** Bytes to keep free (TOKENLEDGER_MIN_FREE_DISK_MB); default reserveFor(disk size). */
  reserveBytes?: number;
  log: (line: string) => void;
}

export class DiskGuard {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private current: DiskState | undefined;
  private serverDisksReadable = true;

  constructor(private readonly options: DiskGuardOptions) {}

  get state(): DiskState | undefined {
    return this.current;
  }

  /** True while new spans must be refused. */
  get low(): boolean {
    return this.current?.low ?? false;
  }

  /** The engine's own guard for an insert: half the reserve (0 until the first check). */
  get engineReserveBytes(): number {
    return Math.floor((this.current?.reserveBytes ?? 0) / 2);
  }

  start(): void {
    const tick = (): void => {
      if (this.checking) return;
      this.checking = this.check()
        .then(() => undefined)
        .catch((err: unknown) => this.options.log(`disk: ${(err as Error).message}`))
        .finally(() => (this.checking = undefined));
    };
    this.timer = setInterval(tick, CHECK_EVERY_MS);
    this.timer.unref();
    tick();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.checking ?? Promise.resolve();
  }

  async check(): Promise<DiskState> {
    const disks = [await this.dataDirDisk(), ...(await this.serverDisks())];
    const tightest = disks.reduce((a, b) =>
      b.free - reserveFor(b.total, this.options.reserveBytes) <
      a.free - reserveFor(a.total, this.options.reserveBytes)
        ? b
        : a,
    );
    const reserve = reserveFor(tightest.total, this.options.reserveBytes);
    const wasLow = this.current?.low ?? false;
    // Slack before resuming: a quarter of the reserve, so ingest does not flap at the edge.
    const low = wasLow ? tightest.free < reserve * 1.25 : tightest.free < reserve;
    this.current = {
      freeBytes: tightest.free,
      totalBytes: tightest.total,
      reserveBytes: reserve,
      low,
      disk: tightest.name,
    };
    if (low !== wasLow) {
      this.options.log(
        low
          ? `disk: ${formatMiB(tightest.free)} free on ${tightest.name}, below the ${formatMiB(reserve)} kept free: refusing new spans (503) until there is room`
          : `disk: ${formatMiB(tightest.free)} free on ${tightest.name} again: accepting spans`,
      );
    }
    return this.current;
  }

  private async dataDirDisk(): Promise<{ name: string; free: number; total: number }> {
    const s = await statfs(this.options.dataDir);
    return {
      name: `data directory ${this.options.dataDir}`,
      free: s.bavail * s.bsize,
      total: s.blocks * s.bsize,
    };
  }

  /** A ClickHouse server's disks (none for the embedded engine: its disk is the data directory's). */
  private async serverDisks(): Promise<Array<{ name: string; free: number; total: number }>> {
    const { storage } = this.options;
    if (storage.embedded || !this.serverDisksReadable) return [];
    try {
      const rs = await storage.client.query({
        query:
          'SELECT name, toString(unreserved_space) AS free, toString(total_space) AS total FROM system.disks',
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ name: string; free: string; total: string }>();
      return rows.map((r) => ({
        name: `ClickHouse disk ${r.name}`,
        free: Number(r.free),
        total: Number(r.total),
      }));
    } catch (err) {
      if (!isRefusedByEngine(err)) throw err;
      // No rights on system.disks: say so once and rely on the engine's own guard.
      this.serverDisksReadable = false;
      this.options.log(
        `disk: cannot read the ClickHouse server's free space (${(err as Error).message.split('\n')[0]}); checking the data directory only`,
      );
      return [];
    }
  }
}

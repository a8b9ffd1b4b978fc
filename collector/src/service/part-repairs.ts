/**
 * Repairs, while the collector runs, a part the engine cannot read (storage/part-repair.ts, decision
 * 0096): every error the embedded engine answers is looked at, one naming a broken part of
 * tokenledger's database queues that part; and every 2 s the files of new active parts are looked at
 * (a merged part written broken is found while the parts it was merged from are still there).
 *
 * One repair at a time; a part is tried at most 3 times (30 s, then 2 minutes apart; a try a full
 * disk refused does not count, the next comes 30 s later); at most 10 repairs an hour. /healthz is
 * degraded while one runs, and stays so for a part given up on, saying to run `tokenledger repair`.
 */
import type { Storage } from '../storage/client';
import { isOutOfSpace } from '../storage/errors';
import {
  brokenPartIn,
  damagedParts,
  repairBrokenPart,
  type BrokenPartRead,
  type PartRepair,
} from '../storage/part-repair';

const RETRY_AFTER_MS = [30_000, 120_000];
const MAX_ATTEMPTS = RETRY_AFTER_MS.length + 1;
const MAX_PER_HOUR = 10;
const HOUR_MS = 3_600_000;
const LOOK_EVERY_MS = 2_000;

export interface PartRepairsOptions {
  storage: Storage;
  /** Where unreadable parts go (`<data dir>/unreadable-parts`). */
  keepDir: string;
  /** Once a part is set aside: its hours rebuilt, the journal read back. */
  afterRepair: (repair: PartRepair) => Promise<void>;
  log: (line: string) => void;
  /** The repair itself (tests give their own). */
  repair?: typeof repairBrokenPart;
  now?: () => number;
}

export class PartRepairs {
  private readonly queued = new Map<string, BrokenPartRead>();
  private readonly attempts = new Map<string, { count: number; nextAt: number }>();
  private readonly gaveUp = new Map<string, string>();
  private readonly repaired = new Set<string>();
  private readonly startedAt: number[] = [];
  private current: BrokenPartRead | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private looking: NodeJS.Timeout | undefined;
  private readonly whole = new Set<string>();
  private lookFailed = '';
  private stopped = false;
  private figures = { repaired: 0 };

  constructor(private readonly options: PartRepairsOptions) {}

  /**
   * Wires itself to the engine's errors and looks at new parts' files every 2 s (embedded only: a
   * server's parts are not ours to move). Called once the store is ready.
   */
  watch(): void {
    const { storage, log } = this.options;
    if (!storage.onEngineError) return;
    storage.onEngineError((err) => this.notice(err));
    const look = async (): Promise<void> => {
      try {
        for (const damaged of await damagedParts(storage, this.whole)) this.queue(damaged);
        this.lookFailed = '';
      } catch (err) {
        const message = (err as Error).message;
        if (!this.stopped && message !== this.lookFailed)
          log(`storage: looking at new parts failed: ${message}`);
        this.lookFailed = message;
      }
      if (!this.stopped) this.looking = setTimeout(() => void look(), LOOK_EVERY_MS).unref();
    };
    void look();
  }

  /** Looks at one failed statement: queues the part it names as unreadable, if it does. */
  notice(err: unknown): void {
    const broken = brokenPartIn(err, this.options.storage.database);
    if (broken) this.queue(broken);
  }

  private queue(broken: BrokenPartRead): void {
    if (this.stopped) return;
    const key = `${broken.table}/${broken.part}`;
    if (this.gaveUp.has(key) || this.repaired.has(key) || this.current?.part === broken.part) return;
    this.queued.set(key, broken);
    this.next();
  }

  get stats(): { repaired: number } {
    return { ...this.figures };
  }

  /** One line per problem: a repair running, a part given up on. */
  get problems(): string[] {
    const lines: string[] = [];
    if (this.current)
      lines.push(
        `repairing unreadable part ${this.current.table}/${this.current.part}: ${this.current.message}`,
      );
    for (const [key, why] of this.gaveUp)
      lines.push(`unreadable part ${key} not repaired (${why}): run tokenledger repair`);
    return lines;
  }

  /** No repair starts after this; waits for the one running. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.looking);
    await this.running;
  }

  private next(): void {
    if (this.running || this.stopped || this.queued.size === 0) return;
    const now = this.now();
    const due = [...this.queued].find(([key]) => (this.attempts.get(key)?.nextAt ?? 0) <= now);
    if (!due) {
      const wait = Math.min(...[...this.queued.keys()].map((k) => this.attempts.get(k)!.nextAt - now));
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.next(), wait).unref();
      return;
    }
    const [key, broken] = due;
    this.queued.delete(key);
    this.running = this.run(key, broken).finally(() => {
      this.running = undefined;
      this.next();
    });
  }

  private async run(key: string, broken: BrokenPartRead): Promise<void> {
    const { log } = this.options;
    const now = this.now();
    while (this.startedAt.length > 0 && this.startedAt[0]! <= now - HOUR_MS) this.startedAt.shift();
    if (this.startedAt.length >= MAX_PER_HOUR) {
      this.gaveUp.set(key, `${MAX_PER_HOUR} repairs within an hour already`);
      log(
        `storage: part ${key} cannot be read (${broken.message}): not repaired, ${MAX_PER_HOUR} repairs within an hour already; run \`tokenledger repair\``,
      );
      return;
    }
    const attempt = this.attempts.get(key) ?? { count: 0, nextAt: 0 };
    attempt.count++;
    attempt.nextAt = now + (RETRY_AFTER_MS[attempt.count - 1] ?? 0);
    this.attempts.set(key, attempt);
    this.startedAt.push(now);
    this.current = broken;
    try {
      const repair = this.options.repair ?? repairBrokenPart;
      const done = await repair(this.options.storage, broken.table, broken.part, this.options.keepDir);
      this.repaired.add(key);
      if (!done) return; // no longer active: set aside meanwhile
      this.figures.repaired++;
      await this.options.afterRepair(done);
      log(describeRepair(done, broken.message));
    } catch (err) {
      const message = (err as Error).message.split('\n')[0]!;
      // A disk still full refuses the repair's own writes: that try does not count (the hour's cap does).
      if (isOutOfSpace(err)) {
        attempt.count--;
        attempt.nextAt = now + RETRY_AFTER_MS[0]!;
      }
      if (attempt.count >= MAX_ATTEMPTS) {
        this.gaveUp.set(key, `${attempt.count} attempts failed, the last: ${message}`);
        log(
          `storage: repairing the unreadable part ${key} failed ${attempt.count} times, given up: ${message}; run \`tokenledger repair\``,
        );
      } else {
        log(
          `storage: repairing the unreadable part ${key} failed (${message}): trying again in ${(attempt.nextAt - now) / 1000} s`,
        );
        this.queued.set(key, broken);
      }
    } finally {
      this.current = undefined;
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

/** The one line a repair leaves: the part, its rows, what came back from where. */
function describeRepair(r: PartRepair, why: string): string {
  const sourceRows = r.sources.reduce((n, s) => n + s.rows, 0);
  const back =
    [
      ...(r.sources.length > 0
        ? [
            `the ${r.sources.length} parts it was merged from attached back (${sourceRows} rows before deduplication)`,
          ]
        : []),
      ...(r.refusedSources.length > 0
        ? [`${r.refusedSources.length} parts it was merged from left detached (run \`tokenledger repair\`)`]
        : []),
    ].join(', ') ||
    'no part it was merged from is left: acknowledged calls still journaled are written again, its other rows are lost';
  return `storage: part ${r.table}/${r.part} (${r.rows} rows) could not be read (${why}): set aside${r.kept ? ` in ${r.kept}` : ''}; ${back}; its rollup hours rebuilt, the journal read back`;
}

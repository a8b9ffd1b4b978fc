/**
 * The writer's half of the sealed-hours rollup: before it inserts calls into an hour that has ended
 * (so may be sealed), it records the hour in `llm_calls_dirty_hours`. The mark is written first, so
 * a crash between it and the insert (or a failed insert that committed anyway) still leaves the hour
 * to be rebuilt; the maintainer rebuilds an hour whose latest mark is newer than its seal covers.
 */
import { performance } from 'node:perf_hooks';
import type { Storage } from '../client';
import { StorageError } from '../errors';
import { HOUR_MS, MARK_AHEAD_MS, MARK_RECHECK_MS, MARK_REUSE_MS } from './timing';

/** Hours (ms) this writer relied on a mark for, and when the oldest of those marks was sent. */
export interface MarkedHours {
  hours: number[];
  sentAt: number;
}

export class DirtyHours {
  /** Hour (ms) → performance.now() when this process last marked it. */
  private readonly marked = new Map<number, number>();

  constructor(
    private readonly storage: Storage,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Marks these hours (seconds, each an hour's start: `hoursOf` the calls' start times) that have
   * ended, unless this process marked them very recently. Resolves once the marks are stored.
   */
  async beforeInsert(hourStarts: Iterable<number>): Promise<MarkedHours | undefined> {
    const endedBefore = this.clock() + MARK_AHEAD_MS;
    const hours = new Set<number>();
    for (const seconds of hourStarts) {
      const hour = seconds * 1000;
      if (hour + HOUR_MS <= endedBefore) hours.add(hour);
    }
    if (hours.size === 0) return undefined;
    const now = performance.now();
    for (const [hour, at] of this.marked) if (now - at > MARK_REUSE_MS) this.marked.delete(hour);
    const stale = [...hours].filter((h) => !this.marked.has(h));
    if (stale.length > 0) await this.mark(stale);
    let sentAt = now;
    for (const h of hours) sentAt = Math.min(sentAt, this.marked.get(h)!);
    return { hours: [...hours], sentAt };
  }

  /**
   * After the insert: if it finished long after the mark it relied on, mark again (the maintainer
   * assumes an insert commits within MARK_MARGIN_MS of its mark).
   */
  async afterInsert(marked: MarkedHours | undefined): Promise<void> {
    if (marked && performance.now() - marked.sentAt > MARK_RECHECK_MS) await this.mark(marked.hours);
  }

  /** Marks these hours (ms): their calls changed behind the writer (a part repaired from its sources). */
  async markHours(hours: number[]): Promise<void> {
    if (hours.length > 0) await this.mark(hours);
  }

  /** Marks every hour of these months (YYYYMM): their calls changed behind the writer (a repair). */
  async markMonths(months: number[]): Promise<void> {
    const hours: number[] = [];
    for (const m of months) {
      const from = Date.UTC(Math.floor(m / 100), (m % 100) - 1, 1);
      const to = Date.UTC(Math.floor(m / 100), m % 100, 1);
      for (let h = from; h < to; h += HOUR_MS) hours.push(h);
    }
    if (hours.length > 0) await this.mark(hours);
  }

  private async mark(hours: number[]): Promise<void> {
    const sentAt = performance.now();
    const { client, database } = this.storage;
    try {
      await client.insert({
        table: `${database}.llm_calls_dirty_hours (hour)`,
        values: hours.map((h) => [h / 1000]),
        format: 'JSONCompactEachRow',
      });
    } catch (cause) {
      throw new StorageError('marking hours written after they ended', {
        cause,
        detail: `${database}.llm_calls_dirty_hours, ${hours.length} hours`,
      });
    }
    for (const h of hours) this.marked.set(h, sentAt);
  }
}

/**
 * Keeps a process's inserts into ended hours and its maintainer's frontier moves apart, so a report
 * never goes back (decision 0117). Readers take a frontier move PUBLISH_DELAY_MS after it was
 * written, and from then on read the hours it passed from the sealed rollup. A call committed into
 * one of those hours after the build read it would be shown by the raw calls until the move is
 * taken, then hidden until the hour is rebuilt (a round later). So:
 *
 * - a move stops before the first hour an insert still holds, or began or finished writing since
 *   the round started (built again next round, from the held frontier);
 * - from that decision until readers take the move, an insert into the hours it passes waits.
 *   Once it is taken the hour is sealed: the insert marks it and it is rebuilt, as any late call.
 *
 * In one process, so exact for the embedded engine (one collector) and for each collector's own
 * writes on a server; another collector's write into hours this one is publishing is not covered.
 */
import { performance } from 'node:perf_hooks';

/** Hours (seconds) a move passes, [from, to), and a promise resolved once readers take it. */
interface Publication {
  from: number;
  to: number;
  taken: Promise<void>;
}

export class FrontierGate {
  /** Hour (seconds) → inserts into it in flight. */
  private readonly inFlight = new Map<number, number>();
  /** Hour (seconds) → when (performance.now()) an insert into it last began or ended. */
  private readonly lastTouched = new Map<number, number>();
  private readonly publications = new Set<Publication>();

  /**
   * The writer, before inserting calls into these hours (seconds, each an hour's start): waits while
   * a move over one of them is being published. Call the returned function once the insert is over,
   * whether it succeeded or not.
   */
  async enter(hours: Iterable<number>): Promise<() => void> {
    const wanted = [...new Set(hours)];
    for (;;) {
      const blocking = [...this.publications].find((p) => wanted.some((h) => h >= p.from && h < p.to));
      if (!blocking) break;
      await blocking.taken;
    }
    const begun = performance.now();
    for (const h of wanted) {
      this.inFlight.set(h, (this.inFlight.get(h) ?? 0) + 1);
      this.lastTouched.set(h, begun);
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const ended = performance.now();
      for (const h of wanted) {
        this.lastTouched.set(h, ended);
        const n = (this.inFlight.get(h) ?? 1) - 1;
        if (n > 0) this.inFlight.set(h, n);
        else this.inFlight.delete(h);
      }
    };
  }

  /**
   * The maintainer, after building [from, to) (seconds) in a round that started at `roundBegan`
   * (performance.now()): where the frontier may move — before the first hour an insert holds, or
   * began or ended in since (it may have committed after the build read the hour) — and, when it
   * moves, inserts into the hours it passes wait until `published` is called with the readers'
   * delay. Synchronous: no insert can begin between the two.
   */
  claim(
    from: number,
    to: number,
    roundBegan: number,
  ): { until: number; published: (delayMs: number) => void } {
    let until = to;
    for (const h of this.inFlight.keys()) if (h >= from && h < until) until = h;
    for (const [h, at] of this.lastTouched) if (at >= roundBegan && h >= from && h < until) until = h;
    // Older entries tell nothing to later rounds (each looks only at inserts since it started).
    for (const [h, at] of this.lastTouched) if (at < roundBegan) this.lastTouched.delete(h);
    if (until <= from) return { until: from, published: () => undefined };
    let resolve!: () => void;
    const publication: Publication = { from, to: until, taken: new Promise<void>((r) => (resolve = r)) };
    this.publications.add(publication);
    let released = false;
    return {
      until,
      published: (delayMs) => {
        if (released) return;
        released = true;
        const done = (): void => {
          this.publications.delete(publication);
          resolve();
        };
        if (delayMs <= 0) done();
        else setTimeout(done, delayMs).unref();
      },
    };
  }
}

/** The hours (seconds, each an hour's start) of these start times (nanoseconds, decimal strings). */
export function hoursOf(startTimesNs: Iterable<string>): Set<number> {
  const hours = new Set<number>();
  for (const ns of startTimesNs) {
    const seconds = ns.length > 9 ? Number(ns.slice(0, -9)) : 0;
    hours.add(seconds - (seconds % 3600));
  }
  return hours;
}

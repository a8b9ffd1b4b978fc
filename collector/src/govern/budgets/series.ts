/**
 * Daily spend of a scope in a time zone, from the stored calls. Days that ended more than two days
 * ago are kept in memory once read (spans rarely arrive later than that); recent days are read
 * again each time, so a minute's refresh reads a couple of days, not the history.
 */
import { Money } from '../../core/money';
import type { Storage } from '../../storage/client';
import type { SpendScope } from '../policy/match';
import { localDays, type LocalDay } from './periods';
import { storedSpendByBucket } from './spend';

export interface SpendDay extends LocalDay {
  usd: Money;
}

const SETTLED_MS = 2 * 86_400_000;
/** Series kept (a budget, its time zone); more are read again. */
const MAX_SERIES = 500;

export class SpendSeries {
  private readonly settled = new Map<string, Map<number, Money>>();

  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Every local day overlapping [from, to), with its spend inside [from, to) (so the first and
   * last days can be partial).
   */
  async days(scope: SpendScope, timeZone: string, from: Date, to: Date): Promise<SpendDay[]> {
    const days = localDays(from, to, timeZone);
    if (days.length === 0) return [];
    const key = `${timeZone}\u0000${JSON.stringify(scope)}`;
    let known = this.settled.get(key);
    if (!known) {
      if (this.settled.size >= MAX_SERIES) this.settled.clear();
      known = new Map();
      this.settled.set(key, known);
    }
    const f = from.getTime();
    const t = to.getTime();
    const whole = (d: LocalDay): boolean => d.start >= f && d.end <= t;
    const missing = days.filter((d) => !(whole(d) && known.has(d.start)));
    if (missing.length > 0) {
      // One read from the first day not known to the end of the last: days known in between are
      // read again, which costs less than a query per gap.
      const first = missing[0]!;
      const last = missing[missing.length - 1]!;
      const span = days.slice(days.indexOf(first), days.indexOf(last) + 1);
      const bounds = [Math.max(first.start, f), ...span.slice(1).map((d) => d.start), Math.min(last.end, t)];
      const spend = await storedSpendByBucket(this.storage, scope, bounds);
      const settledBefore = this.now().getTime() - SETTLED_MS;
      span.forEach((d, i) => {
        if (whole(d) && d.end <= settledBefore) known.set(d.start, spend[i]!);
        else if (whole(d)) known.delete(d.start);
      });
      const read = new Map(span.map((d, i) => [d.start, spend[i]!]));
      return days.map((d) => ({ ...d, usd: read.get(d.start) ?? known.get(d.start) ?? new Money(0) }));
    }
    return days.map((d) => ({ ...d, usd: known.get(d.start)! }));
  }
}

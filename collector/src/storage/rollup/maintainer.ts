/**
 * Keeps the hourly rollups equal to the raw calls (docs/decisions/0044-rollup-rebuilt-from-raw-calls.md,
 * 0079-board-rollup.md). Every few seconds it:
 *  1. rebuilds sealed hours marked after their build (late spans, retries, a crash mid-write, a
 *     backfill of history), the marked hours of one day in one statement — but not those of a day
 *     whose day frontier move readers have not taken yet: they wait for a later round;
 *  2. builds the next closed hours (ended SEAL_GRACE_MS ago) after the frontier, a day per
 *     statement, up to a time budget per round, and moves the frontier past them; readers take the
 *     new frontier PUBLISH_DELAY_MS later (the view filters on the move's time), so the plan
 *     survives a crash. A store upgraded from the old rollup is rebuilt this way, readers reading
 *     the raw calls for every hour not sealed yet;
 *  3. fills a rollup added after the store had history (its frontier behind the first one's) from
 *     the raw calls, a day per statement, moving its own frontier: readers use it once filled;
 *  4. folds the sealed hours into days (calls_daily, users_daily) up to the day frontier, builds
 *     again the days one of whose hours was built after the day read them, and fills a daily rollup
 *     added after the store had history behind a frontier of its own;
 *  5. once a minute, compares sealed hours with the raw calls (the latest ones and one older day in
 *     turn) and rebuilds any that differ: whatever else went wrong, the rollup is repaired.
 * Steps 1, 2 and 5 build every hourly rollup at once (one generation, one seal record per hour).
 * Several maintainers (several collectors on one server) may run at once: builds carry generations
 * ordered by the server's clock, the frontier only grows, and each step is safe to repeat.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Storage } from '../client';
import {
  advanceFrontier,
  buildHours,
  differingHours,
  fillHours,
  firstHourWithCalls,
  markedHours,
  readFrontier,
  serverNowMicros,
  type Build,
  type HourDifference,
} from './seal';
import { ROLLUPS, type Rollup } from './rollups';
import {
  advanceDayFrontier,
  buildDay,
  DAILY_ROLLUPS,
  DAY_S,
  fillDay,
  firstDayWithHours,
  pendingDayMoves,
  readDayFrontier,
  staleDays,
  type DailyRollup,
} from './days';
import type { FrontierGate } from './frontier-gate';
import {
  HOUR_MS,
  MAINTAIN_EVERY_MS,
  MARK_MARGIN_MS,
  PUBLISH_DELAY_MS,
  SEAL_GRACE_MS,
  VERIFY_EVERY_MS,
  VERIFY_RECENT_HOURS,
} from './timing';

const HOUR_S = HOUR_MS / 1000;
/** The rollups after the first: each has a frontier of its own, at most the first one's. */
const FOLLOWERS = ROLLUPS.slice(1);
/** Work per round before yielding to ingest (the embedded engine runs one statement at a time). */
const ROUND_BUDGET_MS = 3_000;
/** Marked hours looked up per round: a month of backfilled history is rebuilt in a few rounds. */
const MARKED_PER_ROUND = 24 * 31;

export interface RollupStats {
  /** Hours before this (ISO) are read from the rollup. */
  sealedUntil: string | null;
  /** The same for each rollup after the first (behind it while one added by an upgrade fills). */
  followers: Record<string, string | null>;
  /** Hours written into a rollup added after the store had history. */
  hoursFilled: number;
  /** Days before this (ISO) are read from calls_daily. */
  daysSealedUntil: string | null;
  daysBuilt: number;
  /** Days written into a daily rollup added after the store had history. */
  daysFilled: number;
  /** Sealed days built again because one of their hours was. */
  daysRebuilt: number;
  hoursBuilt: number;
  hoursRebuilt: number;
  /** Sealed hours found different from their raw calls with no write to explain it, and rebuilt. */
  hoursRepaired: number;
  /** Frontier moves stopped short by an insert into an hour they would have passed. */
  frontierHolds: number;
  lastError: string | null;
}

export interface RollupMaintainerOptions {
  storage: Storage;
  log: (line: string) => void;
  everyMs?: number;
  /** Default PUBLISH_DELAY_MS, which the view applies (tests make a move visible sooner by backdating it). */
  publishDelayMs?: number;
  /** Shared with this process's writer: frontier moves and inserts into ended hours kept apart. */
  gate?: FrontierGate;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

export class RollupMaintainer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastVerify = 0;
  /** Older sealed hours are checked a day at a time, going back from here, then around again. */
  private verifyCursor: number | undefined;
  private lastLogged = '';
  private readonly figures: RollupStats = {
    sealedUntil: null,
    followers: {},
    hoursFilled: 0,
    daysSealedUntil: null,
    daysBuilt: 0,
    daysFilled: 0,
    daysRebuilt: 0,
    hoursBuilt: 0,
    hoursRebuilt: 0,
    hoursRepaired: 0,
    frontierHolds: 0,
    lastError: null,
  };

  constructor(private readonly options: RollupMaintainerOptions) {}

  get stats(): RollupStats {
    return { ...this.figures, followers: { ...this.figures.followers } };
  }

  start(): void {
    const tick = (): void => {
      if (this.running || this.stopped) return;
      this.running = this.round()
        .catch((err: unknown) => this.failed(err))
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, this.options.everyMs ?? MAINTAIN_EVERY_MS);
    this.timer.unref();
    tick();
  }

  /** No round starts after this; resolves once the one in flight (if any) has finished. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** One round of the three steps (exported for tests; start() runs it on a timer). */
  async round(): Promise<void> {
    const { storage } = this.options;
    const began = performance.now();
    const nowMicros = await serverNowMicros(storage);
    const nowMs = Number(nowMicros / 1000n);
    // Started now: every insert committed before this is in what the round reads; marks older than
    // the margin have committed their inserts (or never will).
    const build: Build = {
      generation: (nowMicros * 1000n + BigInt(randomInt(1000))).toString(),
      coveredUntilMs: nowMs - MARK_MARGIN_MS,
    };
    const deadline = Date.now() + ROUND_BUDGET_MS;
    const frontier = await readFrontier(storage);

    // An hour of a day whose move readers have not taken yet waits for a round after they have: its
    // rebuild and its day's are two statements, and a board that took the move between them would
    // read the day's old build after the new hour (decision 0117).
    const pending = await pendingDayMoves(storage);
    const waits = (hour: number): boolean => pending.some((p) => hour >= p.from && hour < p.to);
    const marked = (await markedHours(storage, frontier, MARKED_PER_ROUND)).filter((h) => !waits(h));
    for (const hours of byDay(marked)) {
      if (this.stopped || Date.now() > deadline) break;
      // One statement per day: the hours between two marked ones are rebuilt too (from the same raw
      // calls: unchanged), and a day lies in one month's partition, so readers see one build or the other.
      await buildHours(storage, hours[0]!, hours.at(-1)! + HOUR_S, build, hours);
      this.figures.hoursRebuilt += hours.length;
    }

    const followers = new Map<Rollup, number>();
    for (const rollup of FOLLOWERS) followers.set(rollup, await readFrontier(storage, rollup));
    const sealed = this.stopped
      ? frontier
      : await this.buildAhead(frontier, followers, nowMs, build, deadline, began);
    for (const [rollup, from] of followers) {
      if (this.stopped) break;
      // A rollup built from another is filled no further than that one is (filled earlier: ROLLUPS order).
      const source = rollup.buildFrom && followers.get(rollup.buildFrom);
      const upTo = source === undefined ? sealed : Math.min(sealed, source);
      followers.set(rollup, await this.fill(rollup, from, upTo, build, deadline, began));
    }

    const days = this.stopped ? undefined : await this.buildDays(followers, build, deadline);

    if (!this.stopped && nowMs - this.lastVerify >= VERIFY_EVERY_MS && frontier > 0) {
      this.lastVerify = nowMs;
      await this.verify(frontier, followers, build, nowMs, waits);
    }
    this.figures.sealedUntil = sealed > 0 ? iso(sealed) : null;
    for (const [rollup, f] of followers) this.figures.followers[rollup.name] = f > 0 ? iso(f) : null;
    if (days !== undefined) this.figures.daysSealedUntil = days > 0 ? iso(days) : null;
    this.figures.lastError = null;
    this.lastLogged = '';
  }

  /**
   * Builds the closed hours after the frontier, a day per statement, within the round's budget; moves
   * it, and the frontier of every rollup that was level with it (updated in `followers`). Returns
   * the first rollup's frontier after the round.
   */
  private async buildAhead(
    frontier: number,
    followers: Map<Rollup, number>,
    nowMs: number,
    build: Build,
    deadline: number,
    began: number,
  ): Promise<number> {
    const { storage } = this.options;
    const closedUntil = Math.floor((nowMs - SEAL_GRACE_MS) / HOUR_MS) * HOUR_S;
    let until = frontier;
    while (until < closedUntil && !this.stopped) {
      const next = await firstHourWithCalls(storage, until, closedUntil);
      if (next === undefined) {
        until = closedUntil;
        break;
      }
      const end = Math.min(next + DAY_S, closedUntil);
      await buildHours(storage, next, end, build);
      this.figures.hoursBuilt += (end - next) / HOUR_S;
      until = end;
      if (Date.now() > deadline) break;
    }
    return this.moveFrontier(frontier, until, began, async (to, backdate) => {
      // After the rows: readers take the move PUBLISH_DELAY_MS after it was written.
      await advanceFrontier(storage, to, backdate);
      for (const [rollup, f] of followers) {
        if (f < frontier) continue; // still filling: step 3 moves it
        await advanceFrontier(storage, to, backdate, rollup);
        followers.set(rollup, to);
      }
    });
  }

  /**
   * Moves a frontier from `frontier` towards `until` with `write`: no further than the writer's
   * inserts allow (the gate), and inserts into the hours passed wait until readers take the move.
   * Returns the frontier after the move.
   */
  private async moveFrontier(
    frontier: number,
    until: number,
    began: number,
    write: (to: number, backdateMs: number) => Promise<void>,
  ): Promise<number> {
    if (until <= frontier) return frontier;
    const delay = this.options.publishDelayMs ?? PUBLISH_DELAY_MS;
    const move = this.options.gate?.claim(frontier, until, began) ?? { until, published: () => undefined };
    if (move.until < until) this.figures.frontierHolds++;
    if (move.until <= frontier) return frontier;
    try {
      await write(move.until, PUBLISH_DELAY_MS - delay);
    } finally {
      move.published(delay);
    }
    return move.until;
  }

  /**
   * Fills `rollup` from its frontier up to `sealed` (the first rollup's frontier, or that of the
   * rollup it is built from), a day per statement,
   * within the round's budget, and moves its frontier: a rollup a migration added to a store with
   * history. Hours with no calls are skipped. Returns its frontier after the round.
   */
  private async fill(
    rollup: Rollup,
    frontier: number,
    sealed: number,
    build: Build,
    deadline: number,
    began: number,
  ): Promise<number> {
    const { storage } = this.options;
    let until = frontier;
    while (until < sealed && !this.stopped && Date.now() <= deadline) {
      const next = await firstHourWithCalls(storage, until, sealed);
      if (next === undefined) {
        until = sealed;
        break;
      }
      const end = Math.min(next + DAY_S, sealed);
      await fillHours(storage, rollup, next, end, build);
      this.figures.hoursFilled += (end - next) / HOUR_S;
      until = end;
    }
    return this.moveFrontier(frontier, until, began, (to, backdate) =>
      advanceFrontier(storage, to, backdate, rollup),
    );
  }

  /**
   * Builds again the sealed days one of whose hours was built since, then the days whose hours are
   * all sealed in calls_hourly (its frontier in `hours`), within the round's budget; moves the day
   * frontier, and that of every daily rollup level with it. Then fills the daily rollups behind it
   * (added to a store with history) up to where their hours are sealed. Returns the day frontier.
   */
  private async buildDays(hours: Map<Rollup, number>, build: Build, deadline: number): Promise<number> {
    const { storage } = this.options;
    const [first, ...others] = DAILY_ROLLUPS as [DailyRollup, ...DailyRollup[]];
    const frontier = await readDayFrontier(storage);
    const behind = new Map<DailyRollup, number>();
    for (const rollup of others) behind.set(rollup, await readDayFrontier(storage, rollup));
    for (const day of await staleDays(storage, frontier, 31)) {
      if (this.stopped || Date.now() > deadline) return frontier;
      await buildDay(storage, day, build);
      this.figures.daysRebuilt++;
    }
    // Every daily rollup level with the first one is built with it: all their hours must be sealed.
    const level = [first, ...others.filter((r) => behind.get(r)! >= frontier)];
    const hoursUntil = Math.min(...level.map((r) => hours.get(r.hourly) ?? 0));
    const closed = Math.floor(hoursUntil / DAY_S) * DAY_S;
    let until = frontier;
    while (until < closed && !this.stopped && Date.now() <= deadline) {
      const next = await firstDayWithHours(storage, until, closed);
      if (next === undefined) {
        until = closed;
        break;
      }
      await buildDay(storage, next, build);
      this.figures.daysBuilt++;
      until = next + DAY_S;
    }
    const backdate = PUBLISH_DELAY_MS - (this.options.publishDelayMs ?? PUBLISH_DELAY_MS);
    if (until > frontier) {
      for (const rollup of level) await advanceDayFrontier(storage, until, backdate, rollup);
    }
    for (const [rollup, from] of behind) {
      if (from >= frontier || this.stopped) continue;
      const sealedHours = Math.floor((hours.get(rollup.hourly) ?? 0) / DAY_S) * DAY_S;
      await this.fillDays(rollup, from, Math.min(until, sealedHours), build, deadline, backdate);
    }
    return Math.max(until, frontier);
  }

  /** Fills a daily rollup from its frontier up to `to` (seconds), a day per statement; moves its frontier. */
  private async fillDays(
    rollup: DailyRollup,
    frontier: number,
    to: number,
    build: Build,
    deadline: number,
    backdate: number,
  ): Promise<void> {
    const { storage } = this.options;
    let until = frontier;
    while (until < to && !this.stopped && Date.now() <= deadline) {
      const next = await firstDayWithHours(storage, until, to, rollup.hourly);
      if (next === undefined) {
        until = to;
        break;
      }
      await fillDay(storage, rollup, next, build);
      this.figures.daysFilled++;
      until = next + DAY_S;
    }
    if (until > frontier) await advanceDayFrontier(storage, until, backdate, rollup);
  }

  /** Compares sealed hours of every rollup with the raw calls; rebuilds the ones that differ. */
  private async verify(
    frontier: number,
    followers: Map<Rollup, number>,
    build: Build,
    nowMs: number,
    waits: (hour: number) => boolean,
  ): Promise<void> {
    const { storage } = this.options;
    const recentFrom = frontier - VERIFY_RECENT_HOURS * HOUR_S;
    const ranges: Array<[number, number]> = [[recentFrom, frontier]];
    const cursor = this.verifyCursor !== undefined && this.verifyCursor > 0 ? this.verifyCursor : recentFrom;
    ranges.push([cursor - DAY_S, cursor]);
    const oldest = await firstHourWithCalls(storage, 0, cursor);
    this.verifyCursor = oldest === undefined || cursor - DAY_S <= oldest ? recentFrom : cursor - DAY_S;
    const rebuilt = new Set<number>();
    const checked: Array<[Rollup, number]> = [[ROLLUPS[0]!, frontier], ...followers];
    for (const [from, to] of ranges) {
      for (const [rollup, sealedUntil] of checked) {
        for (const d of await differingHours(storage, from, Math.min(to, sealedUntil), rollup)) {
          if (rebuilt.has(d.hour) || waits(d.hour)) continue; // a pending day: a later check
          rebuilt.add(d.hour);
          await this.repair(d, rollup, build, nowMs);
        }
      }
    }
  }

  /** Rebuilds the hour in every rollup; counts and logs it unless a recent write explains it. */
  private async repair(d: HourDifference, rollup: Rollup, build: Build, nowMs: number): Promise<void> {
    await buildHours(this.options.storage, d.hour, d.hour + HOUR_S, build, [d.hour]);
    // A write after the build explains a difference; anything else was a fault, repaired now.
    if (nowMs - d.markedAtMs < MARK_MARGIN_MS + VERIFY_EVERY_MS) return;
    this.figures.hoursRepaired++;
    this.options.log(
      `rollup: hour ${iso(d.hour)} of ${rollup.name} differed from its raw calls (rollup ${d.rollup.calls} calls, ` +
        `$${d.rollup.usd}; raw ${d.raw.calls} calls, $${d.raw.usd}): rebuilt`,
    );
  }

  private failed(err: unknown): void {
    const message = (err as Error).message;
    this.figures.lastError = message;
    // Once per distinct failure: a ClickHouse that is down would otherwise log every round.
    if (message !== this.lastLogged) this.options.log(`rollup: ${message}`);
    this.lastLogged = message;
  }
}

/** Hours (seconds) grouped by UTC day, each group ascending; the days newest first. */
function byDay(hours: number[]): number[][] {
  const days = new Map<number, number[]>();
  for (const h of hours) {
    const day = Math.floor(h / DAY_S);
    let group = days.get(day);
    if (!group) days.set(day, (group = []));
    group.push(h);
  }
  return [...days.entries()].sort(([a], [b]) => b - a).map(([, group]) => group.sort((a, b) => a - b));
}

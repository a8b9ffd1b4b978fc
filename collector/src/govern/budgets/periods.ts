/**
 * Calendar budget periods — daily, weekly (ISO: Monday), monthly, quarterly — in an IANA time
 * zone (UTC by default), as UTC instants [start, end). Uses the runtime's Intl time zone data, so
 * a day across a DST change is 23 or 25 hours long and a month starts at local midnight.
 */
import type { BudgetPeriod } from 'tokenledger/policy';

export interface PeriodWindow {
  period: BudgetPeriod;
  timezone: string;
  start: Date;
  /** Exclusive. */
  end: Date;
}

interface WallClock {
  year: number;
  month: number; // 0-11
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 1 = Monday … 7 = Sunday (ISO)
}

const DAY_MS = 86_400_000;
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formats.set(timeZone, f);
  }
  return f;
}

function wallClock(at: number, timeZone: string): WallClock {
  const parts: Record<string, string> = {};
  for (const p of formatFor(timeZone).formatToParts(new Date(at))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month) - 1,
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday!]!,
  };
}

/** Local time minus UTC at an instant, ms. */
function offsetAt(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone);
  return Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second) - (at - (((at % 1000) + 1000) % 1000));
}

/**
 * The first instant of a local calendar day. Midnight can occur twice (a fall-back at 00:00: the
 * later one starts the day) or not at all (a spring-forward at 00:00: the day starts at the jump).
 */
export function startOfLocalDay(year: number, month: number, day: number, timeZone: string): Date {
  // UTC has no offsets to look up; other zones are asked once per day and remembered.
  if (timeZone === 'UTC') return new Date(Date.UTC(year, month, day));
  const key = `${timeZone}\u0000${year}-${month}-${day}`;
  let start = dayStarts.get(key);
  if (start === undefined) {
    if (dayStarts.size >= MAX_REMEMBERED_DAYS) dayStarts.clear();
    start = findStartOfLocalDay(year, month, day, timeZone);
    dayStarts.set(key, start);
  }
  return new Date(start);
}

/** Day starts already found (a backfill asks for the same days of a zone again and again). */
const dayStarts = new Map<string, number>();
const MAX_REMEMBERED_DAYS = 100_000;

function findStartOfLocalDay(year: number, month: number, day: number, timeZone: string): number {
  const local = Date.UTC(year, month, day);
  const candidates = [
    ...new Set([local - offsetAt(local - DAY_MS, timeZone), local - offsetAt(local + DAY_MS, timeZone)]),
  ].sort((a, b) => a - b);
  const sameDay = candidates.filter((c) => {
    const w = wallClock(c, timeZone);
    return w.year === year && w.month === month && w.day === day;
  });
  const exact = sameDay.filter((c) => {
    const w = wallClock(c, timeZone);
    return w.hour === 0 && w.minute === 0 && w.second === 0;
  });
  if (exact.length > 0) return exact[exact.length - 1]!;
  return sameDay[0] ?? candidates[0]!;
}

/** The budget period containing `now`. */
export function periodAt(period: BudgetPeriod, now: Date, timeZone = 'UTC'): PeriodWindow {
  const w = wallClock(now.getTime(), timeZone);
  // Calendar arithmetic on a UTC date (no zone involved), then each boundary to its local midnight.
  let first: Date;
  let next: Date;
  switch (period) {
    case 'daily':
      first = new Date(Date.UTC(w.year, w.month, w.day));
      next = new Date(Date.UTC(w.year, w.month, w.day + 1));
      break;
    case 'weekly':
      first = new Date(Date.UTC(w.year, w.month, w.day - (w.weekday - 1)));
      next = new Date(first.getTime() + 7 * DAY_MS);
      break;
    case 'monthly':
      first = new Date(Date.UTC(w.year, w.month, 1));
      next = new Date(Date.UTC(w.year, w.month + 1, 1));
      break;
    case 'quarterly': {
      const q = Math.floor(w.month / 3) * 3;
      first = new Date(Date.UTC(w.year, q, 1));
      next = new Date(Date.UTC(w.year, q + 3, 1));
      break;
    }
  }
  const boundary = (d: Date): Date =>
    startOfLocalDay(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), timeZone);
  return { period, timezone: timeZone, start: boundary(first), end: boundary(next) };
}

/** A calendar day in a time zone, as UTC instants. */
export interface LocalDay {
  start: number;
  /** Exclusive. */
  end: number;
  /** 0 = Monday … 6 = Sunday. */
  weekday: number;
}

/** The local days from the one containing `from` to the one containing `to` − 1 ms. */
export function localDays(from: Date, to: Date, timeZone = 'UTC'): LocalDay[] {
  const days: LocalDay[] = [];
  const w = wallClock(from.getTime(), timeZone);
  let date = new Date(Date.UTC(w.year, w.month, w.day));
  let start = startOfLocalDay(
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate(),
    timeZone,
  ).getTime();
  // A day starting after `from` (a midnight that did not happen) still holds it.
  if (start > from.getTime()) {
    date = new Date(date.getTime() - DAY_MS);
    start = startOfLocalDay(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), timeZone).getTime();
  }
  while (start < to.getTime()) {
    const next = new Date(date.getTime() + DAY_MS);
    const end = startOfLocalDay(
      next.getUTCFullYear(),
      next.getUTCMonth(),
      next.getUTCDate(),
      timeZone,
    ).getTime();
    days.push({ start, end, weekday: (date.getUTCDay() + 6) % 7 });
    date = next;
    start = end;
  }
  return days;
}

/** Consecutive budget periods from the one containing `from` to the one containing `to` − 1 ms. */
export function periodsBetween(period: BudgetPeriod, from: Date, to: Date, timeZone = 'UTC'): PeriodWindow[] {
  const windows: PeriodWindow[] = [];
  let at = from;
  while (at < to) {
    const w = periodAt(period, at, timeZone);
    windows.push(w);
    at = w.end;
  }
  return windows;
}

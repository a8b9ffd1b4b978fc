/** Report periods → a UTC [from, to) range. Pure; the clock is a parameter. */
import { EARLIEST_STORED_TIME, LATEST_STORED_TIME } from '../core/time-range';

const NAMED_PERIODS = ['current_month', 'last_month', 'last_7d', 'last_30d'] as const;

export interface PeriodRange {
  /** The period as asked (a name, YYYY-MM, or 'custom'). */
  period: string;
  from: Date;
  /** Exclusive. */
  to: Date;
}

export class PeriodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeriodError';
  }
}

const DAY_MS = 86_400_000;
const FIRST_YEAR = EARLIEST_STORED_TIME.getUTCFullYear();
const LAST_YEAR = LATEST_STORED_TIME.getUTCFullYear();
const startOfDay = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
const monthStart = (year: number, month: number): Date => new Date(Date.UTC(year, month, 1));

export function resolvePeriod(
  input: { period?: string; from?: string; to?: string },
  now: Date = new Date(),
): PeriodRange {
  if (input.from !== undefined || input.to !== undefined) {
    if (input.period !== undefined) throw new PeriodError('give either period or from/to, not both');
    if (!input.from || !input.to)
      throw new PeriodError('from and to must be given together (ISO 8601, to exclusive)');
    const from = parseInstant(input.from, 'from');
    const to = parseInstant(input.to, 'to');
    if (to <= from) throw new PeriodError(`to (${input.to}) must be after from (${input.from})`);
    return { period: 'custom', from, to };
  }
  const period = input.period ?? 'current_month';
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  switch (period) {
    case 'current_month':
      return { period, from: monthStart(y, m), to: monthStart(y, m + 1) };
    case 'last_month':
      return { period, from: monthStart(y, m - 1), to: monthStart(y, m) };
    case 'last_7d':
    case 'last_30d': {
      // Whole UTC days, today included.
      const days = period === 'last_7d' ? 7 : 30;
      const tomorrow = new Date(startOfDay(now).getTime() + DAY_MS);
      return { period, from: new Date(tomorrow.getTime() - days * DAY_MS), to: tomorrow };
    }
  }
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (month) {
    const mm = Number(month[2]);
    if (mm < 1 || mm > 12) throw new PeriodError(`invalid month in period "${period}"`);
    // Nothing is stored outside these years; and Date.UTC would read 0026 as 1926.
    const yyyy = Number(month[1]);
    if (yyyy < FIRST_YEAR || yyyy > LAST_YEAR)
      throw new PeriodError(`invalid year in period "${period}": use ${FIRST_YEAR} to ${LAST_YEAR}`);
    return { period, from: monthStart(yyyy, mm - 1), to: monthStart(yyyy, mm) };
  }
  throw new PeriodError(`unknown period "${period}": use ${NAMED_PERIODS.join(', ')}, YYYY-MM, or from/to`);
}

function parseInstant(value: string, name: string): Date {
  // Date-only values are UTC midnight; date-times need an explicit zone or are taken as UTC.
  const iso = /^\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value);
  if (!iso)
    throw new PeriodError(
      `${name} must be ISO 8601 (e.g. 2026-11-01 or 2026-11-01T00:00:00Z), got "${value}"`,
    );
  const d = new Date(iso[1] && !iso[2] ? `${value}Z` : value);
  if (Number.isNaN(d.getTime())) throw new PeriodError(`${name} is not a valid date: "${value}"`);
  return d;
}

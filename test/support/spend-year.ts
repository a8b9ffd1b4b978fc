/**
 * A year of AI spend for the forecast and budget tests, written without looking at the forecaster:
 * its shape is not the model's (multiplicative month-on-month growth, not a log-linear trend; a
 * step change; public holidays; a launch spike; a weekly cycle that differs per team; noise with
 * heavy-ish tails). Each team's day is a dollar target realised as individual calls, so what is
 * stored is calls, and every expected figure is the sum of the calls' exact decimals.
 */
import Decimal from 'decimal.js';
import type { PricedCall } from '../../collector/src/core/call';
import { nanos, pricedCall } from './calls';

/** The seeded year: 2025-11-01 (a Saturday) to 2026-10-31, UTC days. */
export const YEAR_START = Date.UTC(2025, 10, 1);
export const YEAR_DAYS = 365;
export const YEAR_END = YEAR_START + YEAR_DAYS * 86_400_000;
/** Early on the first day after the year: today is in progress. */
export const YEAR_NOW = new Date(YEAR_END + 9 * 3_600_000);

const DAY_MS = 86_400_000;

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Days on which most people are off (UTC dates). */
const HOLIDAYS = new Set([
  '2025-11-27', // Thanksgiving
  '2025-11-28',
  '2025-12-24',
  '2025-12-25',
  '2025-12-26',
  '2025-12-31',
  '2026-01-01',
  '2026-04-03', // Good Friday
  '2026-04-06', // Easter Monday
  '2026-05-25', // Memorial Day
  '2026-07-03',
  '2026-09-07', // Labor Day
]);

interface TeamShape {
  team: string;
  feature: string;
  /** Dollars on a weekday at the start of the year. */
  base: number;
  /** Monday..Sunday multipliers. */
  week: number[];
  /** Spend multiplier for day `d` (0 = the year's first day), beyond the week and holidays. */
  shape: (d: number, date: string) => number;
  noise: number;
}

const monthIndex = (date: string): number =>
  (Number(date.slice(0, 4)) - 2025) * 12 + Number(date.slice(5, 7)) - 11;

export const TEAMS: TeamShape[] = [
  {
    // Grows 7 % a month, compounding once a month (a staircase, not a smooth exponential), and
    // launches a feature mid-March: three days at several times the usual spend.
    team: 'search',
    feature: 'search-answers',
    base: 60,
    week: [1.1, 1.15, 1.1, 1.05, 0.95, 0.35, 0.3],
    shape: (_d, date) => {
      const growth = Math.pow(1.07, monthIndex(date));
      const launch = { '2026-03-16': 4, '2026-03-17': 2.5, '2026-03-18': 1.6 }[date] ?? 1;
      return growth * launch;
    },
    noise: 0.12,
  },
  {
    // Flat until a new product line moves onto it on 2026-05-11: 70 % more from that day.
    team: 'support',
    feature: 'chat',
    base: 35,
    week: [1, 1, 1, 1, 1, 0.7, 0.6],
    shape: (_d, date) => (date >= '2026-05-11' ? 1.7 : 1),
    noise: 0.1,
  },
  {
    // Batch work, little weekly cycle, no budget: the unbudgeted spend.
    team: 'billing',
    feature: 'invoice-extraction',
    base: 15,
    week: [1, 1, 1, 1, 1.3, 0.8, 0.8],
    shape: (d) => 1 + 0.25 * Math.sin((2 * Math.PI * d) / 91),
    noise: 0.2,
  },
];

export interface YearDay {
  /** UTC date, YYYY-MM-DD. */
  date: string;
  team: string;
  usd: Decimal;
}

/** Calls of the year, and each (team, day)'s exact total. */
export function spendYear(seed = 2025): { calls: PricedCall[]; days: YearDay[] } {
  const rand = prng(seed);
  // Sum of 4 uniforms: roughly normal; cubed sometimes for a heavier tail.
  const gauss = (): number => (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);
  const calls: PricedCall[] = [];
  const days: YearDay[] = [];
  let n = 0;
  for (let d = 0; d < YEAR_DAYS; d++) {
    const dayStart = YEAR_START + d * DAY_MS;
    const date = new Date(dayStart).toISOString().slice(0, 10);
    const weekday = (new Date(dayStart).getUTCDay() + 6) % 7; // Monday = 0
    const holiday = HOLIDAYS.has(date) ? 0.25 : 1;
    for (const t of TEAMS) {
      const z = gauss();
      const target =
        t.base * t.week[weekday]! * holiday * t.shape(d, date) * Math.exp(t.noise * (z + 0.15 * z * z * z));
      // Calls of about $1.50 each, each a different amount, spread over the day.
      const count = Math.max(1, Math.round(target / 1.5));
      let total = new Decimal(0);
      for (let i = 0; i < count; i++) {
        const usd = new Decimal(((target / count) * (0.5 + rand())).toFixed(6)).plus(
          new Decimal(Math.floor(rand() * 1000)).div(1e12),
        );
        total = total.plus(usd);
        n++;
        const at = dayStart + Math.floor(((i + rand()) / count) * DAY_MS);
        calls.push(
          pricedCall(
            {
              traceId: n.toString(16).padStart(32, '0'),
              spanId: n.toString(16).padStart(16, '0'),
              startTimeUnixNano: nanos(new Date(at)),
              provider: 'openai',
              requestModel: 'gpt-4o',
              responseModel: 'gpt-4o-2024-08-06',
              pricedProvider: 'openai',
              pricedModel: 'gpt-4o',
              inputTokens: 1000,
              outputTokens: 200,
              costUsd: usd.toFixed(),
              inputCostUsd: usd.toFixed(),
              priced: true,
            },
            { team: t.team, feature: t.feature, environment: 'production', service: `${t.team}-api` },
          ),
        );
      }
      days.push({ date, team: t.team, usd: total });
    }
  }
  return { calls, days };
}

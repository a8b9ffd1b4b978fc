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
import { prng } from './prng';

/** The seeded year by default: 2025-11-01 (a Saturday) to 2026-10-31, UTC days. */
export const YEAR_START = Date.UTC(2025, 10, 1);
export const YEAR_DAYS = 365;
export const YEAR_END = YEAR_START + YEAR_DAYS * 86_400_000;
/** Early on the first day after the year: today is in progress. */
export const YEAR_NOW = new Date(YEAR_END + 9 * 3_600_000);

const DAY_MS = 86_400_000;

/** A policy file for the year: search and support on monthly budgets, billing unbudgeted. */
export const YEAR_POLICY_YAML = `version: 1
policies:
  - name: search-monthly
    match: { team: search }
    budget: { usd: 3000, period: monthly }
  - name: support-monthly
    match: { team: support }
    budget: { usd: 1500, period: monthly }
`;

/**
 * Days on which most people are off, as days into the year (for the default start: Thanksgiving,
 * Christmas, New Year, Easter, Memorial Day, July 4th, Labor Day).
 */
const HOLIDAYS = new Set([26, 27, 53, 54, 55, 60, 61, 153, 156, 205, 244, 310]);

interface TeamShape {
  team: string;
  feature: string;
  /** Dollars on a weekday at the start of the year. */
  base: number;
  /** Monday..Sunday multipliers. */
  week: number[];
  /** Spend multiplier for day `d` (0 = the year's first day), beyond the week and holidays. */
  shape: (d: number) => number;
  noise: number;
}

/** Month-ends of the default year, as days into it: the staircase steps there. */
const MONTH_STARTS = [0, 30, 61, 92, 120, 151, 181, 212, 242, 273, 304, 334];
const monthIndex = (d: number): number => MONTH_STARTS.filter((m) => m <= d).length - 1;

export const TEAMS: TeamShape[] = [
  {
    // Grows 7 % a month, compounding once a month (a staircase, not a smooth exponential), and
    // launches a feature mid-March: three days at several times the usual spend.
    team: 'search',
    feature: 'search-answers',
    base: 60,
    week: [1.1, 1.15, 1.1, 1.05, 0.95, 0.35, 0.3],
    shape: (d) => Math.pow(1.07, monthIndex(d)) * ({ 135: 4, 136: 2.5, 137: 1.6 }[d] ?? 1),
    noise: 0.12,
  },
  {
    // Flat until a new product line moves onto it (2026-05-11 by default): 70 % more from that day.
    team: 'support',
    feature: 'chat',
    base: 35,
    week: [1, 1, 1, 1, 1, 0.7, 0.6],
    shape: (d) => (d >= 191 ? 1.7 : 1),
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

/**
 * Calls of the year, and each (team, day)'s exact total. `start`: the first day (UTC midnight);
 * `callUsd`: the average call (larger: fewer calls for the same dollars).
 */
export function spendYear(opts: { seed?: number; start?: number; callUsd?: number } = {}): {
  calls: PricedCall[];
  days: YearDay[];
} {
  const { seed = 2025, start = YEAR_START, callUsd = 1.5 } = opts;
  const rand = prng(seed);
  // Sum of 4 uniforms: roughly normal; cubed sometimes for a heavier tail.
  const gauss = (): number => (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);
  const calls: PricedCall[] = [];
  const days: YearDay[] = [];
  let n = 0;
  for (let d = 0; d < YEAR_DAYS; d++) {
    const dayStart = start + d * DAY_MS;
    const date = new Date(dayStart).toISOString().slice(0, 10);
    const weekday = (new Date(dayStart).getUTCDay() + 6) % 7; // Monday = 0
    const holiday = HOLIDAYS.has(d) ? 0.25 : 1;
    for (const t of TEAMS) {
      const z = gauss();
      const target =
        t.base * t.week[weekday]! * holiday * t.shape(d) * Math.exp(t.noise * (z + 0.15 * z * z * z));
      // Calls of about `callUsd` each, each a different amount, spread over the day.
      const count = Math.max(1, Math.round(target / callUsd));
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

/** A policy's budget in its current period: Decimal money, the state and the period-end forecast. */
import type { BudgetPeriod, Policy } from 'tokenledger/policy';
import type { BudgetState } from 'tokenledger/wire';
import { Money } from '../../core/money';
import type { PeriodWindow } from './periods';
import { stateOf, warningShare, type PeriodForecast } from './period-report';

export interface BudgetStatus {
  policy: string;
  period: BudgetPeriod;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  limitUsd: Money;
  spentUsd: Money;
  /** limit − spent, never below 0. */
  remainingUsd: Money;
  state: BudgetState;
  /** Expected spend at period end, its 80 % interval, and when the limit is (expected to be) reached. */
  forecastUsd: Money;
  forecastLowUsd: Money;
  forecastHighUsd: Money;
  breachAt: Date | null;
}

/** At the period's average rate so far: the forecast when the model cannot be asked. */
export function linearForecast(window: PeriodWindow, spent: Money, now: Date): PeriodForecast {
  const length = window.end.getTime() - window.start.getTime();
  const elapsed = Math.min(Math.max(now.getTime() - window.start.getTime(), 0), length);
  // The first minute says too little to extrapolate from.
  const usd =
    elapsed >= 60_000
      ? spent.times(length).dividedBy(elapsed).toDecimalPlaces(6, Money.ROUND_HALF_UP)
      : spent;
  return { usd, lowUsd: usd, highUsd: usd, breachAt: null };
}

export function budgetStatus(
  policy: Policy,
  window: PeriodWindow,
  spent: Money,
  forecast: PeriodForecast,
): BudgetStatus {
  const limit = new Money(policy.budget!.usd);
  return {
    policy: policy.name,
    period: window.period,
    timezone: window.timezone,
    periodStart: window.start,
    periodEnd: window.end,
    limitUsd: limit,
    spentUsd: spent,
    remainingUsd: Money.max(limit.minus(spent), 0),
    state: stateOf(spent, limit, forecast.usd, warningShare(policy))!,
    forecastUsd: forecast.usd,
    forecastLowUsd: forecast.lowUsd,
    forecastHighUsd: forecast.highUsd,
    breachAt: forecast.breachAt,
  };
}

/**
 * The status with `lostUsd` more spent: spend lease holders reported and the collector never stored
 * (LeaseBook.lostSpend). What the guard reads then says "spent" exactly when its lease answers do.
 */
export function withLostSpend(s: BudgetStatus, policy: Policy, lostUsd: Money): BudgetStatus {
  if (lostUsd.isZero()) return s;
  const spent = s.spentUsd.plus(lostUsd);
  const forecast = Money.max(s.forecastUsd, spent);
  return {
    ...s,
    spentUsd: spent,
    remainingUsd: Money.max(s.limitUsd.minus(spent), 0),
    state: stateOf(spent, s.limitUsd, forecast, warningShare(policy))!,
    forecastUsd: forecast,
    forecastHighUsd: Money.max(s.forecastHighUsd, spent),
  };
}

/** A policy's budget in its current period: pure arithmetic on Decimal money. */
import type { BudgetPeriod, Policy } from 'tokenledger/policy';
import { Money } from '../../core/money';
import type { PeriodWindow } from './periods';

import type { BudgetState } from 'tokenledger/wire';

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
  /** Spend at period end if the period continues at its average rate so far. */
  forecastUsd: Money;
}

/** Warning from the policy's first alert threshold, else 80 %. */
const DEFAULT_WARNING_AT = 0.8;

export function budgetStatus(policy: Policy, window: PeriodWindow, spent: Money, now: Date): BudgetStatus {
  const limit = new Money(policy.budget!.usd);
  const warnAt = policy.alerts?.at?.length ? Math.min(...policy.alerts.at) : DEFAULT_WARNING_AT;
  const state: BudgetState = spent.gte(limit)
    ? 'exceeded'
    : spent.gte(limit.times(warnAt))
      ? 'warning'
      : 'ok';
  const length = window.end.getTime() - window.start.getTime();
  const elapsed = Math.min(Math.max(now.getTime() - window.start.getTime(), 0), length);
  // Linear trend of the period so far; the first minute says too little to extrapolate from.
  const forecast =
    elapsed >= 60_000
      ? spent.times(length).dividedBy(elapsed).toDecimalPlaces(6, Money.ROUND_HALF_UP)
      : spent;
  return {
    policy: policy.name,
    period: window.period,
    timezone: window.timezone,
    periodStart: window.start,
    periodEnd: window.end,
    limitUsd: limit,
    spentUsd: spent,
    remainingUsd: Money.max(limit.minus(spent), 0),
    state,
    forecastUsd: forecast,
  };
}

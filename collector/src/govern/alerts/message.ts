/** The words of a budget alert: one text for chat and e-mail, plus Slack blocks. */
import type { Policy } from 'tokenledger/policy';
import type { Money } from '../../core/money';
import type { BudgetStatus } from '../budgets/status';

export interface AlertMessage {
  subject: string;
  text: string;
  /** Slack Block Kit; other webhook receivers read `text`. */
  blocks: unknown[];
}

/** $412.50 for dollars, more digits for amounts under a dollar (test and pilot budgets are small). */
function usd(amount: Money): string {
  return `$${amount.gte(1) ? amount.toFixed(2) : amount.toSignificantDigits(4).toFixed()}`;
}

const percent = (threshold: number): string => `${Math.round(threshold * 1000) / 10} %`;
const day = (d: Date): string => d.toISOString().replace(/:00\.000Z$/, 'Z');

export function alertMessage(policy: Policy, status: BudgetStatus, threshold: number): AlertMessage {
  const exceeded = threshold >= 1;
  const subject = `[tokenledger] ${policy.name}: ${percent(threshold)} of the ${status.period} budget ${exceeded ? 'reached' : 'used'}`;
  const consequence =
    policy.on_exceeded === 'block'
      ? 'calls are blocked once the budget is spent'
      : policy.on_exceeded === 'downgrade'
        ? `calls switch to ${policy.downgrade_to} once the budget is spent`
        : 'calls continue; this is an alert only';
  const text =
    `${exceeded ? ':rotating_light:' : ':warning:'} Policy *${policy.name}* has used ${percent(threshold)} of its ` +
    `${status.period} budget: ${usd(status.spentUsd)} of ${usd(status.limitUsd)} spent ` +
    `(period ${day(status.periodStart)} → ${day(status.periodEnd)}, ${status.timezone}). ` +
    `Forecast at period end: ${usd(status.forecastUsd)}. On exceeding: ${consequence}.`;
  return {
    subject,
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `state: *${status.state}* · remaining ${usd(status.remainingUsd)} · tokenledger`,
          },
        ],
      },
    ],
  };
}

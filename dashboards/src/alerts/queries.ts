/**
 * The SQL behind the generated alert rules. Alert queries run without dashboard variables, so the
 * database is written in; policy names come from the reviewed policy file, quoted as SQL strings.
 * Every query returns one numeric `value` per row; string columns become alert labels.
 */
import { CURRENT_LINES } from '../catalog/bill';
import { SNAPSHOT_LOOKBACK } from '../catalog/sql';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function assertDatabase(db: string): string {
  if (!IDENTIFIER.test(db)) throw new Error(`invalid database "${db}": use letters, digits and _`);
  return db;
}

/** A ClickHouse string literal (backslash and quote escaped). */
const sqlString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Latest snapshot of one policy's latest period, as a share of its limit (`spent` or `forecast`). */
export function budgetShareSql(db: string, policy: string, of: 'spent_usd' | 'forecast_usd'): string {
  return `
SELECT policy, if(limit_usd = 0, 0, toFloat64(amount) / toFloat64(limit_usd)) AS value
FROM (
  SELECT policy, argMax(${of}, at) AS amount, argMax(limit_usd, at) AS limit_usd
  FROM ${assertDatabase(db)}.budget_snapshots
  WHERE policy = ${sqlString(policy)} AND at <= $__toTime AND at > $__toTime - ${SNAPSHOT_LOOKBACK}
  GROUP BY policy
)`.trim();
}

/** Spend of the last complete hour over the hour before it (0 when the earlier hour had none). */
export function spendSpikeSql(db: string): string {
  return `
WITH toStartOfHour($__toTime, 'UTC') - INTERVAL 1 HOUR AS last_hour
SELECT
  if(sumIf(cost_usd, hour = last_hour - INTERVAL 1 HOUR) = 0, 0,
     toFloat64(sumIf(cost_usd, hour = last_hour)) / toFloat64(sumIf(cost_usd, hour = last_hour - INTERVAL 1 HOUR))) AS value
FROM ${assertDatabase(db)}.spend_hourly
WHERE hour >= last_hour - INTERVAL 1 HOUR AND hour <= last_hour`.trim();
}

/** Share of failed calls per service over the rule's window, for services with enough calls. */
export function errorRateSql(db: string, minCalls: number): string {
  return `
SELECT service, toFloat64(sum(error_calls)) / toFloat64(sum(calls)) AS value
FROM ${assertDatabase(db)}.spend_hourly
WHERE $__timeFilter(hour)
GROUP BY service
HAVING sum(calls) >= ${Math.max(1, Math.floor(minCalls))}`.trim();
}

/** Share of the window's spend with neither team nor cost center. */
export function unattributedShareSql(db: string): string {
  return `
SELECT if(sum(cost_usd) = 0, 0,
          toFloat64(sumIf(cost_usd, team = '' AND cost_center = '')) / toFloat64(sum(cost_usd))) AS value
FROM ${assertDatabase(db)}.spend_hourly
WHERE $__timeFilter(hour)`.trim();
}

/** Each provider's meter coverage of its imported bill over the window (providers billed in it). */
export function billCoverageSql(db: string): string {
  return `
SELECT provider, toFloat64(sum(covered)) / toFloat64(sum(billed)) AS value
FROM ${CURRENT_LINES.replaceAll('${database}', assertDatabase(db))}
GROUP BY provider
HAVING sum(billed) > 0`.trim();
}

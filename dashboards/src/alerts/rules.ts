/**
 * Alert rules as code: from the policy file to Grafana alert rules, built with the foundation SDK's
 * alerting builders (its HTTP API shape; ./provisioning.ts converts to the file-provisioning shape).
 */
import * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import * as expr from '@grafana/grafana-foundation-sdk/expr';
import type { PolicyFile } from 'tokenledger/policy';
import { ClickHouseQueryBuilder } from '../grafana/clickhouse-query';
import {
  billCoverageSql,
  budgetShareSql,
  errorRateSql,
  spendSpikeSql,
  unattributedShareSql,
} from './queries';

export const ALERT_FOLDER = 'tokenledger';
export const POLICY_LABEL = 'tokenledger_policy';
const KIND_LABEL = 'tokenledger_alert';

export interface AlertOptions {
  datasourceUid: string;
  database: string;
  /** Last complete hour's spend over the hour before it, above which spend "spikes" (default 2). */
  spikeRatio?: number;
  /** Failed share of a service's calls in the last hour (default 0.1), once it made `errorMinCalls` (default 20). */
  errorRate?: number;
  errorMinCalls?: number;
  /** Share of the last 24 h's spend without team and cost center (default 0.05). */
  unattributedShare?: number;
}

type Evaluator = 'gt' | 'gte' | 'lt';

interface RuleSpec {
  uid: string;
  title: string;
  sql: string;
  /** Seconds before now the query's time range starts. */
  lookbackSeconds: number;
  evaluator: Evaluator;
  threshold: number;
  forDuration: string;
  labels: Record<string, string>;
  summary: string;
}

/** Grafana rule uids: at most 40 characters of letters, digits, - and _. */
export function ruleUid(...parts: string[]): string {
  const slug = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug.length <= 40) return slug;
  let hash = 0;
  for (const ch of slug) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `${slug.slice(0, 31)}-${hash.toString(36).padStart(7, '0').slice(0, 8)}`;
}

function rule(spec: RuleSpec, opts: AlertOptions, group: string): alerting.RuleBuilder {
  const query = new alerting.QueryBuilder('A')
    .datasourceUid(opts.datasourceUid)
    .relativeTimeRange({ from: spec.lookbackSeconds, to: 0 })
    .model(new ClickHouseQueryBuilder(opts.datasourceUid, spec.sql).refId('A'));
  const condition = new alerting.QueryBuilder('B').datasourceUid('__expr__').model(
    new expr.TypeThresholdBuilder()
      .refId('B')
      .datasource({ type: '__expr__', uid: '__expr__' })
      .expression('A')
      .conditions([{ evaluator: { type: spec.evaluator, params: [spec.threshold] } }]),
  );
  return new alerting.RuleBuilder(spec.title)
    .uid(spec.uid)
    .ruleGroup(group)
    .folderUID(ALERT_FOLDER)
    .orgID(1)
    .condition('B')
    .queries([query, condition])
    .forDuration(spec.forDuration)
    .noDataState('OK')
    .execErrState('Error')
    .labels(spec.labels)
    .annotations({ summary: spec.summary });
}

function budgetRules(policy: PolicyFile['policies'][number], opts: AlertOptions): RuleSpec[] {
  if (!policy.budget) return [];
  const labels = { [POLICY_LABEL]: policy.name };
  const cap = `${policy.budget.usd} USD ${policy.budget.period}`;
  const thresholds = policy.alerts?.at ?? [];
  return [
    ...thresholds.map((at) => ({
      uid: ruleUid('tl-budget', policy.name, String(Math.round(at * 100))),
      title: `${policy.name}: ${Math.round(at * 100)} % of budget used`,
      sql: budgetShareSql(opts.database, policy.name, 'spent_usd'),
      lookbackSeconds: 3600,
      evaluator: 'gte' as const,
      threshold: at,
      forDuration: '0s',
      labels: { ...labels, [KIND_LABEL]: 'budget-threshold', severity: at >= 1 ? 'critical' : 'warning' },
      summary: `Policy ${policy.name} has used ${Math.round(at * 100)} % or more of its budget (${cap}).`,
    })),
    {
      uid: ruleUid('tl-forecast', policy.name),
      title: `${policy.name}: projected to exceed budget`,
      sql: budgetShareSql(opts.database, policy.name, 'forecast_usd'),
      lookbackSeconds: 3600,
      evaluator: 'gt',
      threshold: 1,
      forDuration: '15m',
      labels: { ...labels, [KIND_LABEL]: 'budget-forecast', severity: 'warning' },
      summary: `At its current pace, policy ${policy.name} will exceed its budget (${cap}) before the period ends.`,
    },
  ];
}

function globalRules(opts: AlertOptions): RuleSpec[] {
  const spike = opts.spikeRatio ?? 2;
  const errors = opts.errorRate ?? 0.1;
  const unattributed = opts.unattributedShare ?? 0.05;
  return [
    {
      uid: 'tl-spend-spike',
      title: 'AI spend spike (hour over hour)',
      sql: spendSpikeSql(opts.database),
      lookbackSeconds: 3 * 3600,
      evaluator: 'gt',
      threshold: spike,
      forDuration: '0s',
      labels: { [KIND_LABEL]: 'spend-spike', severity: 'warning' },
      summary: `AI spend in the last complete hour is more than ${spike}× the hour before.`,
    },
    {
      uid: 'tl-error-rate',
      title: 'AI call error rate',
      sql: errorRateSql(opts.database, opts.errorMinCalls ?? 20),
      lookbackSeconds: 3600,
      evaluator: 'gt',
      threshold: errors,
      forDuration: '10m',
      labels: { [KIND_LABEL]: 'error-rate', severity: 'warning' },
      summary: `More than ${Math.round(errors * 100)} % of a service's AI calls failed in the last hour.`,
    },
    {
      uid: 'tl-unattributed-spend',
      title: 'Unattributed AI spend',
      sql: unattributedShareSql(opts.database),
      lookbackSeconds: 24 * 3600,
      evaluator: 'gt',
      threshold: unattributed,
      forDuration: '1h',
      labels: { [KIND_LABEL]: 'unattributed', severity: 'info' },
      summary: `More than ${Math.round(unattributed * 100)} % of the last 24 h's AI spend has no team or cost center.`,
    },
  ];
}

/** The policy's `reconciliation.alert_below`: a provider's meter covers too little of its bill. */
function billRules(policy: PolicyFile | undefined, opts: AlertOptions): RuleSpec[] {
  const below = policy?.reconciliation?.alert_below;
  if (below === undefined) return [];
  return [
    {
      uid: 'tl-bill-coverage',
      title: 'Meter coverage of the bill',
      sql: billCoverageSql(opts.database),
      lookbackSeconds: 31 * 86_400,
      evaluator: 'lt',
      threshold: below,
      forDuration: '0s',
      labels: { [KIND_LABEL]: 'bill-coverage', severity: 'warning' },
      summary: `The meter covers less than ${Math.round(below * 100)} % of a provider's imported bill over the last 31 days: look for uninstrumented apps or keys (tokenledger reconcile).`,
    },
  ];
}

const BUDGET_GROUP = 'tokenledger-budgets';
const HEALTH_GROUP = 'tokenledger-spend-health';

/** Rule groups (API shape): one for the policies' budgets, one for spend health. */
export function buildRuleGroups(policy: PolicyFile | undefined, opts: AlertOptions): alerting.RuleGroup[] {
  const budgets = (policy?.policies ?? []).flatMap((p) => budgetRules(p, opts));
  const groups: [string, RuleSpec[]][] = [
    [BUDGET_GROUP, budgets],
    [HEALTH_GROUP, [...globalRules(opts), ...billRules(policy, opts)]],
  ];
  return groups
    .filter(([, specs]) => specs.length > 0)
    .map(([name, specs]) =>
      new alerting.RuleGroupBuilder(name)
        .folderUid(ALERT_FOLDER)
        .interval(60)
        .rules(specs.map((s) => rule(s, opts, name)))
        .build(),
    );
}

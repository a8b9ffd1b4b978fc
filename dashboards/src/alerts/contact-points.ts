/**
 * Contact points and the notification policy tree from the policy file: the file's named channels
 * receive everything; a policy with its own alert targets gets its own contact point and route.
 */
import * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import type { PolicyFile } from 'tokenledger/policy';
import { POLICY_LABEL, ruleUid } from './rules';

const DEFAULT_CONTACT_POINT = 'tokenledger';
/** Grafana's built-in contact point, the root receiver when the file names no channels. */
const GRAFANA_DEFAULT_CONTACT_POINT = 'grafana-default-email';

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** A named contact point: its receivers (one per webhook, one email receiver for all addresses). */
export interface NamedContactPoint {
  name: string;
  receivers: alerting.ContactPoint[];
}

function receivers(name: string, webhooks: string[], emails: string[]): alerting.ContactPoint[] {
  const hooks = webhooks.map((url, i) =>
    new alerting.ContactPointBuilder()
      .uid(ruleUid('tl-cp', name, 'webhook', String(i)))
      .name(name)
      .type('webhook')
      .settings({ url, httpMethod: 'POST' })
      .build(),
  );
  const mail =
    emails.length === 0
      ? []
      : [
          new alerting.ContactPointBuilder()
            .uid(ruleUid('tl-cp', name, 'email'))
            .name(name)
            .type('email')
            .settings({ addresses: emails.join(';'), singleEmail: true })
            .build(),
        ];
  return [...hooks, ...mail];
}

export function buildContactPoints(policy: PolicyFile | undefined): NamedContactPoint[] {
  const points: NamedContactPoint[] = [];
  const defaults = receivers(
    DEFAULT_CONTACT_POINT,
    list(policy?.channels?.webhook),
    list(policy?.channels?.email),
  );
  if (defaults.length > 0) points.push({ name: DEFAULT_CONTACT_POINT, receivers: defaults });
  for (const p of policy?.policies ?? []) {
    const name = `${DEFAULT_CONTACT_POINT}-${p.name}`;
    const own = receivers(name, list(p.alerts?.webhook), list(p.alerts?.email));
    if (own.length > 0) points.push({ name, receivers: own });
  }
  return points;
}

/** Root: the file's channels (or Grafana's default); a route per policy that has its own targets. */
export function buildNotificationPolicy(points: NamedContactPoint[]): alerting.NotificationPolicy {
  const hasDefault = points.some((p) => p.name === DEFAULT_CONTACT_POINT);
  const routes = points
    .filter((p) => p.name !== DEFAULT_CONTACT_POINT)
    .map((p) =>
      new alerting.NotificationPolicyBuilder()
        .receiver(p.name)
        .objectMatchers([[POLICY_LABEL, '=', p.name.slice(DEFAULT_CONTACT_POINT.length + 1)]])
        .continueVal(hasDefault),
    );
  // A policy route that matched hides the root receiver, so the file's channels also get a
  // catch-all route after the policy routes (which continue to it).
  const catchAll =
    hasDefault && routes.length > 0
      ? [new alerting.NotificationPolicyBuilder().receiver(DEFAULT_CONTACT_POINT)]
      : [];
  return new alerting.NotificationPolicyBuilder()
    .receiver(hasDefault ? DEFAULT_CONTACT_POINT : GRAFANA_DEFAULT_CONTACT_POINT)
    .groupBy(['grafana_folder', 'alertname', POLICY_LABEL])
    .routes([...routes, ...catchAll])
    .build();
}

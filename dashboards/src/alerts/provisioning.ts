/**
 * Grafana alerting FILE provisioning (`apiVersion: 1`, groups / contactPoints / policies), converted
 * from the HTTP-API shapes the foundation SDK builds. Differences handled here: a group carries
 * orgId, name, folder (title) and interval as a duration string; rules drop folderUID / orgID /
 * ruleGroup; a contact point is a name with a list of receivers; a policy tree carries its orgId.
 */
import type * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import { stringify } from 'yaml';

/** No line folding: SQL stays readable as a literal block. */
const YAML_OPTIONS = { lineWidth: 0 };
import type { NamedContactPoint } from './contact-points';
import { ALERT_FOLDER } from './rules';

const ORG_ID = 1;

/** Drops functions (the SDK's variant markers) and undefined fields: plain data for YAML. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const seconds = (s: number): string => (s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function fileRule(r: alerting.Rule): Record<string, unknown> {
  return plain({
    uid: r.uid,
    title: r.title,
    condition: r.condition,
    data: r.data.map((q) => ({
      refId: q.refId,
      relativeTimeRange: q.relativeTimeRange ?? { from: 0, to: 0 },
      datasourceUid: q.datasourceUid,
      model: q.model,
    })),
    noDataState: r.noDataState,
    execErrState: r.execErrState,
    for: r.for,
    annotations: r.annotations,
    labels: r.labels,
    isPaused: r.isPaused ?? false,
  });
}

export function alertRulesFile(groups: alerting.RuleGroup[]): string {
  return stringify(
    {
      apiVersion: 1,
      groups: groups.map((g) => ({
        orgId: ORG_ID,
        name: g.title,
        folder: ALERT_FOLDER,
        interval: seconds(g.interval ?? 60),
        rules: (g.rules ?? []).map(fileRule),
      })),
    },
    YAML_OPTIONS,
  );
}

export function contactPointsFile(points: NamedContactPoint[]): string {
  return stringify(
    {
      apiVersion: 1,
      contactPoints: points.map((p) => ({
        orgId: ORG_ID,
        name: p.name,
        receivers: p.receivers.map((r) =>
          plain({
            uid: r.uid,
            type: r.type,
            settings: r.settings,
            disableResolveMessage: r.disableResolveMessage ?? false,
          }),
        ),
      })),
    },
    YAML_OPTIONS,
  );
}

export function notificationPoliciesFile(tree: alerting.NotificationPolicy): string {
  return stringify({ apiVersion: 1, policies: [{ orgId: ORG_ID, ...plain(tree) }] }, YAML_OPTIONS);
}

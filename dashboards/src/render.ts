/**
 * Everything Grafana needs, as relative path → file content: the dashboards, the data source and
 * dashboard provider files, and the alerting files generated from the policy file. The layout is
 * Grafana's: mount `provisioning/` at /etc/grafana/provisioning and `dashboards/` at `dashboardsPath`.
 */
import type { PolicyFile } from 'tokenledger/policy';
import { buildContactPoints, buildNotificationPolicy } from './alerts/contact-points';
import { alertRulesFile, contactPointsFile, notificationPoliciesFile } from './alerts/provisioning';
import { buildRuleGroups, type AlertOptions } from './alerts/rules';
import { DASHBOARDS } from './catalog/index';
import { renderDashboard } from './grafana/dashboard';
import { dashboardProviderFile, dataSourceFile, type DataSourceSettings } from './grafana/provisioning';

export interface GrafanaFilesOptions {
  datasource: DataSourceSettings;
  /** Where Grafana reads the dashboards from (the provider's path). */
  dashboardsPath: string;
  policy?: PolicyFile;
  alerts?: Omit<AlertOptions, 'datasourceUid' | 'database'>;
}

export const DEFAULT_DASHBOARDS_PATH = '/var/lib/grafana/dashboards';

export function renderGrafanaFiles(opts: GrafanaFilesOptions): Map<string, string> {
  const ds = opts.datasource;
  const files = new Map<string, string>();
  for (const def of DASHBOARDS) {
    const json = renderDashboard(def, { datasourceUid: ds.uid, database: ds.defaultDatabase });
    files.set(`dashboards/${def.uid}.json`, `${JSON.stringify(json, null, 2)}\n`);
  }
  files.set('provisioning/datasources/tokenledger-clickhouse.yaml', dataSourceFile(ds));
  files.set('provisioning/dashboards/tokenledger.yaml', dashboardProviderFile(opts.dashboardsPath));
  const groups = buildRuleGroups(opts.policy, {
    ...opts.alerts,
    datasourceUid: ds.uid,
    database: ds.defaultDatabase,
  });
  files.set('provisioning/alerting/tokenledger-rules.yaml', alertRulesFile(groups));
  const points = buildContactPoints(opts.policy);
  if (points.length > 0) {
    files.set('provisioning/alerting/tokenledger-contact-points.yaml', contactPointsFile(points));
    files.set(
      'provisioning/alerting/tokenledger-notification-policies.yaml',
      notificationPoliciesFile(buildNotificationPolicy(points)),
    );
  }
  return files;
}

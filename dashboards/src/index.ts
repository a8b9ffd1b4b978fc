// Public surface of @tokenledger/dashboards: the panel catalog and its two renderings.
export type { DashboardDef, PanelDef, VariableDef, Visualization, Unit } from './catalog/types';
export { DASHBOARDS } from './catalog/index';
export { columnLabel, VALUE_LABELS } from './catalog/labels';
export { BASELINES_PANEL, BASELINE_WINDOW_DAYS } from './catalog/baselines';
export { rawForm } from './catalog/raw-forms';
export {
  expandMacros,
  toParameterizedQuery,
  ALL_VALUE,
  DEFAULT_DATABASE,
  type MacroContext,
  type ParameterizedQuery,
} from './catalog/macros';
export { renderDashboard, DEFAULT_DATASOURCE_UID, type RenderOptions } from './grafana/dashboard';
export {
  ClickHouseQueryBuilder,
  CLICKHOUSE_PLUGIN_ID,
  CLICKHOUSE_PLUGIN_VERSION,
} from './grafana/clickhouse-query';
export type { DataSourceSettings } from './grafana/provisioning';
export { renderGrafanaFiles, DEFAULT_DASHBOARDS_PATH, type GrafanaFilesOptions } from './render';
export { buildRuleGroups, type AlertOptions } from './alerts/rules';

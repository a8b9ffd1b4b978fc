/**
 * The panel catalog: one definition per panel, rendered two ways — Grafana dashboards (via
 * @grafana/grafana-foundation-sdk, ClickHouse data source) and the collector's built-in report page.
 *
 * SQL is ClickHouse SQL over tokenledger's tables (rollups where possible), written with the Grafana
 * ClickHouse plugin's macros ($__timeFilter(col), $__fromTime, $__toTime, $__interval_s, and template
 * variables such as ${team:singlequote}); `expandMacros` (./macros.ts) expands them exactly as the
 * plugin does, so the same text runs in Grafana, in the report page and in the tests.
 */
export type Visualization = 'stat' | 'timeseries' | 'barchart' | 'table' | 'piechart' | 'gauge' | 'bargauge';

/** Grafana unit ids. */
export type Unit = 'currencyUSD' | 'short' | 'percentunit' | 'ms' | 's' | 'none';

export interface PanelDef {
  /** Stable id, unique across the catalog (kebab-case); also the report page's element id. */
  id: string;
  /**
   * Grafana's numeric panel id, unique in its dashboard and never reused: links, alerts and
   * embeds that name a panel keep working across regenerations (a snapshot test holds them).
   */
  gridId: number;
  /** The columns the SQL returns, in order (a test runs every panel and holds them to this). */
  columns: string[];
  title: string;
  /** The question the panel answers, in the users' words (shown as the panel description). */
  question: string;
  sql: string;
  /** `time_series` for timeseries panels (first column a DateTime `time`), `table` otherwise. */
  format: 'table' | 'time_series';
  visualization: Visualization;
  unit: Unit;
  /** Column labels where this panel says a column differently from the catalog's dictionary. */
  labels?: Record<string, string>;
  /** Grid width in Grafana's 24-column grid (default 12) and height (default 8). */
  width?: number;
  height?: number;
}

export interface VariableDef {
  /** Template variable name, e.g. team; panels refer to it as ${team:singlequote} etc. */
  name: string;
  label: string;
  /** SQL returning one column of values. */
  sql: string;
  /** Multi-select with an "All" option. */
  multi: boolean;
}

export interface DashboardDef {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  /** Default time range, Grafana syntax, e.g. now/M .. now. */
  timeFrom: string;
  timeTo: string;
  variables: VariableDef[];
  panels: PanelDef[];
}

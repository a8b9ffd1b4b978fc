/** One catalog panel → one foundation-SDK panel builder with its ClickHouse target. */
import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as gauge from '@grafana/grafana-foundation-sdk/gauge';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { PanelDef, Visualization } from '../catalog/types';
import { CLICKHOUSE_PLUGIN_ID, ClickHouseQueryBuilder } from './clickhouse-query';

type AnyPanelBuilder =
  | barchart.PanelBuilder
  | bargauge.PanelBuilder
  | gauge.PanelBuilder
  | piechart.PanelBuilder
  | stat.PanelBuilder
  | table.PanelBuilder
  | timeseries.PanelBuilder;

const BUILDERS: Record<Visualization, () => AnyPanelBuilder> = {
  barchart: () => new barchart.PanelBuilder(),
  bargauge: () => new bargauge.PanelBuilder(),
  gauge: () => new gauge.PanelBuilder(),
  piechart: () => new piechart.PanelBuilder(),
  stat: () => new stat.PanelBuilder(),
  table: () => new table.PanelBuilder(),
  timeseries: () => new timeseries.PanelBuilder(),
};

const DEFAULT_PANEL_WIDTH = 12;
const DEFAULT_PANEL_HEIGHT = 8;

export function panelBuilder(panel: PanelDef, datasourceUid: string): cog.Builder<dashboard.Panel> {
  return BUILDERS[panel.visualization]()
    .title(panel.title)
    .description(panel.question)
    .datasource({ type: CLICKHOUSE_PLUGIN_ID, uid: datasourceUid })
    .withTarget(
      new ClickHouseQueryBuilder(datasourceUid, panel.sql.trim()).timeSeries(panel.format === 'time_series'),
    )
    .unit(panel.unit)
    .span(panel.width ?? DEFAULT_PANEL_WIDTH)
    .height(panel.height ?? DEFAULT_PANEL_HEIGHT);
}

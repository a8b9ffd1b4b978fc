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
import { columnLabel, SERIES_COLUMNS, VALUE_LABELS } from '../catalog/labels';
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
  const builder = BUILDERS[panel.visualization]()
    .id(panel.gridId)
    .title(panel.title)
    .description(panel.question)
    .datasource({ type: CLICKHOUSE_PLUGIN_ID, uid: datasourceUid })
    .withTarget(
      new ClickHouseQueryBuilder(datasourceUid, panel.sql.trim()).timeSeries(panel.format === 'time_series'),
    )
    .unit(panel.unit)
    .span(panel.width ?? DEFAULT_PANEL_WIDTH)
    .height(panel.height ?? DEFAULT_PANEL_HEIGHT);
  // Each column under its label, coded values in words (what the report page shows too). A long
  // time series (time, policy, value) is one series per policy: those are named by the policy.
  const seriesBy = panel.format === 'time_series' ? panel.columns.filter((c) => SERIES_COLUMNS.has(c)) : [];
  const values = panel.columns.filter((c) => c !== 'time' && !seriesBy.includes(c));
  for (const column of panel.columns) {
    let name = columnLabel(panel, column) ?? column;
    if (seriesBy.length > 0 && values.includes(column)) {
      const series = seriesBy.map((c) => `\${__field.labels.${c}}`).join(' / ');
      name = values.length > 1 ? `${name}: ${series}` : series;
    }
    const properties: dashboard.DynamicConfigValue[] = [{ id: 'displayName', value: name }];
    const words = VALUE_LABELS[column];
    if (words)
      properties.push({
        id: 'mappings',
        value: [
          {
            type: 'value',
            options: Object.fromEntries(
              Object.entries(words).map(([code, text], index) => [code, { text, index }]),
            ),
          },
        ],
      });
    builder.overrideByName(column, properties);
  }
  return builder;
}

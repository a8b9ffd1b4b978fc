/** A catalog dashboard → Grafana dashboard JSON (foundation SDK), on the ClickHouse data source. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { DashboardDef, VariableDef } from '../catalog/types';
import { ALL_VALUE_SQL, DEFAULT_DATABASE } from '../catalog/macros';
import { CLICKHOUSE_PLUGIN_ID } from './clickhouse-query';
import { panelBuilder } from './panels';

export const DEFAULT_DATASOURCE_UID = 'tokenledger-clickhouse';

export interface RenderOptions {
  datasourceUid?: string;
  /** Database holding tokenledger's tables (the hidden `database` constant). */
  database?: string;
}

function variableBuilder(v: VariableDef, datasourceUid: string): dashboard.QueryVariableBuilder {
  const builder = new dashboard.QueryVariableBuilder(v.name)
    .label(v.label)
    .datasource({ type: CLICKHOUSE_PLUGIN_ID, uid: datasourceUid })
    .query(v.sql)
    .definition(v.sql)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(v.multi);
  // Grafana inserts a custom all value unformatted: the panels test for it instead of a huge IN list.
  return v.multi
    ? builder.includeAll(true).allValue(ALL_VALUE_SQL).current({ text: 'All', value: '$__all' })
    : builder;
}

export function renderDashboard(def: DashboardDef, opts: RenderOptions = {}): dashboard.Dashboard {
  const datasourceUid = opts.datasourceUid ?? DEFAULT_DATASOURCE_UID;
  const builder = new dashboard.DashboardBuilder(def.title)
    .uid(def.uid)
    .description(def.description)
    .tags(def.tags)
    .time({ from: def.timeFrom, to: def.timeTo })
    .timezone('utc')
    .refresh('5m')
    .editable()
    .withVariable(
      new dashboard.ConstantVariableBuilder('database')
        .label('Database')
        .value(opts.database ?? DEFAULT_DATABASE)
        .description('ClickHouse database holding tokenledger tables'),
    );
  for (const v of def.variables) builder.withVariable(variableBuilder(v, datasourceUid));
  for (const p of def.panels) builder.withPanel(panelBuilder(p, datasourceUid));
  return builder.build();
}

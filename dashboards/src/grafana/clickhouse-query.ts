/**
 * The Grafana ClickHouse plugin's query target (grafana-clickhouse-datasource v4, SQL editor), which
 * the foundation SDK has no builder for: the fields its CHSqlQuery model carries.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const CLICKHOUSE_PLUGIN_ID = 'grafana-clickhouse-datasource';
/** Plugin release the generated targets are written for. */
export const CLICKHOUSE_PLUGIN_VERSION = '4.11.2';

/** The plugin's Format enum (sqlds): what the backend turns the result into. */
enum ClickHouseFormat {
  TimeSeries = 0,
  Table = 1,
}

/** The plugin's QueryType (which result view the editor shows). */
type ClickHouseQueryType = 'table' | 'timeseries';

export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  datasource: Required<DataSourceRef>;
  pluginVersion: string;
  editorType: 'sql';
  rawSql: string;
  format: ClickHouseFormat;
  queryType: ClickHouseQueryType;
}

export class ClickHouseQueryBuilder implements cog.Builder<ClickHouseQuery> {
  private readonly internal: ClickHouseQuery;

  constructor(datasourceUid: string, rawSql: string) {
    this.internal = {
      _implementsDataqueryVariant: () => {},
      refId: 'A',
      datasource: { type: CLICKHOUSE_PLUGIN_ID, uid: datasourceUid },
      pluginVersion: CLICKHOUSE_PLUGIN_VERSION,
      editorType: 'sql',
      rawSql,
      format: ClickHouseFormat.Table,
      queryType: 'table',
    };
  }

  build(): ClickHouseQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  /** Table or time series: sets the backend format and the editor's query type together. */
  timeSeries(isTimeSeries: boolean): this {
    this.internal.format = isTimeSeries ? ClickHouseFormat.TimeSeries : ClickHouseFormat.Table;
    this.internal.queryType = isTimeSeries ? 'timeseries' : 'table';
    return this;
  }
}

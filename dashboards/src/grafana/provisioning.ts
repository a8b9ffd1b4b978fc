/** Grafana provisioning files for the ClickHouse data source and the dashboard folder provider. */
import { stringify } from 'yaml';

/** No line folding: SQL stays readable as a literal block. */
const YAML_OPTIONS = { lineWidth: 0 };
import { CLICKHOUSE_PLUGIN_ID } from './clickhouse-query';

export interface DataSourceSettings {
  uid: string;
  name: string;
  host: string;
  port: number;
  protocol: 'http' | 'native';
  secure: boolean;
  username: string;
  defaultDatabase: string;
  /** Environment variable Grafana reads the password from when it loads the file. */
  passwordEnv: string;
}

export function dataSourceFile(ds: DataSourceSettings): string {
  return stringify(
    {
      apiVersion: 1,
      datasources: [
        {
          name: ds.name,
          uid: ds.uid,
          type: CLICKHOUSE_PLUGIN_ID,
          access: 'proxy',
          isDefault: true,
          editable: false,
          jsonData: {
            host: ds.host,
            port: ds.port,
            protocol: ds.protocol,
            secure: ds.secure,
            username: ds.username,
            defaultDatabase: ds.defaultDatabase,
          },
          // Grafana expands $VAR in provisioning files: the password never lands on disk.
          secureJsonData: { password: `$${ds.passwordEnv}` },
        },
      ],
    },
    YAML_OPTIONS,
  );
}

/** A file provider loading every dashboard JSON under `path` into one folder. */
export function dashboardProviderFile(path: string, folder = 'tokenledger'): string {
  return stringify(
    {
      apiVersion: 1,
      providers: [
        {
          name: 'tokenledger',
          orgId: 1,
          folder,
          type: 'file',
          disableDeletion: false,
          allowUiUpdates: false,
          updateIntervalSeconds: 60,
          options: { path, foldersFromFilesStructure: false },
        },
      ],
    },
    YAML_OPTIONS,
  );
}

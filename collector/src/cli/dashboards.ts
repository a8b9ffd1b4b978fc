/**
 * `tokenledger dashboards --out DIR [--policy FILE]`: writes the Grafana dashboards, the ClickHouse
 * data source and dashboard provider files, and the alert rules / contact points / notification
 * policy generated from the policy file, in Grafana's provisioning layout under DIR.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_DASHBOARDS_PATH,
  DEFAULT_DATASOURCE_UID,
  renderGrafanaFiles,
  type DataSourceSettings,
} from '@tokenledger/dashboards';
import { loadPolicyFile } from '../govern/policy/load';
import { assertIdentifier, DEFAULT_DATABASE } from '../storage/client';

export interface DashboardsOptions {
  out: string;
  policy?: string;
  clickhouseUrl?: string;
  protocol?: string;
  datasourceUid?: string;
  passwordEnv?: string;
  dashboardsPath?: string;
}

/** Where Grafana reaches ClickHouse; the docker-compose service by default. Never a password. */
const DEFAULT_CLICKHOUSE_URL = 'http://tokenledger@clickhouse:8123/tokenledger';

export function registerDashboardsCommand(program: Command): void {
  program
    .command('dashboards')
    .description(
      'write Grafana dashboards, data source, and alert rules from the policy file (provisioning files)',
    )
    .requiredOption('--out <dir>', 'output directory (gets dashboards/ and provisioning/)')
    .option(
      '--policy <file>',
      'policy file for alert rules and contact points (default: TOKENLEDGER_POLICY_FILE if set)',
    )
    .option(
      '--clickhouse-url <url>',
      `ClickHouse as Grafana reaches it, user and database included (default ${DEFAULT_CLICKHOUSE_URL})`,
    )
    .option('--protocol <protocol>', 'http | native (default: http, or native for a :9000/:9440 port)')
    .option('--datasource-uid <uid>', `Grafana data source uid (default ${DEFAULT_DATASOURCE_UID})`)
    .option(
      '--password-env <name>',
      'environment variable Grafana reads the ClickHouse password from',
      'CLICKHOUSE_PASSWORD',
    )
    .option(
      '--dashboards-path <path>',
      'where Grafana reads the dashboards JSON from',
      DEFAULT_DASHBOARDS_PATH,
    )
    .action((opts: DashboardsOptions) => runDashboards(opts, (s) => process.stdout.write(s)));
}

function dataSourceFromUrl(opts: DashboardsOptions): DataSourceSettings {
  const url = new URL(opts.clickhouseUrl ?? DEFAULT_CLICKHOUSE_URL);
  if (url.password)
    throw new Error('--clickhouse-url must not contain a password: Grafana reads it from --password-env');
  const secure = url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 8443 : 8123);
  const protocol = opts.protocol ?? ([9000, 9440].includes(port) ? 'native' : 'http');
  if (protocol !== 'http' && protocol !== 'native')
    throw new Error(`--protocol must be http or native, not "${protocol}"`);
  const database = url.pathname.replace(/^\/+|\/+$/g, '') || DEFAULT_DATABASE;
  return {
    uid: opts.datasourceUid ?? DEFAULT_DATASOURCE_UID,
    name: 'tokenledger ClickHouse',
    host: url.hostname,
    port,
    protocol,
    secure,
    username: decodeURIComponent(url.username) || 'default',
    defaultDatabase: assertIdentifier(database, 'database'),
    passwordEnv: assertIdentifier(opts.passwordEnv ?? 'CLICKHOUSE_PASSWORD', 'password environment variable'),
  };
}

export async function runDashboards(opts: DashboardsOptions, write: (s: string) => void): Promise<void> {
  const policyPath = opts.policy ?? process.env.TOKENLEDGER_POLICY_FILE;
  const policy = policyPath ? await loadPolicyFile(policyPath) : undefined;
  const files = renderGrafanaFiles({
    datasource: dataSourceFromUrl(opts),
    dashboardsPath: opts.dashboardsPath ?? DEFAULT_DASHBOARDS_PATH,
    policy,
  });
  for (const [relative, content] of files) {
    const target = path.join(opts.out, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    write(`wrote ${target}\n`);
  }
  if (!policy) write('no policy file: alert rules cover spend health only (pass --policy for budgets)\n');
}

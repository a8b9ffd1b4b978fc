/** `tokenledger dashboards` as users run it (built CLI, child process): every provisioning file written. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli, type CliResult } from '../support/collector-process';
import { writePolicyFile } from './policy-fixture';
import { tempDir } from '../support/temp-dirs';

function cli(args: string[]): Promise<CliResult> {
  const env = { ...process.env };
  delete env.TOKENLEDGER_POLICY_FILE;
  return runCli(args, env);
}

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();

describe('tokenledger dashboards (CLI)', function () {
  this.timeout(60_000);

  it('writes dashboards, data source, provider and alerting files from a policy file', async () => {
    const out = tempDir('tl-dash-out-');
    const r = await cli([
      'dashboards',
      '--out',
      out,
      '--policy',
      writePolicyFile(),
      '--clickhouse-url',
      'https://grafana_ro@ch.internal:8443/tl_prod',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(out), [
      'dashboards/tokenledger-bill.json',
      'dashboards/tokenledger-budgets.json',
      'dashboards/tokenledger-cfo.json',
      'dashboards/tokenledger-inventory.json',
      'dashboards/tokenledger-models.json',
      'dashboards/tokenledger-team.json',
      'provisioning/alerting/tokenledger-contact-points.yaml',
      'provisioning/alerting/tokenledger-notification-policies.yaml',
      'provisioning/alerting/tokenledger-rules.yaml',
      'provisioning/dashboards/tokenledger.yaml',
      'provisioning/datasources/tokenledger-clickhouse.yaml',
    ]);
    assert.equal(r.stdout.match(/^wrote /gm)?.length, 11);

    const ds = parse(
      readFileSync(path.join(out, 'provisioning/datasources/tokenledger-clickhouse.yaml'), 'utf8'),
    );
    assert.deepEqual(ds, {
      apiVersion: 1,
      datasources: [
        {
          name: 'tokenledger ClickHouse',
          uid: 'tokenledger-clickhouse',
          type: 'grafana-clickhouse-datasource',
          access: 'proxy',
          isDefault: true,
          editable: false,
          jsonData: {
            host: 'ch.internal',
            port: 8443,
            protocol: 'http',
            secure: true,
            username: 'grafana_ro',
            defaultDatabase: 'tl_prod',
          },
          secureJsonData: { password: '$CLICKHOUSE_PASSWORD' },
        },
      ],
    });
    const provider = parse(readFileSync(path.join(out, 'provisioning/dashboards/tokenledger.yaml'), 'utf8'));
    assert.equal(provider.apiVersion, 1);
    assert.equal(provider.providers[0].type, 'file');
    assert.equal(provider.providers[0].options.path, '/var/lib/grafana/dashboards');

    const cfo = JSON.parse(readFileSync(path.join(out, 'dashboards/tokenledger-cfo.json'), 'utf8'));
    assert.equal(cfo.uid, 'tokenledger-cfo');
    assert.equal(cfo.templating.list.find((v: { name: string }) => v.name === 'database').query, 'tl_prod');
    const rules = parse(readFileSync(path.join(out, 'provisioning/alerting/tokenledger-rules.yaml'), 'utf8'));
    const sql = rules.groups[0].rules[0].data[0].model.rawSql as string;
    assert.match(sql, /FROM tl_prod\.budget_snapshots/);
    assert.match(sql, /policy = 'summarizer-prod'/);
  });

  it('without a policy file writes the spend-health rules only and no contact points', async () => {
    const out = tempDir('tl-dash-out-');
    const r = await cli(['dashboards', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no policy file/);
    const files = listFiles(out);
    assert.ok(!files.some((f) => f.includes('contact-points')));
    const rules = parse(readFileSync(path.join(out, 'provisioning/alerting/tokenledger-rules.yaml'), 'utf8'));
    assert.deepEqual(
      rules.groups.map((g: { name: string }) => g.name),
      ['tokenledger-spend-health'],
    );
    const ds = parse(
      readFileSync(path.join(out, 'provisioning/datasources/tokenledger-clickhouse.yaml'), 'utf8'),
    );
    assert.deepEqual(ds.datasources[0].jsonData, {
      host: 'clickhouse',
      port: 8123,
      protocol: 'http',
      secure: false,
      username: 'tokenledger',
      defaultDatabase: 'tokenledger',
    });
  });

  it('refuses a password in the URL and an invalid policy file, with a one-line reason', async () => {
    const out = tempDir('tl-dash-out-');
    const pw = await cli(['dashboards', '--out', out, '--clickhouse-url', 'http://u:secret@ch:8123/db']);
    assert.notEqual(pw.code, 0);
    assert.match(pw.stderr, /must not contain a password/);
    assert.ok(!pw.stderr.includes('secret'));
    const bad = path.join(out, 'bad.yaml');
    writeFileSync(bad, 'version: 1\npolicies:\n  - name: x\n    budget: { usd: -5, period: yearly }\n');
    const r = await cli(['dashboards', '--out', out, '--policy', bad]);
    assert.notEqual(r.code, 0);
    assert.equal(listFiles(out).filter((f) => f.endsWith('.json')).length, 0);
  });
});

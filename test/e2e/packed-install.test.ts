/**
 * The packages as the registry would serve them: `npm pack` of each workspace, installed from the
 * tarballs into folders of their own outside the repository — an operator's collector folder and a
 * user's app folder beside the app's own `openai` — then the README's commands run there: the
 * collector starts on embedded ClickHouse with its migrations, the CLI works, an app started with
 * the one flag is metered and its report is exact.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { installedFolder, packedTarballs, repoVersionOf, userEnv, type Tarballs } from '../support/packed';
import { tempDir } from '../support/temp-dirs';

const run = promisify(execFile);
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const SUMMARIZER = path.join(REPO_ROOT, 'test', 'fixtures', 'e2e', 'summarizer');

interface SpendReport {
  total_usd: string;
  breakdown: Array<Record<string, string | number>>;
}

describe('packages installed from their tarballs, in folders of their own', function () {
  this.timeout(240_000);
  let tarballs: Tarballs;
  let operator: string;
  let collector: CollectorProcess;
  let openai: FakeOpenAI;
  let appDir: string;

  /** `npx tokenledger …` in `cwd`, as a user types it. */
  const tokenledger = (cwd: string, args: string[], env: Record<string, string> = {}) =>
    run(NPX, ['tokenledger', ...args], { cwd, env: userEnv(env) });

  before(async () => {
    tarballs = await packedTarballs();
    openai = await startFakeOpenAI();
    // The operator's folder: the collector (and, as its dependencies, the panel catalog and the SDK).
    operator = await installedFolder('tl-operator-', [tarballs.collector, tarballs.dashboards, tarballs.sdk]);
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
  });

  it('`npx tokenledger collector` starts on embedded ClickHouse, with the migrations the package ships', async () => {
    collector = await startCollectorProcess({
      // The default data dir, ./.tokenledger in the folder it runs in, where the CLI looks too.
      dataDir: path.join(operator, '.tokenledger'),
      command: { file: NPX, args: ['tokenledger', 'collector'], cwd: operator },
    });
    assert.match(collector.output(), /embedded ClickHouse in .*\.tokenledger/);
    const health = await fetch(`${collector.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', storage: 'ok' });
  });

  it('the CLI works in the operator folder: keys and an empty report', async () => {
    const ingest = (await tokenledger(operator, ['keys', 'show', 'ingest'])).stdout.trim();
    assert.match(ingest, /^tl_ingest_/);
    const { stdout } = await tokenledger(operator, ['report', '--json'], { TOKENLEDGER_URL: collector.url });
    assert.equal((JSON.parse(stdout) as SpendReport).total_usd, '0');
  });

  it('an app folder with tokenledger and openai: `--require` and `--import tokenledger/register` are metered exactly', async () => {
    appDir = await installedFolder('tl-app-', [tarballs.sdk, `openai@${repoVersionOf('openai')}`]);
    for (const ext of ['cjs', 'mjs']) copyFileSync(`${SUMMARIZER}.${ext}`, path.join(appDir, `app.${ext}`));
    const ingestKey = (await tokenledger(operator, ['keys', 'show', 'ingest'])).stdout.trim();
    const app = (flag: string, file: string, team: string) =>
      run(process.execPath, [flag, 'tokenledger/register', file], {
        cwd: appDir,
        env: userEnv({
          OPENAI_BASE_URL: openai.url,
          OPENAI_API_KEY: 'sk-test',
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_SERVICE_NAME: 'summarizer',
          OTEL_RESOURCE_ATTRIBUTES: `tokenledger.team=${team}`,
          TOKENLEDGER_API_KEY: ingestKey,
        }),
      });
    // gpt-4o list prices: 1000 in / 200 out = $0.0045; 10000 in (8000 cached) / 100 out = $0.016.
    for (const [flag, file, team] of [
      ['--require', 'app.cjs', 'platform'],
      ['--import', 'app.mjs', 'growth'],
    ] as const) {
      openai.script({ usage: { input: 1000, output: 200 } });
      openai.script({ usage: { input: 10000, cached: 8000, output: 100 } });
      const { stdout, stderr } = await app(flag, file, team);
      const printed = JSON.parse(stdout) as { completion: string; streamed: string };
      assert.ok(printed.completion && printed.streamed);
      assert.equal(stderr, '', 'the instrumented app prints nothing of its own');
    }

    const { stdout } = await tokenledger(operator, ['report', '--by', 'team,model', '--json'], {
      TOKENLEDGER_URL: collector.url,
    });
    const report = JSON.parse(stdout) as SpendReport;
    assert.equal(report.total_usd, '0.041');
    const rows = report.breakdown.map((r) => [r.team, r.model, r.spend_usd, r.calls]);
    assert.deepEqual(
      rows.sort(),
      [
        ['growth', 'gpt-4o', '0.0205', 2],
        ['platform', 'gpt-4o', '0.0205', 2],
      ].sort(),
    );
  });

  it('`npx tokenledger` with the SDK alone says how to get the commands', async () => {
    await assert.rejects(tokenledger(appDir, ['report']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /npm install --save-dev @tokenledger\/collector/);
      assert.match(err.stderr, /npx -p @tokenledger\/collector tokenledger report/);
      return true;
    });
  });

  it("`npx tokenledger` in an app that also installed the collector runs the collector's CLI", async () => {
    await run(
      'npm',
      [
        'install',
        '--save-dev',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
        tarballs.collector,
        tarballs.dashboards,
      ],
      {
        cwd: appDir,
        env: userEnv(),
      },
    );
    const adminKey = (await tokenledger(operator, ['keys', 'show', 'admin'])).stdout.trim();
    const env = { TOKENLEDGER_URL: collector.url, TOKENLEDGER_API_KEY: adminKey };
    const viaNpx = JSON.parse((await tokenledger(appDir, ['report', '--json'], env)).stdout) as SpendReport;
    assert.equal(viaNpx.total_usd, '0.041');
    // Whichever package's bin npm linked, the SDK's own bin reaches the same CLI.
    const sdkBin = path.join(appDir, 'node_modules', 'tokenledger', 'bin', 'tokenledger.js');
    const viaSdk = await run(process.execPath, [sdkBin, 'report', '--json'], {
      cwd: appDir,
      env: userEnv(env),
    });
    assert.equal((JSON.parse(viaSdk.stdout) as SpendReport).total_usd, '0.041');
  });

  it('a ClickHouse-server install leaves the embedded engine out, and says so if started without a server', async () => {
    const server = await installedFolder(
      'tl-server-',
      [tarballs.collector, tarballs.dashboards, tarballs.sdk],
      { omitOptional: true },
    );
    assert.equal(existsSync(path.join(server, 'node_modules', 'chdb')), false, 'chdb installed anyway');
    assert.equal(existsSync(path.join(server, 'node_modules', '@tokenledger', 'collector')), true);
    // The commands that do not need storage work as they are.
    const template = path.join(REPO_ROOT, 'policies', 'templates', 'summarization.yaml');
    const check = await tokenledger(server, ['policy', 'check', template]);
    assert.match(check.stdout, /summarization\.yaml: valid — 1 policy \(summarizer-prod\)/);
    // Without CLICKHOUSE_URL it needs the embedded engine: one line that says what to do.
    const dataDir = tempDir('tl-server-data-');
    await assert.rejects(
      tokenledger(server, ['collector'], { PORT: '0', TOKENLEDGER_DATA_DIR: dataDir }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /chdb.*not installed.*CLICKHOUSE_URL/);
        return true;
      },
    );
  });
});

/**
 * The walking skeleton as a user runs it: unmodified apps started with `node --require` / `--import
 * tokenledger/register`, the real `openai` package (7.x and 4.x) over HTTP against a server speaking
 * OpenAI's wire format, the collector on embedded ClickHouse in its own process, and the report in
 * exact dollars from list prices.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import {
  CLI,
  collectorKey,
  REPO_ROOT,
  startCollectorProcess,
  type CollectorProcess,
} from '../support/collector-process';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
const BACKGROUND_JOB = path.join(FIXTURES, 'e2e', 'background-job.cjs');

interface SpendReport {
  total_usd: string;
  breakdown: Array<Record<string, string | number>>;
}

describe('walking skeleton: one flag → exact, attributed dollars in ClickHouse', function () {
  this.timeout(120_000);
  let openai: FakeOpenAI;
  let collector: CollectorProcess;
  let ingestKey: string;
  let adminKey: string;

  before(async () => {
    openai = await startFakeOpenAI();
    collector = await startCollectorProcess();
    ingestKey = await collectorKey(collector, 'ingest');
    adminKey = await collectorKey(collector, 'admin');
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
  });

  const appEnv = (resourceAttributes: string): NodeJS.ProcessEnv => ({
    ...process.env,
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: 'sk-test',
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_RESOURCE_ATTRIBUTES: resourceAttributes,
    TOKENLEDGER_API_KEY: ingestKey,
  });

  const spend = async (groupBy: string): Promise<SpendReport> => {
    const res = await fetch(`${collector.url}/v1/reports/spend?period=current_month&groupBy=${groupBy}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as SpendReport;
  };

  it('prices a CommonJS app on openai 7.x (--require), streamed usage included', async () => {
    // 1000 in / 200 out on gpt-4o = $0.0045; 10000 in of which 8000 cached + 100 out = $0.016.
    openai.script({ usage: { input: 1000, output: 200 } });
    openai.script({ usage: { input: 10000, cached: 8000, output: 100 } });
    const { stdout } = await run(
      process.execPath,
      ['--require', 'tokenledger/register', path.join(FIXTURES, 'e2e', 'summarizer.cjs')],
      { cwd: REPO_ROOT, env: appEnv('service.name=summarizer,tokenledger.team=platform') },
    );
    const printed = JSON.parse(stdout) as { completion: string; streamed: string };
    assert.ok(printed.completion.length > 0 && printed.streamed.length > 0);
    // The app did not ask for stream usage; tokenledger asked on its behalf.
    const streamed = openai.requests.filter((r) => r.body?.stream === true);
    assert.equal(streamed.length, 1);
    assert.deepEqual(streamed[0]!.body!.stream_options, { include_usage: true });

    const report = await spend('team,model');
    assert.equal(report.total_usd, '0.0205');
    assert.deepEqual(report.breakdown, [
      {
        team: 'platform',
        model: 'gpt-4o',
        spend_usd: '0.0205',
        calls: 2,
        input_tokens: 11000,
        output_tokens: 300,
        unpriced_calls: 0,
      },
    ]);
  });

  it('prices an ESM app on openai 4.x (--import) and keeps an unknown model, flagged unpriced', async () => {
    openai.script({ usage: { input: 1000, output: 200 } }); // gpt-4o: $0.0045
    openai.script({ usage: { input: 5000, output: 0 } }); // text-embedding-3-small at $0.02/M: $0.0001
    openai.script({ usage: { input: 300, output: 30 } }); // acme-internal-llm: unknown
    await run(process.execPath, ['--import', 'tokenledger/register', 'search.mjs'], {
      cwd: path.join(FIXTURES, 'openai-v4'),
      env: appEnv('service.name=search-api,tokenledger.team=search,deployment.environment.name=production'),
    });
    const byTeam = await spend('team');
    assert.equal(byTeam.total_usd, '0.0251');
    assert.deepEqual(
      byTeam.breakdown.map((r) => [r.team, r.spend_usd, r.calls, r.unpriced_calls]),
      [
        ['platform', '0.0205', 2, 0],
        ['search', '0.0046', 3, 1],
      ],
    );
    const byModel = await spend('model,environment,service');
    // The server answers with a dated model id, as OpenAI does; unpriced calls keep that id.
    const unknown = byModel.breakdown.find((r) => r.model === 'acme-internal-llm-2024-08-06');
    assert.deepEqual(unknown, {
      model: 'acme-internal-llm-2024-08-06',
      environment: 'production',
      service: 'search-api',
      spend_usd: '0',
      calls: 1,
      input_tokens: 300,
      output_tokens: 30,
      unpriced_calls: 1,
    });
  });

  it('reports the same through the CLI, as a table and as JSON', async () => {
    const env = { ...process.env, TOKENLEDGER_URL: collector.url, TOKENLEDGER_API_KEY: adminKey };
    const json = await run(process.execPath, [CLI, 'report', '--by', 'team,model', '--json'], { env });
    const report = JSON.parse(json.stdout) as SpendReport;
    assert.equal(report.total_usd, '0.0251');
    const table = await run(process.execPath, [CLI, 'report', '--by', 'team'], { env });
    assert.match(table.stdout, /│ platform │\s+0\.0205 │\s+2 │/);
    assert.match(table.stdout, /Total: \$0\.0251/);
  });
  it('bills an OpenAI background response once, when processes other than the one that started it read it finished', async () => {
    // background-job.cjs: `create` starts the job (the response is `queued`); `wait <id>` polls it.
    const job = async (service: string, ...args: string[]): Promise<Record<string, string>> => {
      const { stdout } = await run(
        process.execPath,
        ['--require', 'tokenledger/register', BACKGROUND_JOB, ...args],
        {
          cwd: REPO_ROOT,
          env: appEnv(`service.name=${service},tokenledger.team=research`),
        },
      );
      return JSON.parse(stdout) as Record<string, string>;
    };
    const research = async (): Promise<Array<Record<string, string | number>>> =>
      (await spend('team,model')).breakdown.filter((r) => r.team === 'research');

    // gpt-4o, 1000 in / 200 out: $0.0045. Created a second ago: its row starts at the response's
    // created_at, which must fall in the reported month.
    const createdAt = Math.floor(Date.now() / 1000) - 1;
    openai.script({ usage: { input: 1000, output: 200 }, createdAt, pendingReads: 2 });
    const started = await job('report-api', 'create');
    assert.equal(started.status, 'queued');
    // Nothing yet: the create span is deferred, not an unpriced call.
    assert.deepEqual(await research(), []);

    // Two replicas poll it and both see it finish; a third process reads it later still.
    const polls = await Promise.all([
      job('report-worker', 'wait', started.id!),
      job('report-worker', 'wait', started.id!),
    ]);
    assert.deepEqual(
      polls.map((p) => p.status),
      ['completed', 'completed'],
    );
    await job('report-api', 'wait', started.id!);

    assert.deepEqual(await research(), [
      {
        team: 'research',
        model: 'gpt-4o',
        spend_usd: '0.0045',
        calls: 1,
        input_tokens: 1000,
        output_tokens: 200,
        unpriced_calls: 0,
      },
    ]);
  });

  it('an app whose key the collector refuses runs unchanged, says why once on stderr, and adds nothing', async () => {
    const before = (await spend('team')).total_usd;
    const viewerKey = (
      await run(
        process.execPath,
        [CLI, 'keys', 'create', '--role', 'viewer', '--name', 'viewer@example.com'],
        {
          env: { ...process.env, TOKENLEDGER_DATA_DIR: collector.dataDir },
        },
      )
    ).stdout
      .trim()
      .split('\n')
      .pop()!;
    const summarizer = async (env: NodeJS.ProcessEnv) => {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--require', 'tokenledger/register', path.join(FIXTURES, 'e2e', 'summarizer.cjs')],
        { cwd: REPO_ROOT, env },
      );
      const printed = JSON.parse(stdout) as { completion: string; streamed: string };
      assert.ok(printed.completion.length > 0 && printed.streamed.length > 0, 'the app ran as usual');
      // Node prints each warning as `(node:<pid>) [<code>] TokenledgerWarning: <message>`.
      const warnings = [...stderr.matchAll(/\[(TOKENLEDGER_[A-Z_]+)\] TokenledgerWarning: (.*)/g)].map(
        (m) => ({
          code: m[1]!,
          message: m[2]!,
        }),
      );
      return { stderr, warnings };
    };
    const { TOKENLEDGER_API_KEY: _, ...withoutKey } = appEnv(
      'service.name=summarizer,tokenledger.team=platform',
    );
    const spansWarning = (warnings: Array<{ code: string; message: string }>) => {
      const found = warnings.filter((w) => w.code === 'TOKENLEDGER_SPANS_KEY_REFUSED');
      assert.equal(found.length, 1, JSON.stringify(warnings));
      return found[0]!.message;
    };
    const endpoint = `${collector.url}/v1/traces`;

    const noKey = await summarizer(withoutKey);
    assert.equal(
      spansWarning(noKey.warnings),
      `tokenledger: ${endpoint} answered 401 to the spans: this app sends no key; set TOKENLEDGER_API_KEY to an ` +
        'ingest key (npx tokenledger keys show ingest); until then no call is recorded; the app itself is not affected',
    );
    // The policy guard, reading budgets with the same key, says so once too.
    assert.deepEqual(noKey.warnings.map((w) => w.code).sort(), [
      'TOKENLEDGER_GUARD_KEY_REFUSED',
      'TOKENLEDGER_SPANS_KEY_REFUSED',
    ]);

    const wrongKey = await summarizer({ ...withoutKey, TOKENLEDGER_API_KEY: 'tl-not-a-key-0123' });
    assert.match(
      spansWarning(wrongKey.warnings),
      /answered 401 to the spans: it does not know the key this app sends/,
    );
    assert.ok(!wrongKey.stderr.includes('tl-not-a-key-0123'), 'the key itself is never printed');

    const viewer = await summarizer({ ...withoutKey, TOKENLEDGER_API_KEY: viewerKey });
    assert.match(
      spansWarning(viewer.warnings),
      /answered 403 to the spans: the key's role cannot send spans/,
    );
    assert.ok(!viewer.stderr.includes(viewerKey));

    const silenced = await summarizer({ ...withoutKey, OTEL_LOG_LEVEL: 'none' });
    assert.equal(silenced.stderr, '');

    assert.equal((await spend('team')).total_usd, before, 'no refused call was counted');
  });
});

/** The collector and CLI as users run them: child processes, first-run keys, restarts. */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { protobufBody, recordSpans } from '../collector/otlp-helpers';
import {
  spawnCollector,
  runCli,
  type CliResult,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';

const cli = (args: string[], env: Record<string, string>): Promise<CliResult> =>
  runCli(args, { ...process.env, ...env });

function spans(team: string, model: string, input: number, output: number) {
  return recordSpans({ 'service.name': 'billing', 'tokenledger.team': team }, [
    {
      name: `chat ${model}`,
      scope: 'tokenledger/openai',
      startTime: new Date(),
      attributes: {
        // Span-level cost centers, one value per team, so every groupBy dimension splits the same way.
        'tokenledger.feature': `${team}-feature`,
        'tokenledger.cost_center': `cc-${team}`,
        'tokenledger.customer': `acme-${team}`,
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': model,
        'gen_ai.usage.input_tokens': input,
        'gen_ai.usage.output_tokens': output,
      },
    },
  ]);
}

describe('collector process and CLI', () => {
  let collector: CollectorProcess | undefined;
  afterEach(async () => {
    await collector?.stop();
    collector = undefined;
  });

  it('creates first-run keys, survives a restart on the same data directory with the same totals', async () => {
    const dataDir = tempDataDir();
    collector = await startCollectorProcess({ dataDir });
    const credentials = path.join(dataDir, 'credentials.json');
    assert.equal(statSync(credentials).mode & 0o777, 0o600);
    const env = { TOKENLEDGER_DATA_DIR: dataDir, TOKENLEDGER_URL: collector.url };
    const ingest = (await cli(['keys', 'show', 'ingest'], env)).stdout.trim();
    assert.match(ingest, /^tl_ingest_/);
    assert.doesNotMatch(collector.output(), new RegExp(ingest), 'keys are never logged');

    for (const [team, model, input, output] of [
      ['platform', 'gpt-4o', 1000, 200],
      ['search', 'gpt-4o-mini', 100000, 1000],
    ] as const) {
      const res = await fetch(`${collector.url}/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/x-protobuf' },
        body: protobufBody(spans(team, model, input, output)),
      });
      assert.equal(res.status, 200);
    }
    const before = await cli(['report', '--by', 'team', '--json'], env);
    assert.equal(before.code, 0, before.stderr);
    const report = JSON.parse(before.stdout) as {
      total_usd: string;
      breakdown: Array<{ team: string; spend_usd: string }>;
    };
    assert.equal(report.total_usd, '0.0201'); // 0.0045 + (100000 × 0.15 + 1000 × 0.6) / 1e6
    assert.deepEqual(
      report.breakdown.map((r) => [r.team, r.spend_usd]),
      [
        ['search', '0.0156'],
        ['platform', '0.0045'],
      ],
    );

    assert.equal(await collector.stop(), 0, 'graceful shutdown on SIGTERM');
    collector = await startCollectorProcess({ dataDir });
    const restartedEnv = { ...env, TOKENLEDGER_URL: collector.url };
    const after = await cli(['report', '--by', 'team', '--json'], restartedEnv);
    assert.deepEqual(JSON.parse(after.stdout), report);

    const table = await cli(['report', '--by', 'team,model'], restartedEnv);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ search\s+│ gpt-4o-mini\s+│\s+0\.0156 │/);
    assert.match(table.stdout, /Total: \$0\.0201/);
    const filtered = await cli(['report', '--by', 'model', '--filter', 'team=search'], restartedEnv);
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.match(filtered.stdout, /, team=search\n/);
    assert.match(filtered.stdout, /Total: \$0\.0156\n/);
    assert.match(collector.output(), new RegExp(`\\(embedded ClickHouse in ${dataDir}; keys in `));
    const csv = await cli(['report', '--by', 'model', '--csv'], restartedEnv);
    assert.match(csv.stdout, /^model,spend_usd,calls,input_tokens,output_tokens,unpriced_calls\n/);
    assert.match(csv.stdout, /\ngpt-4o,0\.0045,1,1000,200,0\n/);

    // Every cost-center dimension groups as the README lists them.
    const byCostCenters = await cli(
      ['report', '--by', 'feature,cost_center,customer', '--json'],
      restartedEnv,
    );
    assert.equal(byCostCenters.code, 0, byCostCenters.stderr);
    assert.deepEqual(
      (JSON.parse(byCostCenters.stdout) as { breakdown: Array<Record<string, string>> }).breakdown.map(
        (r) => [r.feature, r.cost_center, r.customer, r.spend_usd],
      ),
      [
        ['search-feature', 'cc-search', 'acme-search', '0.0156'],
        ['platform-feature', 'cc-platform', 'acme-platform', '0.0045'],
      ],
    );

    // The period options reach the API: the spans are from now, so this month has them, last month none.
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const totalOf = async (args: string[]) => {
      const r = await cli(['report', ...args, '--json'], restartedEnv);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { period: string; total_usd: string }).total_usd;
    };
    assert.equal(await totalOf(['--period', month]), '0.0201');
    assert.equal(await totalOf(['--period', 'last_7d']), '0.0201');
    assert.equal(await totalOf(['--period', 'last_30d']), '0.0201');
    assert.equal(await totalOf(['--period', 'last_month']), '0');
    const hourAgo = new Date(now.getTime() - 3_600_000).toISOString();
    const hourAhead = new Date(now.getTime() + 3_600_000).toISOString();
    assert.equal(await totalOf(['--from', hourAgo, '--to', hourAhead]), '0.0201');
    assert.equal(await totalOf(['--from', '2020-01-01T00:00:00Z', '--to', '2020-02-01T00:00:00Z']), '0');

    // The quick start's mistake: the app's ingest key left in TOKENLEDGER_API_KEY for the report.
    const withIngestKey = await cli(['report'], { ...restartedEnv, TOKENLEDGER_API_KEY: ingest });
    assert.equal(withIngestKey.code, 1);
    assert.match(
      withIngestKey.stderr,
      /^tokenledger: collector answered 403: .*TOKENLEDGER_API_KEY from the environment/,
    );
    assert.doesNotMatch(withIngestKey.stderr, new RegExp(ingest), 'the key itself is not printed');
  });

  it('the CLI fails with a one-line reason when the collector is down or the input is wrong', async () => {
    const down = await cli(['report'], {
      TOKENLEDGER_URL: 'http://127.0.0.1:65531',
      TOKENLEDGER_API_KEY: 'x'.repeat(20),
    });
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /^tokenledger: cannot reach the collector at http:\/\/127\.0\.0\.1:65531: connection refused — is `npm start` running\?\n$/,
    );
    const badBy = await cli(['report', '--by', 'colour'], { TOKENLEDGER_URL: 'http://127.0.0.1:9' });
    assert.equal(badBy.code, 1);
    assert.match(badBy.stderr, /unknown groupBy "colour"/);
    const badFilter = await cli(['report', '--filter', 'colour=red'], {
      TOKENLEDGER_URL: 'http://127.0.0.1:9',
    });
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /^tokenledger: unknown filter "colour": use any of team, /);
    const noCreds = await cli(['keys', 'show', 'ingest'], { TOKENLEDGER_DATA_DIR: tempDataDir() });
    assert.equal(noCreds.code, 1);
    assert.match(
      noCreds.stderr,
      /^tokenledger: no credentials in .*: start the collector once \(npm start\)\n$/,
    );
    const badRole = await cli(['keys', 'show', 'root'], {});
    assert.match(badRole.stderr, /^tokenledger: role must be admin or ingest, got "root"\n$/);
    const help = await cli(['report', '--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--by <dimensions>/);
  });

  it('waits for a ClickHouse that cannot be reached yet, saying why; refuses one that answers with an error', async function () {
    this.timeout(30_000);
    const { child, port, output } = await spawnCollector({
      CLICKHOUSE_URL: 'http://default:secret-password@127.0.0.1:9/tokenledger',
    });
    try {
      let message = '';
      for (let i = 0; i < 100 && !/not reachable/.test(message); i++) {
        await new Promise((r) => setTimeout(r, 100));
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (res) message = ((await res.json()) as { message: string }).message;
      }
      assert.match(message, /^starting: ClickHouse not reachable: ECONNREFUSED \(\d+ s\)$/);
      assert.match(output(), /tokenledger: ClickHouse not reachable: ECONNREFUSED \(\d+ s\); retrying/);
      assert.equal(child.exitCode, null, 'it waits, it does not exit');
      assert.doesNotMatch(output(), /secret-password/, 'secrets are never logged');
    } finally {
      child.kill('SIGKILL');
    }
    // A server that answers "wrong password" is a configuration to fix: one line, exit 1.
    const refusing = http.createServer((_req, res) => {
      res.writeHead(403, { 'x-clickhouse-exception-code': '516' });
      res.end(
        'Code: 516. DB::Exception: default: Authentication failed: password is incorrect. (AUTHENTICATION_FAILED)',
      );
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      await assert.rejects(
        startCollectorProcess({
          env: {
            CLICKHOUSE_URL: `http://default:secret-password@127.0.0.1:${(refusing.address() as AddressInfo).port}/tokenledger`,
          },
        }),
        (err: Error) => {
          assert.match(err.message, /exited with 1/);
          assert.match(err.message, /Authentication failed/);
          assert.doesNotMatch(err.message, /secret-password/, 'secrets are never logged');
          return true;
        },
      );
    } finally {
      refusing.close();
    }
  });
});

/**
 * tokenledger beside the app's own OpenTelemetry, as users install it: one app folder per
 * OpenTelemetry line (api 1.9 with SDK 2.x, api 1.10 with SDK 3.x), tokenledger from its packed
 * tarball beside the app's OpenTelemetry packages (versions pinned here, bumped on purpose), and each
 * setup in both load orders. Every run makes a chat call, a cached call, a stream that does not ask
 * for usage, one that does, and a call the policy blocks; then:
 *   - tokenledger's collector stored each of the four calls once, with the provider's exact bill
 *     (from the fake provider's usage and list prices) and the team from OTEL_RESOURCE_ATTRIBUTES;
 *   - the other instrumentation's GenAI spans reached the app's own OTLP receiver, 4 of 4;
 *   - the blocked call never reached the provider (4 requests in its log, none for gpt-4o);
 *   - the app saw exactly what the provider sent (no usage on the stream it did not ask usage for).
 * The matrix runs as child processes against one collector and one receiver; the folders install once.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Decimal from 'decimal.js';
import { REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { startOtlpSink, type OtlpSink, type SinkSpan } from '../support/otlp-sink';
import { installedFolder, packedTarballs, userEnv } from '../support/packed';
import { openAiCost } from '../fixtures/producers/prices';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'coexist');
const ADMIN_KEY = 'tl_admin_coexist_matrix_key_0001';
const INGEST_KEY = 'tl_ingest_coexist_matrix_key_001';
const TEAM = 'matrix';

/** The OpenTelemetry lines, each installed once in a folder of its own with everything its setups use. */
const LINES = {
  'api 1.9 (SDK 2.x)': [
    '@opentelemetry/api@1.9.1',
    '@opentelemetry/sdk-node@0.223.0',
    '@opentelemetry/sdk-trace-node@2.12.0',
    '@opentelemetry/exporter-trace-otlp-http@0.223.0',
    '@opentelemetry/instrumentation@0.223.0',
    '@opentelemetry/instrumentation-openai@0.21.0',
    '@opentelemetry/auto-instrumentations-node@0.81.2',
    '@traceloop/instrumentation-openai@0.27.0',
    'openlit@1.15.0',
    'openai@6.49.0',
  ],
  'api 1.10 (SDK 3.x)': [
    '@opentelemetry/api@1.10.0',
    '@opentelemetry/sdk-node@0.301.2',
    '@opentelemetry/instrumentation-openai@0.22.0',
    'openai@6.49.0',
  ],
} as const;
type Line = keyof typeof LINES;

interface Setup {
  name: string;
  /** The two load orders: node arguments before the app file, the app file, extra environment. */
  orders: Record<
    'tokenledger first' | 'app first',
    { args: string[]; app: string; env?: Record<string, string> }
  >;
  /** The other instrumentation's GenAI span of a call, as it reaches the app's receiver. */
  isTheirs: (span: SinkSpan) => boolean;
  lines: readonly Line[];
}

const TL = ['--require', 'tokenledger/register'];
const genAi = (span: SinkSpan): boolean =>
  span.attributes['gen_ai.operation.name'] === 'chat' || span.attributes['gen_ai.system'] === 'openai';
const ofScope = (prefix: string) => (span: SinkSpan) => genAi(span) && span.scope.name.startsWith(prefix);

const SETUPS: Setup[] = [
  {
    name: 'NodeSDK started in the app code (official instrumentation-openai)',
    orders: {
      'tokenledger first': { args: TL, app: 'app-sdk-in-code.cjs' },
      // The app requires tokenledger/register after starting its own SDK.
      'app first': { args: [], app: 'app-sdk-in-code.cjs', env: { TOKENLEDGER_IN_CODE: 'after-sdk' } },
    },
    isTheirs: ofScope('@opentelemetry/instrumentation-openai'),
    lines: ['api 1.9 (SDK 2.x)', 'api 1.10 (SDK 3.x)'],
  },
  {
    name: 'NodeSDK preloaded with --require (official instrumentation-openai)',
    orders: {
      'tokenledger first': { args: [...TL, '--require', './otel-nodesdk.cjs'], app: 'app.cjs' },
      'app first': { args: ['--require', './otel-nodesdk.cjs', ...TL], app: 'app.cjs' },
    },
    isTheirs: ofScope('@opentelemetry/instrumentation-openai'),
    lines: ['api 1.9 (SDK 2.x)', 'api 1.10 (SDK 3.x)'],
  },
  {
    name: '@opentelemetry/auto-instrumentations-node/register',
    orders: {
      'tokenledger first': {
        args: [...TL, '--require', '@opentelemetry/auto-instrumentations-node/register'],
        app: 'app.cjs',
      },
      'app first': {
        args: ['--require', '@opentelemetry/auto-instrumentations-node/register', ...TL],
        app: 'app.cjs',
      },
    },
    isTheirs: ofScope('@opentelemetry/instrumentation-openai'),
    lines: ['api 1.9 (SDK 2.x)'],
  },
  {
    name: 'official @opentelemetry/instrumentation-openai on a NodeTracerProvider',
    orders: {
      'tokenledger first': { args: [...TL, '--require', './otel-provider.cjs'], app: 'app.cjs' },
      'app first': { args: ['--require', './otel-provider.cjs', ...TL], app: 'app.cjs' },
    },
    isTheirs: ofScope('@opentelemetry/instrumentation-openai'),
    lines: ['api 1.9 (SDK 2.x)'],
  },
  {
    name: 'OpenLLMetry @traceloop/instrumentation-openai on a NodeTracerProvider',
    orders: {
      'tokenledger first': {
        args: [...TL, '--require', './otel-provider.cjs'],
        app: 'app.cjs',
        env: { OTEL_OPENAI_INSTRUMENTATION: 'openllmetry' },
      },
      'app first': {
        args: ['--require', './otel-provider.cjs', ...TL],
        app: 'app.cjs',
        env: { OTEL_OPENAI_INSTRUMENTATION: 'openllmetry' },
      },
    },
    isTheirs: ofScope('@traceloop/instrumentation-openai'),
    lines: ['api 1.9 (SDK 2.x)'],
  },
  {
    name: 'OpenLIT (openlit/register)',
    orders: {
      'tokenledger first': { args: [...TL, '--require', 'openlit/register'], app: 'app.cjs' },
      'app first': { args: ['--require', 'openlit/register', ...TL], app: 'app.cjs' },
    },
    isTheirs: (span) => genAi(span) && span.resource['telemetry.sdk.name'] === 'openlit',
    lines: ['api 1.9 (SDK 2.x)'],
  },
];

/** What the provider bills for the four calls (gpt-4o-mini list prices; the cached call 400 of 1000). */
const BILL = new Decimal(openAiCost(1000, 0, 200))
  .times(3)
  .plus(openAiCost(1000, 400, 200))
  .toFixed();

const POLICY = `version: 1
policies:
  - name: coexist-models
    match: { team: ${TEAM} }
    models: { allow: [gpt-4o-mini] }
`;

/** Every @opentelemetry/api copy installed in `dir`. */
function apiCopies(dir: string): string[] {
  const found: string[] = [];
  const walk = (nodeModules: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(nodeModules);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith('@')) {
        for (const scoped of readdirSync(path.join(nodeModules, entry))) {
          const pkg = path.join(nodeModules, entry, scoped);
          if (`${entry}/${scoped}` === '@opentelemetry/api') found.push(pkg);
          walk(path.join(pkg, 'node_modules'));
        }
      } else if (!entry.startsWith('.')) {
        walk(path.join(nodeModules, entry, 'node_modules'));
      }
    }
  };
  walk(path.join(dir, 'node_modules'));
  return found;
}

describe('with the app’s own OpenTelemetry: every call recorded once and exactly, in either load order', function () {
  this.timeout(600_000);
  const folders = new Map<Line, string>();
  let collector: CollectorProcess;
  let openai: FakeOpenAI;
  let sink: OtlpSink;

  before(async () => {
    const tarballs = await packedTarballs();
    // Installed one after the other: two npm installs at once would fight over the machine's 2 cores.
    for (const [line, packages] of Object.entries(LINES) as Array<[Line, readonly string[]]>) {
      const dir = await installedFolder('tl-coexist-', [tarballs.sdk, ...packages]);
      for (const file of readdirSync(FIXTURES)) copyFileSync(path.join(FIXTURES, file), path.join(dir, file));
      folders.set(line, dir);
    }
    const policyFile = path.join(folders.get('api 1.9 (SDK 2.x)')!, 'tokenledger.policy.yaml');
    writeFileSync(policyFile, POLICY);
    collector = await startCollectorProcess({
      env: {
        TOKENLEDGER_API_KEYS: `admin:${ADMIN_KEY},ingest:${INGEST_KEY}`,
        TOKENLEDGER_POLICY_FILE: policyFile,
      },
    });
    openai = await startFakeOpenAI();
    openai.setUsage({ input: 1000, output: 200, cached: 0 });
    sink = await startOtlpSink();
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
    await sink?.close();
  });

  for (const line of Object.keys(LINES) as Line[]) {
    it(`${line}: \`npm ls @opentelemetry/api\` shows one copy, the app's`, async () => {
      const dir = folders.get(line)!;
      const copies = apiCopies(dir);
      assert.deepEqual(copies, [path.join(dir, 'node_modules', '@opentelemetry', 'api')]);
      const { stdout } = await run('npm', ['ls', '@opentelemetry/api', '--all', '--parseable'], {
        cwd: dir,
        env: userEnv(),
      });
      assert.deepEqual([...new Set(stdout.trim().split('\n'))], copies);
    });
  }

  /** GET /v1/reports/spend for one service: its rows by team. */
  async function spendOf(service: string): Promise<Array<Record<string, unknown>>> {
    const res = await fetch(
      `${collector.url}/v1/reports/spend?groupBy=service,team,model&service=${service}`,
      {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      },
    );
    assert.equal(res.status, 200);
    return ((await res.json()) as { breakdown: Array<Record<string, unknown>> }).breakdown;
  }

  /** Waits until the collector reports `calls` calls for `service` (ingest is asynchronous). */
  async function settledSpend(service: string, calls: number): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rows = await spendOf(service);
      const stored = rows.reduce((n, r) => n + Number(r.calls), 0);
      if (stored >= calls || Date.now() > deadline) return rows;
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }

  let runNumber = 0;
  for (const setup of SETUPS) {
    for (const line of setup.lines) {
      for (const [order, how] of Object.entries(setup.orders)) {
        it(`${line}, ${setup.name}, ${order}`, async () => {
          const service = `coexist-${++runNumber}`;
          openai.reset();
          openai.setUsage({ input: 1000, output: 200, cached: 0 });
          sink.reset();
          const child = spawn(process.execPath, [...how.args, how.app], {
            cwd: folders.get(line)!,
            env: userEnv({
              FAKE_OPENAI_URL: openai.url,
              // The app's own OpenTelemetry exports to its own receiver...
              OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
              OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
              OTEL_METRICS_EXPORTER: 'none',
              OTEL_LOGS_EXPORTER: 'none',
              OTEL_SERVICE_NAME: service,
              OTEL_RESOURCE_ATTRIBUTES: `tokenledger.team=${TEAM}`,
              // ...and tokenledger to its collector.
              TOKENLEDGER_OTLP_ENDPOINT: collector.url,
              TOKENLEDGER_API_KEY: INGEST_KEY,
              ...how.env,
            }),
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          const code = await new Promise<number | null>((ok) => child.on('exit', ok));
          assert.equal(code, 0, stderr);

          // The app saw what the provider sent: usage only on the stream that asked for it.
          const seen = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
          assert.equal((seen.chat as { total_tokens: number }).total_tokens, 1200);
          assert.equal(
            (seen.cached as { prompt_tokens_details: { cached_tokens: number } }).prompt_tokens_details
              .cached_tokens,
            400,
          );
          assert.deepEqual((seen.stream as { usage: unknown[] }).usage, []);
          const streamUsage = (seen.streamUsage as { usage: Array<{ total_tokens: number } | null> }).usage;
          assert.equal(streamUsage.filter((u) => u !== null).length, 1);
          assert.equal(seen.blocked, 'ModelNotAllowedError');

          // The blocked call never left the app.
          const models = openai.requests.map((r) => r.body?.model);
          assert.deepEqual(models, ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini']);

          // Stored once each by tokenledger's collector, at the provider's bill, on the team; the
          // blocked call is kept too, at $0 (it never reached the provider).
          const rows = await settledSpend(service, 5);
          assert.deepEqual(
            rows
              .map((r) => [r.service, r.team, r.model, r.calls, r.unpriced_calls, r.spend_usd])
              .sort((a, b) => String(a[2]).localeCompare(String(b[2]))),
            [
              [service, TEAM, 'gpt-4o', 1, 0, '0'],
              [service, TEAM, 'gpt-4o-mini', 4, 0, BILL],
            ],
          );

          // The other instrumentation's spans reached the app's own receiver: one per call that
          // reached the provider (its span of the blocked call, if it made one, is an error).
          await sink.waitForSpans(4, 10_000).catch(() => undefined);
          const theirs = sink.spans.filter(setup.isTheirs);
          const answered = theirs.filter((s) => s.status.code !== 2);
          assert.equal(answered.length, 4, `their GenAI spans: ${JSON.stringify(theirs.map((s) => s.name))}`);
          // tokenledger's own spans go to its collector only.
          assert.equal(sink.spans.filter((s) => s.scope.name.startsWith('tokenledger/')).length, 0);
        });
      }
    }
  }
});

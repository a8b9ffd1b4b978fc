/**
 * Runs fixture apps the way users run them: `node [--require|--import tokenledger/register] app`,
 * in a child process, against a fake provider server and the OTLP JSON sink; and what every
 * provider's tests do with those runs (compare the app's output, wait for the spans).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startOtlpSink, type OtlpSink, type SinkSpan } from '../support/otlp-sink';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const APPS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'apps');
export const V4_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'openai-v4');
const V5_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'openai-v5');
const V6_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'openai-v6');

export interface AppVariant {
  label: string;
  cwd: string;
  app: string;
  /** How tokenledger is loaded for this kind of app. */
  flag: '--require' | '--import';
}

/** openai 7.x (root) and 4.x (nested fixture), CommonJS and ESM. */
export const VARIANTS: AppVariant[] = [
  { label: 'openai 7.x CJS', cwd: APPS_DIR, app: 'openai-app.cjs', flag: '--require' },
  { label: 'openai 7.x ESM', cwd: APPS_DIR, app: 'openai-app.mjs', flag: '--import' },
  { label: 'openai 4.x CJS', cwd: V4_DIR, app: 'app.cjs', flag: '--require' },
  { label: 'openai 4.x ESM', cwd: V4_DIR, app: 'app.mjs', flag: '--import' },
  { label: 'openai 5.x CJS', cwd: V5_DIR, app: 'app.cjs', flag: '--require' },
  { label: 'openai 5.x ESM', cwd: V5_DIR, app: 'app.mjs', flag: '--import' },
  { label: 'openai 6.x CJS', cwd: V6_DIR, app: 'app.cjs', flag: '--require' },
  { label: 'openai 6.x ESM', cwd: V6_DIR, app: 'app.mjs', flag: '--import' },
];

export interface AppRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed as JSON lines. */
  lines: unknown[];
}

export interface RunOptions {
  /** Load tokenledger (default true). */
  instrument?: boolean;
  /** Extra node args placed before the tokenledger flag (e.g. another --require). */
  preArgs?: string[];
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export function runApp(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  const args = [...(opts.preArgs ?? [])];
  if (opts.instrument !== false) args.push(variant.flag, 'tokenledger/register');
  args.push(variant.app, scenario);
  const env: Record<string, string | undefined> = { ...process.env, OTEL_LOG_LEVEL: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: variant.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant.label} ${scenario} did not exit in time\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as unknown;
          } catch {
            return l;
          }
        });
      resolve({ code, stdout, stderr, ms: Date.now() - started, lines });
    });
  });
}

/** `runApp`, asserting that the app exited cleanly. */
export async function runOk(variant: AppVariant, scenario: string, opts: RunOptions = {}): Promise<AppRun> {
  const r = await runApp(variant, scenario, opts);
  assert.equal(r.code, 0, `${variant.label} ${scenario} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Runs a scenario without, then with tokenledger (`run` does each run's setup) and asserts the app's
 * output is identical; returns the instrumented run.
 */
export async function runCompared(
  variant: AppVariant,
  scenario: string,
  run: (instrument: boolean) => Promise<AppRun>,
): Promise<AppRun> {
  const plain = await run(false);
  const instrumented = await run(true);
  const what = `${variant.label} ${scenario}: app output differs with tokenledger`;
  assert.deepEqual(instrumented.lines, plain.lines, what);
  assert.equal(instrumented.stdout, plain.stdout, what);
  // An SDK the tests cover is patched (no "not instrumented" warning), and nothing else is wrong.
  assert.doesNotMatch(instrumented.stderr, /TokenledgerWarning/, `${variant.label} ${scenario}`);
  return instrumented;
}

/** The environment that exports to the test sink as OTLP/JSON, with no OTel / tokenledger settings inherited. */
export function sinkEnv(sink: OtlpSink, serviceName = 'fixture-app'): Record<string, string | undefined> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: serviceName,
    OTEL_RESOURCE_ATTRIBUTES: undefined,
    TOKENLEDGER_API_KEY: undefined,
    TOKENLEDGER_TRACER_PROVIDER: undefined,
    TOKENLEDGER_OTLP_ENDPOINT: undefined,
    OTEL_SDK_DISABLED: undefined,
  };
}

/** In start order, which is call order in the fixture apps. */
export function byStartTime(spans: SinkSpan[]): SinkSpan[] {
  return spans.sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
}

/** A span that records a GenAI call (tokenledger's or another producer's). */
export function isGenAiSpan(span: SinkSpan): boolean {
  return span.attributes['gen_ai.operation.name'] !== undefined;
}

/** A span of one instrumentation scope (e.g. `tokenledger/instrumentation-anthropic`). */
export function ofScope(scope: string): (span: SinkSpan) => boolean {
  return (span) => span.scope.name === scope;
}

/** Waits (up to `timeoutMs`) for `count` matching spans; asserts there are exactly that many; in start order. */
export async function matchingSpans(
  sink: OtlpSink,
  match: (span: SinkSpan) => boolean,
  count: number,
  timeoutMs = 5_000,
): Promise<SinkSpan[]> {
  const deadline = Date.now() + timeoutMs;
  const found = (): SinkSpan[] => byStartTime(sink.spans.filter(match));
  while (found().length < count && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
  const spans = found();
  assert.equal(
    spans.length,
    count,
    `expected ${count} spans, got ${JSON.stringify(spans.map((s) => s.name))}`,
  );
  return spans;
}

/** The OTLP span status code of a failed call. */
export const STATUS_ERROR = 2;

/**
 * Starts a provider's fake server and the OTLP sink before the suite's tests and closes both after;
 * `started` hands them to the suite.
 */
export function useServers<F extends { close(): Promise<void> }>(
  startFake: () => Promise<F>,
  started: (fake: F, sink: OtlpSink) => void,
): void {
  let fake: F | undefined;
  let sink: OtlpSink | undefined;
  before(async () => {
    fake = await startFake();
    sink = await startOtlpSink();
    started(fake, sink);
  });
  after(async () => {
    await fake?.close();
    await sink?.close();
  });
}

/** A failed call's span: ERROR status, its error.type and, when given, the HTTP status it carried. */
export function assertErrorSpan(span: SinkSpan | undefined, errorType: string, httpStatus?: number): void {
  assert.ok(span, 'no span');
  assert.equal(span.status.code, STATUS_ERROR);
  assert.equal(span.attributes['error.type'], errorType);
  if (httpStatus !== undefined) assert.equal(span.attributes['http.response.status_code'], httpStatus);
}

/**
 * OpenAI background responses as users run them: one process starts the job, other processes poll
 * it until it has finished, all started with `node --require tokenledger/register`. The response is
 * billed once, at list price, to the team that ran it, however many processes saw it finished.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { CLI, REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';

const run = promisify(execFile);
const JOB = path.join(REPO_ROOT, 'test', 'fixtures', 'e2e', 'background-job.cjs');

interface SpendReport {
  total_usd: string;
  breakdown: Array<Record<string, string | number>>;
}

describe('OpenAI background responses: billed once, whoever reads them', function () {
  this.timeout(120_000);
  let openai: FakeOpenAI;
  let collector: CollectorProcess;
  let ingestKey: string;
  let adminKey: string;

  before(async () => {
    openai = await startFakeOpenAI();
    collector = await startCollectorProcess();
    const env = { ...process.env, TOKENLEDGER_DATA_DIR: collector.dataDir };
    ingestKey = (await run(process.execPath, [CLI, 'keys', 'show', 'ingest'], { env })).stdout.trim();
    adminKey = (await run(process.execPath, [CLI, 'keys', 'show', 'admin'], { env })).stdout.trim();
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
  });

  const job = async (service: string, ...args: string[]): Promise<Record<string, string>> => {
    const { stdout } = await run(process.execPath, ['--require', 'tokenledger/register', JOB, ...args], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: 'sk-test',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_RESOURCE_ATTRIBUTES: `service.name=${service},tokenledger.team=research`,
        TOKENLEDGER_API_KEY: ingestKey,
      },
    });
    return JSON.parse(stdout) as Record<string, string>;
  };

  const spend = async (): Promise<SpendReport> => {
    const res = await fetch(`${collector.url}/v1/reports/spend?period=last_7d&groupBy=team,model`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as SpendReport;
  };

  it('a job started in one process and polled by two others is one call at its exact price', async () => {
    // gpt-4o, 1000 in / 200 out: $0.0045. The job was created a minute ago.
    const createdAt = Math.floor(Date.now() / 1000) - 60;
    openai.script({ usage: { input: 1000, output: 200 }, createdAt, pendingReads: 2 });
    const started = await job('report-api', 'create');
    assert.equal(started.status, 'queued');
    // Nothing is billed yet: the create span is deferred, not an unpriced call.
    assert.deepEqual((await spend()).breakdown, []);

    // Two replicas poll it; both see it finish and both record it.
    const polls = await Promise.all([
      job('report-worker', 'wait', started.id!),
      job('report-worker', 'wait', started.id!),
    ]);
    assert.deepEqual(
      polls.map((p) => p.status),
      ['completed', 'completed'],
    );
    // A third process reads it later still.
    await job('report-api', 'wait', started.id!);

    const report = await spend();
    assert.equal(report.total_usd, '0.0045');
    assert.deepEqual(report.breakdown, [
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
});

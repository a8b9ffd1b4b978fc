/**
 * Estimates and the approval workflow as users run them: a batch job started with
 * `node --require tokenledger/register` estimates its cost, asks for approval, waits, and runs under
 * `withApproval`; an approver decides with the CLI; the job's calls stop before they leave once the
 * approved amount is spent. Real collector process, real openai SDK against the fake OpenAI server.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { CLI, REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';

const run = promisify(execFile);
const JOB = path.join(REPO_ROOT, 'test', 'fixtures', 'approvals', 'batch-job.cjs');

interface JobLine {
  step: string;
  [k: string]: unknown;
}

describe('estimates and approvals, end to end', function () {
  this.timeout(120_000);
  let openai: FakeOpenAI;
  let collector: CollectorProcess;
  let ingestKey: string;
  let approverKey: string;
  let otherApproverKey: string;

  const cli = async (args: string[], key?: string): Promise<string> => {
    const env = {
      ...process.env,
      TOKENLEDGER_DATA_DIR: collector.dataDir,
      TOKENLEDGER_URL: collector.url,
      ...(key ? { TOKENLEDGER_API_KEY: key } : {}),
    };
    return (await run(process.execPath, [CLI, ...args], { env })).stdout;
  };
  const cliFails = async (args: string[], key: string): Promise<string> => {
    try {
      await cli(args, key);
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
    throw new Error(`expected tokenledger ${args.join(' ')} to fail`);
  };

  before(async () => {
    openai = await startFakeOpenAI();
    collector = await startCollectorProcess();
    ingestKey = (await cli(['keys', 'show', 'ingest'])).trim();
    approverKey = (
      await cli(['keys', 'create', '--role', 'approver', '--name', 'finance-lead@example.com'])
    ).trim();
    otherApproverKey = (
      await cli(['keys', 'create', '--role', 'approver', '--name', 'cto@example.com'])
    ).trim();
  });
  after(async () => {
    await collector?.stop();
    await openai?.close();
  });

  it('estimates from token counts and from chat messages, exactly', async () => {
    // gpt-4o list price: $2.50 / M input, $10 / M output → 1000 in + 200 out = $0.0045 per call.
    const e = JSON.parse(
      await cli(
        [
          'estimate',
          '--model',
          'gpt-4o',
          '--input-tokens',
          '1000',
          '--output-tokens',
          '200',
          '--count',
          '100',
          '--json',
        ],
        ingestKey,
      ),
    );
    assert.equal(e.cost_per_call_usd, '0.0045');
    assert.equal(e.cost_usd, '0.45');
    // The per-million prices it used, which withApproval then costs the job's calls with.
    assert.deepEqual(e.unit_prices_mtok, { input: '2.5', cached_input: '1.25', output: '10' });
    const table = await cli(
      ['estimate', '--model', 'gpt-4o', '--input-tokens', '1000', '--output-tokens', '200'],
      ingestKey,
    );
    assert.match(table, /USD \/ call\s*│\s*0\.0045/);

    // 2 messages: 3 + 1 (role) + 6 ("You are a helpful assistant.") + 3 + 1 + 7 ("Hello, how are you today?") + 3 = 24 tokens.
    const res = await fetch(`${collector.url}/v1/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'You are a helpful assistant.' },
          { role: 'user', content: 'Hello, how are you today?' },
        ],
        output_tokens: 100,
      }),
    });
    const m = (await res.json()) as { input_tokens: number; cost_usd: string; tokenizer: string };
    assert.equal(m.input_tokens, 24);
    assert.equal(m.tokenizer, 'o200k_base');
    assert.equal(m.cost_usd, '0.00106'); // 24 × 2.5e-6 + 100 × 1e-5

    const bad = await fetch(`${collector.url}/v1/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', input_tokens: 10 }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /output_tokens is required/);
    const unknown = JSON.parse(
      await cli(
        ['estimate', '--model', 'acme-private-7b', '--input-tokens', '10', '--output-tokens', '1', '--json'],
        ingestKey,
      ),
    );
    assert.equal(unknown.priced, false);
    assert.match(unknown.note, /pricing\.overrides/);
  });

  it('runs a job only once approved, and blocks its calls before the wire when the approved amount is spent', async () => {
    openai.reset();
    openai.setUsage({ input: 1000, output: 200, cached: 0, reasoning: 0 });
    const job: ChildProcess = spawn(process.execPath, ['--require', 'tokenledger/register', JOB], {
      cwd: path.dirname(JOB),
      env: {
        ...process.env,
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: 'sk-test',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        TOKENLEDGER_API_KEY: ingestKey,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        JOB_CALLS: '10',
        JOB_APPROVER: 'finance-lead@example.com',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    job.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: JobLine[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: job.stdout! }).on('line', (l) => {
      lines.push(JSON.parse(l) as JobLine);
      for (const w of waiters.splice(0)) w();
    });
    const waitFor = async (step: string): Promise<JobLine> => {
      for (;;) {
        const hit = lines.find((l) => l.step === step);
        if (hit) return hit;
        if (job.exitCode !== null) throw new Error(`job exited before "${step}": ${stderr}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    const exited = new Promise<number | null>((r) => job.on('exit', (code) => r(code)));

    assert.equal((await waitFor('estimate')).costUsd, '0.045');
    const requested = await waitFor('requested');
    const id = String(requested.id);
    assert.equal(requested.status, 'pending');
    assert.equal(openai.requests.length, 0, 'nothing runs before the approval');

    // The job's own (ingest) key cannot decide; another approver than the named one cannot either.
    // The hint names the role that can decide (not "a viewer or admin key": a viewer cannot).
    const refused = await cliFails(['approvals', 'approve', id], ingestKey);
    assert.match(refused, /403.*an ingest key cannot approve: use an approver or admin key/);
    assert.doesNotMatch(refused, /viewer/);
    assert.match(
      await cliFails(['approvals', 'approve', id], otherApproverKey),
      /403.*finance-lead@example\.com/,
    );
    const pending = await cli(['approvals', 'list', '--status', 'pending'], approverKey);
    assert.match(pending, new RegExp(id));

    // Approve $0.01: room for 3 calls of $0.0045 (0, 0.0045, 0.009 are under the amount); the 4th is blocked.
    const approved = JSON.parse(
      await cli(
        ['approvals', 'approve', id, '--amount', '0.01', '--comment', 'ok for tonight', '--json'],
        approverKey,
      ),
    );
    assert.equal(approved.status, 'approved');
    assert.equal(approved.decided_by, 'finance-lead@example.com');
    assert.equal(approved.approved_usd, '0.01');

    const end = await waitFor('end');
    assert.equal(await exited, 0, stderr);
    assert.equal(end.blocked, true);
    assert.equal(end.name, 'ApprovalRequiredError');
    assert.match(
      String(end.message),
      new RegExp(`approval ${id} .* is used up: \\$0\\.01 approved, \\$0\\.0135 spent`),
    );
    assert.equal(lines.filter((l) => l.step === 'call').length, 3);
    assert.equal(openai.requests.length, 3, 'the blocked call never reached the provider');

    // The calls are stored against the approval: its spend is the exact sum.
    let shown: { spent_usd: string; status: string } | undefined;
    for (let i = 0; i < 50; i++) {
      shown = JSON.parse(await cli(['approvals', 'show', id, '--json'], approverKey));
      if (shown!.spent_usd === '0.0135') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(shown!.spent_usd, '0.0135');
  });

  it('never lets a requester decide their own request', async () => {
    const res = await fetch(`${collector.url}/v1/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approverKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        job: 'backfill',
        estimated_cost_usd: 120,
        cost_center: 'data:platform',
        justification: 'quarterly backfill',
      }),
    });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    assert.match(
      await cliFails(['approvals', 'approve', id], approverKey),
      /cannot approve or reject their own request/,
    );
    const rejected = JSON.parse(await cli(['approvals', 'reject', id, '--json'], otherApproverKey));
    assert.equal(rejected.status, 'rejected');
    assert.equal(rejected.decided_by, 'cto@example.com');
    assert.match(await cliFails(['approvals', 'approve', id], approverKey), /409|own request/);
  });
});

/**
 * The overshoot scenario, shared by test/guard/overshoot.test.ts and bench/guard.mjs (through
 * ./overshoot-main.ts): 16 app processes (`node --require tokenledger/register`, real openai SDK) ×
 * 8 concurrent calls spend from one $1 budget through a real collector; the spend is the
 * collector's own report, read once every span is stored.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import {
  collectorKey,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { eventually, getJson, runApp, writePolicy, type AppRun } from './helpers';

export const PROCESSES = 16;
export const CONCURRENCY = 8;
export const CAP_USD = 1;

/** gpt-4o, 100 input + 100 output tokens: $0.00025 + $0.001 = $0.00125 a call, 800 calls for $1. */
const USAGE = { input: 100, output: 100, cached: 0, reasoning: 0 };

const POLICY = `
version: 1
policies:
  - name: shared-dollar
    match: { feature: overshoot }
    models: { allow: [gpt-4o] }
    budget: { usd: ${CAP_USD}, period: monthly }
    on_exceeded: block
`;

export interface OvershootResult {
  spentUsd: string;
  calls: number;
  blockedCalls: number;
  overshootPct: number;
  utilisationPct: number;
  seconds: number;
}

/** Runs the scenario against a running collector; returns the collector's figures. */
export async function runOvershoot(
  collector: CollectorProcess,
  openai: FakeOpenAI,
  ingestKey: string,
  adminKey: string,
): Promise<OvershootResult> {
  const started = Date.now();
  const runs: AppRun[] = await Promise.all(
    Array.from({ length: PROCESSES }, () =>
      runApp(
        [
          {
            name: 'overshoot',
            model: 'gpt-4o',
            max_tokens: 100,
            attribution: { team: 'load', feature: 'overshoot' },
            untilBlocked: true,
            concurrency: CONCURRENCY,
            retryBlockedMs: 3_000,
          },
        ],
        {
          env: {
            OPENAI_BASE_URL: openai.url,
            OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
            TOKENLEDGER_URL: collector.url,
            TOKENLEDGER_API_KEY: ingestKey,
            GUARD_WAIT: 'ready',
            // The SDK's own retry (one span, one cost) rides over a socket the busy fake server reset.
            GUARD_MAX_RETRIES: '2',
          },
        },
      ),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    // Each process held the budget state (and its first slice) before its first call.
    assert.deepEqual(r.lines[0], { ready: true });
  }
  const ok = runs.reduce((n, r) => n + r.calls.filter((c) => c.ok).length, 0);
  const blocked = runs.reduce((n, r) => n + r.calls.filter((c) => !c.ok).length, 0);
  for (const r of runs)
    for (const c of r.calls) if (!c.ok) assert.equal(c.error!.name, 'BudgetExceededError', c.error!.message);
  // Every allowed call reached the provider (an SDK retry may have sent one twice); no blocked one did.
  assert.ok(
    openai.requests.length >= ok && openai.requests.length <= ok + 16,
    `${openai.requests.length} requests, ${ok} calls`,
  );
  // The collector's report once every span is stored.
  let last = '';
  const report = await eventually(async () => {
    const r = await getJson<{ total_usd: string; breakdown: Array<{ input_tokens: number }> }>(
      `${collector.url}/v1/reports/spend?period=current_month&feature=overshoot`,
      adminKey,
    );
    last = JSON.stringify(r);
    // Blocked calls are stored too (enforcement=blocked, no tokens): count the ones that spent.
    return r.breakdown.reduce((n, b) => n + Number(b.input_tokens), 0) === ok * USAGE.input ? r : undefined;
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${ok} calls made, the collector reports ${last}`);
  });
  const spent = Number(report.total_usd);
  return {
    spentUsd: report.total_usd,
    calls: ok,
    blockedCalls: blocked,
    overshootPct: (Math.max(0, spent - CAP_USD) / CAP_USD) * 100,
    utilisationPct: (spent / CAP_USD) * 100,
    seconds,
  };
}

export async function startOvershootRig(): Promise<{
  collector: CollectorProcess;
  openai: FakeOpenAI;
  ingestKey: string;
  adminKey: string;
}> {
  const openai = await startFakeOpenAI();
  openai.setUsage(USAGE);
  const dir = tempDataDir('tl-overshoot-');
  const policyFile = path.join(dir, 'policy.yaml');
  writePolicy(policyFile, POLICY);
  const collector = await startCollectorProcess({
    dataDir: dir,
    env: { TOKENLEDGER_POLICY_FILE: policyFile },
  });
  return {
    collector,
    openai,
    ingestKey: await collectorKey(collector, 'ingest'),
    adminKey: await collectorKey(collector, 'admin'),
  };
}

export async function stopOvershootRig(rig: {
  collector: CollectorProcess;
  openai: FakeOpenAI;
}): Promise<void> {
  await rig.collector.stop();
  await rig.openai.close();
}

/**
 * The one-flag figure, shared by test/guard/overshoot.test.ts and bench/guard.mjs (through
 * ./overshoot-main.ts). An app installed from the packed tarballs in a folder of its own, started
 * with `node --require tokenledger/register` and nothing else (no `whenGuardReady()`), real `openai`
 * SDK against the fake provider, a real collector process:
 *
 *   1. 16 processes started one after another over 10 s, each with 8 concurrent calls, spend from one
 *      $0.05 budget of gpt-4o-mini (about 667 calls); a worker retries BudgetBusyError after its
 *      retryAfterSeconds and stops at BudgetExceededError (as the README's app does);
 *   2. once the cap is spent, 50 one-shot processes make one call each.
 *
 * The provider's request log is the ground truth: overshoot and use of the cap are its requests ×
 * the price of one call; the one-shots must add none.
 *
 * With `collectors: 3` the rig runs three collector processes on one store (the ClickHouse HTTP
 * stand-in) and spreads the app processes over them (issue 26): one budget whichever collector an
 * app talks to. `midRun` lets a test act when the provider has seen so many calls (kill the lease
 * owner).
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import {
  collectorKey,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { startClickHouseStandIn, type ClickHouseStandIn } from '../support/clickhouse-http/process';
import { installedFolder, packedTarballs, repoVersionOf } from '../support/packed';
import { APP, eventually, getJson, runApp, writePolicy, type AppRun, type CallLine } from './helpers';

export const PROCESSES = 16;
export const CONCURRENCY = 8;
export const CAP_USD = 0.05;
export const STAGGER_MS = 10_000;
export const ONE_SHOTS = 50;
/** One-shots started at a time (each is a fresh node process). */
const ONE_SHOT_BATCH = 10;
/** A provider that takes a while, so the cap is spent while later processes are still starting. */
const PROVIDER_DELAY_MS = 250;
/** gpt-4o-mini, 100 input + 100 output tokens: $0.000015 + $0.00006 = $0.000075 a call, ~667 for $0.05. */
const USAGE = { input: 100, output: 100, cached: 0, reasoning: 0 };
const MODEL = 'gpt-4o-mini';

const POLICY = `
version: 1
policies:
  - name: shared-cap
    match: { feature: overshoot }
    models: { allow: [${MODEL}] }
    budget: { usd: ${CAP_USD}, period: monthly }
    on_exceeded: block
`;

export interface OvershootResult {
  /** Calls that reached the provider (its request log), and what they cost. */
  providerCalls: number;
  providerSpentUsd: number;
  /** The collector's report once every span is stored. */
  reportedSpentUsd: string;
  overshootPct: number;
  utilisationPct: number;
  busyErrors: number;
  exceededErrors: number;
  /** Calls of the one-shot processes that reached the provider. */
  oneShotCalls: number;
  /** Workers whose very first call was refused as exceeded (they started after the cap was spent). */
  lateWorkers: number;
  seconds: number;
  /** Where the workers' time went (seconds from the first worker's start; see tailOf). */
  tail: OvershootTail;
}

/**
 * The end of a run: the first BudgetBusyError (from then on calls wait for money others hold), when
 * the provider saw all but the last call (the cap's money nearly all spent) and the last call, when
 * the last worker stopped, and the BudgetBusyError retries from the first of these on — the part of
 * a run a loaded machine stretches (decision 0088).
 */
export interface OvershootTail {
  firstBusySeconds: number;
  nearCapSeconds: number;
  lastCallSeconds: number;
  lastStopSeconds: number;
  busyAfterNearCap: number;
}

export interface OvershootRig {
  /** The first collector (the only one by default). */
  collector: CollectorProcess;
  /** Every collector of the store. */
  collectors: CollectorProcess[];
  /** The shared store, with several collectors. */
  store?: ClickHouseStandIn;
  openai: FakeOpenAI;
  ingestKey: string;
  adminKey: string;
  app: string;
  callUsd: number;
}

export interface OvershootOptions {
  /** The collectors the app processes talk to, one after another (default: all of the rig's). */
  targets?: CollectorProcess[];
  /** Runs once the provider has seen `afterCalls` calls, while the workers run. */
  midRun?: { afterCalls: number; run: () => Promise<void> };
}

/** Runs the scenario once against a running rig; returns the provider's and the collector's figures. */
export async function runOvershoot(rig: OvershootRig, opts: OvershootOptions = {}): Promise<OvershootResult> {
  const { openai } = rig;
  const targets = opts.targets ?? rig.collectors;
  const collector = targets[0]!;
  openai.reset();
  openai.setUsage(USAGE);
  openai.setDelay(PROVIDER_DELAY_MS);
  const envFor = (i: number): Record<string, string> => ({
    ...env,
    OTEL_EXPORTER_OTLP_ENDPOINT: targets[i % targets.length]!.url,
  });
  const env = {
    OPENAI_BASE_URL: openai.url,
    TOKENLEDGER_API_KEY: rig.ingestKey,
    // The SDK's default: its retry rides over a kept-alive socket the server closed meanwhile.
    GUARD_MAX_RETRIES: '2',
    // tokenledger's own export schedule (the helper's 200 ms is for tests that read spans at once).
    OTEL_BSP_SCHEDULE_DELAY: '',
  };
  const started = Date.now();
  let midRun: Promise<void> | undefined;
  const watch = setInterval(() => {
    if (opts.midRun && !midRun && openai.requests.length >= opts.midRun.afterCalls)
      midRun = opts.midRun.run();
  }, 50);
  const workers: Array<Promise<AppRun>> = [];
  for (let i = 0; i < PROCESSES; i++) {
    if (i > 0) await sleep(STAGGER_MS / (PROCESSES - 1));
    workers.push(
      runApp(
        [
          {
            name: 'worker',
            model: MODEL,
            max_tokens: USAGE.output,
            attribution: { team: 'load', feature: 'overshoot' },
            untilBlocked: true,
            concurrency: CONCURRENCY,
            retryBusy: true,
          },
        ],
        { env: envFor(i), app: rig.app },
      ),
    );
  }
  const runs = await Promise.all(workers);
  clearInterval(watch);
  await midRun;
  const seconds = (Date.now() - started) / 1000;
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const lines = runs.flatMap((r) => r.calls);
  const refused = lines.filter((c) => !c.ok);
  assertRefusals(refused);
  const providerCalls = openai.requests.length;

  // The cap is spent (every worker stopped at BudgetExceededError): fresh one-shot processes.
  for (let i = 0; i < ONE_SHOTS; i += ONE_SHOT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(ONE_SHOT_BATCH, ONE_SHOTS - i) }, (_, j) =>
        runApp([{ name: 'one-shot', model: MODEL, attribution: { team: 'load', feature: 'overshoot' } }], {
          env: envFor(i + j),
          app: rig.app,
        }),
      ),
    );
    for (const r of batch) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.calls.length, 1, JSON.stringify(r.lines));
      assert.equal(r.calls[0]!.error?.name, 'BudgetExceededError', JSON.stringify(r.calls[0]));
    }
    refused.push(...batch.flatMap((r) => r.calls));
  }
  const oneShotCalls = openai.requests.length - providerCalls;
  assertRefusals(refused);

  // The collector's own figure once every span is stored: it must agree with the provider's log.
  let last = '';
  const reported = await eventually(async () => {
    const r = await getJson<{ total_usd: string; breakdown: Array<{ calls: number; input_tokens: number }> }>(
      `${collector.url}/v1/reports/spend?period=current_month&feature=overshoot`,
      rig.adminKey,
    );
    last = JSON.stringify(r);
    const inputTokens = r.breakdown.reduce((n, b) => n + Number(b.input_tokens), 0);
    return inputTokens === openai.requests.length * USAGE.input ? r.total_usd : undefined;
  }, 30_000).catch((err: Error) => {
    throw new Error(
      `${err.message}: the provider saw ${openai.requests.length} calls, the collector reports ${last}`,
    );
  });
  const providerSpentUsd = openai.requests.length * rig.callUsd;
  return {
    providerCalls: openai.requests.length,
    providerSpentUsd,
    reportedSpentUsd: reported,
    overshootPct: (Math.max(0, providerSpentUsd - CAP_USD) / CAP_USD) * 100,
    utilisationPct: (providerSpentUsd / CAP_USD) * 100,
    busyErrors: refused.filter((c) => c.error?.name === 'BudgetBusyError').length,
    exceededErrors: refused.filter((c) => c.error?.name === 'BudgetExceededError').length,
    oneShotCalls,
    lateWorkers: runs.filter((r) => r.calls[0]?.error?.name === 'BudgetExceededError').length,
    seconds,
    tail: tailOf(started, openai.requests.slice(0, providerCalls), lines),
  };
}

function tailOf(started: number, requests: Array<{ at: number }>, lines: CallLine[]): OvershootTail {
  const s = (at: number | undefined): number => Math.round(((at ?? started) - started) / 100) / 10;
  const nearCap = requests.at(-2)?.at ?? started;
  const busy = lines.filter((l) => l.error?.name === 'BudgetBusyError').map((l) => l.at);
  return {
    firstBusySeconds: s(busy.length > 0 ? Math.min(...busy) : undefined),
    nearCapSeconds: s(nearCap),
    lastCallSeconds: s(requests.at(-1)?.at),
    lastStopSeconds: s(Math.max(started, ...lines.map((l) => l.at))),
    busyAfterNearCap: lines.filter((l) => l.error?.name === 'BudgetBusyError' && l.at >= nearCap).length,
  };
}

/** Every refusal is Busy (retry) or Exceeded, and Exceeded only once the collector's spend reached the cap. */
function assertRefusals(refused: CallLine[]): void {
  for (const c of refused) {
    const name = c.error?.name;
    assert.ok(name === 'BudgetBusyError' || name === 'BudgetExceededError', JSON.stringify(c));
    if (name === 'BudgetExceededError')
      assert.ok(Number(c.error!.budget!.spentUsd) >= CAP_USD, `exceeded below the cap: ${JSON.stringify(c)}`);
    else assert.ok(Number(c.error!.budget!.spentUsd) < CAP_USD, `busy at the cap: ${JSON.stringify(c)}`);
  }
}

/** The guard fixture app in a folder of its own, with tokenledger and openai installed from the tarballs. */
export async function installOvershootApp(): Promise<string> {
  const tarballs = await packedTarballs();
  const folder = await installedFolder('tl-overshoot-app-', [
    tarballs.sdk,
    `openai@${repoVersionOf('openai')}`,
  ]);
  const app = path.join(folder, 'app.cjs');
  copyFileSync(APP, app);
  return app;
}

export interface RigOptions {
  /** Collector processes on one shared store (the ClickHouse HTTP stand-in); 1: embedded ClickHouse. */
  collectors?: number;
  /** TOKENLEDGER_LEASE_TTL_MS of every collector. */
  leaseTtlMs?: number;
}

/**
 * A fresh store (the policy above, nothing spent), its collector(s) and the fake provider for `app`:
 * one collector on embedded ClickHouse, or several sharing the ClickHouse HTTP stand-in with the
 * same keys and policy file, started one after another as a rollout does.
 */
export async function startOvershootRig(app: string, opts: RigOptions = {}): Promise<OvershootRig> {
  const openai = await startFakeOpenAI();
  const dir = tempDataDir('tl-overshoot-');
  const policyFile = path.join(dir, 'policy.yaml');
  writePolicy(policyFile, POLICY);
  const env: Record<string, string> = { TOKENLEDGER_POLICY_FILE: policyFile };
  if (opts.leaseTtlMs !== undefined) env.TOKENLEDGER_LEASE_TTL_MS = String(opts.leaseTtlMs);
  const count = opts.collectors ?? 1;
  let store: ClickHouseStandIn | undefined;
  const collectors: CollectorProcess[] = [];
  let ingestKey: string;
  let adminKey: string;
  if (count === 1) {
    collectors.push(await startCollectorProcess({ dataDir: dir, env }));
    ingestKey = await collectorKey(collectors[0]!, 'ingest');
    adminKey = await collectorKey(collectors[0]!, 'admin');
  } else {
    store = await startClickHouseStandIn({ sessions: 6 });
    ingestKey = `tl_ingest_overshoot_${process.pid}`;
    adminKey = `tl_admin_overshoot_${process.pid}`;
    for (let i = 0; i < count; i++)
      collectors.push(
        await startCollectorProcess({
          env: {
            ...env,
            CLICKHOUSE_URL: `${store.url}/tokenledger`,
            TOKENLEDGER_API_KEYS: `admin:${adminKey},ingest:${ingestKey}`,
          },
        }),
      );
  }
  const collector = collectors[0]!;
  const estimate = await fetch(`${collector.url}/v1/estimate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      provider: 'openai',
      input_tokens: USAGE.input,
      output_tokens: USAGE.output,
    }),
  });
  const callUsd = Number(((await estimate.json()) as { cost_per_call_usd: string }).cost_per_call_usd);
  return { collector, collectors, ...(store ? { store } : {}), openai, ingestKey, adminKey, app, callUsd };
}

/** Whether the collector grants budget leases now (its tokenledger_budget_lease_owner gauge). */
export async function isLeaseOwner(rig: OvershootRig, c: CollectorProcess): Promise<boolean> {
  const res = await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${rig.adminKey}` } });
  return /^tokenledger_budget_lease_owner 1$/m.test(await res.text());
}

/** The one collector among `among` that grants budget leases, once there is exactly one (at most 60 s). */
export async function leaseOwnerOf(rig: OvershootRig, among: CollectorProcess[]): Promise<CollectorProcess> {
  return eventually(async () => {
    const owners: CollectorProcess[] = [];
    for (const c of among) if (await isLeaseOwner(rig, c)) owners.push(c);
    return owners.length === 1 ? owners[0] : undefined;
  }, 60_000);
}

export async function stopOvershootRig(
  rig: Pick<OvershootRig, 'collectors' | 'openai' | 'store'>,
): Promise<void> {
  for (const c of rig.collectors) await c.stop();
  await rig.store?.stop();
  await rig.openai.close();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

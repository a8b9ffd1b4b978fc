/**
 * Governed from the first call, the one-flag setup: apps whose first lines are LLM calls, started
 * with `node --require tokenledger/register` only (no `whenGuardReady()`), every provider's real SDK
 * against its fake server, the policy from a real collector reached through a proxy that answers
 * late (or never). The provider's request log is the ground truth: the first calls must reach it
 * already governed (clamped by the policy), or not at all (kill switch) — and each SDK must still
 * hand the app its own value (the APIPromise with `.withResponse()` / `.asResponse()`, streams,
 * native promises, Bedrock's callback).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-bedrock';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini';
import { startFakeMistral, type FakeMistral } from '../support/fake-mistral';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { startCollectorProxy, type CollectorProxy } from '../support/collector-proxy';
import { startSilentServer } from '../support/silent-server';
import {
  collectorKey,
  REPO_ROOT,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { eventually, getJson, runApp, writePolicy } from './helpers';

const FIRST_CALL_APP = path.join(REPO_ROOT, 'test', 'fixtures', 'guard', 'first-call.cjs');
const CLAMP = 50;
const POLICY = `
version: 1
policies:
  - name: short-answers
    max_tokens_per_call: ${CLAMP}
`;

interface ShapeLine {
  shape?: string;
  ok?: boolean;
  value?: Record<string, unknown>;
  /** policyName: the PolicyError, also when a helper wrapped it (its `cause`). */
  error?: { name: string; message: string; policyName?: string; killSwitch: boolean };
  sync?: { promise: boolean; thenable: boolean; constructor: string };
  done?: boolean;
  fatal?: string;
}

describe('governed from the first call (one flag, every provider, the collector slow to answer)', function () {
  this.timeout(180_000);
  let collector: CollectorProcess;
  let proxy: CollectorProxy;
  let ingestKey: string;
  let policyFile: string;
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let mistral: FakeMistral;
  let bedrock: FakeBedrock;

  const providers = {
    openai: {
      requests: () => openai.requests,
      maxTokens: (b: Body) => b.max_completion_tokens ?? b.max_tokens,
    },
    anthropic: { requests: () => anthropic.requests, maxTokens: (b: Body) => b.max_tokens },
    gemini: {
      requests: () => gemini.requests,
      maxTokens: (b: Body) => (b.generationConfig as Body | undefined)?.maxOutputTokens,
    },
    mistral: { requests: () => mistral.requests, maxTokens: (b: Body) => b.max_tokens },
    bedrock: {
      requests: () => bedrock.requests,
      maxTokens: (b: Body) => (b.inferenceConfig as Body | undefined)?.maxTokens,
    },
  } as const;
  type Provider = keyof typeof providers;
  type Body = Record<string, unknown>;

  /** The first-call app for `provider`, its guard pointed at `url` (the proxy by default). */
  function run(provider: Provider, env: Record<string, string> = {}): Promise<ShapeLine[]> {
    const child = spawn(process.execPath, ['--require', 'tokenledger/register', FIRST_CALL_APP, provider], {
      cwd: path.dirname(FIRST_CALL_APP),
      env: {
        ...process.env,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: openai.url,
        ANTHROPIC_BASE_URL: anthropic.url,
        GEMINI_BASE_URL: gemini.url,
        MISTRAL_SERVER_URL: mistral.url,
        BEDROCK_ENDPOINT: bedrock.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        TOKENLEDGER_URL: proxy.url,
        TOKENLEDGER_API_KEY: ingestKey,
        // Each run starts without the state a previous process left on disk (tested on its own below).
        TOKENLEDGER_GUARD_CACHE: 'off',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) =>
      child.on('close', (code) => {
        const lines = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ShapeLine);
        if (code !== 0 || !lines.some((l) => l.done)) reject(new Error(`exit ${code}: ${stdout}\n${stderr}`));
        else resolve(lines.filter((l) => l.shape !== undefined));
      }),
    );
  }

  const setPolicy = async (yaml: string, check: (b: { kill_switch: boolean }) => boolean): Promise<void> => {
    writePolicy(policyFile, yaml);
    await eventually(async () =>
      check(await getJson<{ kill_switch: boolean }>(`${collector.url}/v1/budgets`, ingestKey))
        ? true
        : undefined,
    );
  };

  before(async () => {
    [openai, anthropic, gemini, mistral, bedrock] = await Promise.all([
      startFakeOpenAI(),
      startFakeAnthropic(),
      startFakeGemini(),
      startFakeMistral(),
      startFakeBedrock(),
    ]);
    const dir = tempDataDir('tl-first-call-');
    policyFile = path.join(dir, 'policy.yaml');
    writePolicy(policyFile, POLICY);
    collector = await startCollectorProcess({
      dataDir: dir,
      env: { TOKENLEDGER_POLICY_FILE: policyFile, TOKENLEDGER_POLICY_POLL_MS: '200' },
    });
    ingestKey = await collectorKey(collector, 'ingest');
    proxy = await startCollectorProxy(collector.url);
  });
  after(async () => {
    await proxy?.close();
    await collector?.stop();
    await Promise.all([openai, anthropic, gemini, mistral, bedrock].map((f) => f?.close()));
  });
  beforeEach(async () => {
    proxy.hang = false;
    // Later than the app's first calls: they must wait for the answer, not go ahead without it.
    proxy.delayMs = 400;
    for (const p of Object.values(providers)) p.requests().length = 0;
    await setPolicy(POLICY, (b) => !b.kill_switch);
  });

  for (const provider of Object.keys(providers) as Provider[]) {
    it(`${provider}: the first calls wait for the policy and reach the provider governed, the app gets the SDK's own values`, async () => {
      const lines = await run(provider);
      assert.ok(lines.length >= 2, JSON.stringify(lines));
      for (const l of lines) {
        assert.equal(l.ok, true, JSON.stringify(l));
        for (const [k, v] of Object.entries(l.value!)) {
          if (['apiPromise', 'promise', 'stream'].includes(k)) assert.equal(v, true, `${l.shape}: ${k}`);
        }
        if (l.value!.chunks !== undefined) assert.ok(Number(l.value!.chunks) > 0, `${l.shape}: no chunks`);
      }
      // Every request reached the provider with the policy's cap: governed from the first one.
      const sent = providers[provider].requests();
      assert.equal(sent.length, lines.length, JSON.stringify(sent.map((r) => r.body)));
      for (const r of sent)
        assert.equal(providers[provider].maxTokens(r.body ?? {}), CLAMP, JSON.stringify(r.body));
    });
  }

  it('kill switch: no first call of any provider leaves; each SDK rejects the way it rejects its own errors', async () => {
    await setPolicy(`version: 1\nkill_switch: true\npolicies: []\n`, (b) => b.kill_switch);
    for (const provider of Object.keys(providers) as Provider[]) {
      const lines = await run(provider);
      for (const l of lines) {
        assert.equal(l.ok, false, JSON.stringify(l));
        assert.equal(l.error!.policyName, 'KillSwitchError', JSON.stringify(l));
        assert.ok(l.error!.killSwitch, 'instanceof KillSwitchError');
        assert.match(l.error!.message, /global kill switch is on/);
      }
      // The Stainless SDKs still returned their own APIPromise (the block came after the wait).
      for (const l of lines.filter(
        (x) => /\.(create|withResponse)$/.test(x.shape!) && provider !== 'bedrock',
      ))
        if (provider === 'openai' || provider === 'anthropic')
          assert.equal(l.sync!.constructor, 'APIPromise');
      assert.equal(providers[provider].requests().length, 0, `${provider} received requests`);
    }
    // Five one-call scripts after the switch went on: none reaches the provider.
    const oneShots = await Promise.all(
      Array.from({ length: 5 }, () =>
        runApp([{ name: 'one', model: 'gpt-4o-mini' }], {
          env: {
            OPENAI_BASE_URL: openai.url,
            OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
            TOKENLEDGER_URL: proxy.url,
            TOKENLEDGER_API_KEY: ingestKey,
            TOKENLEDGER_GUARD_CACHE: 'off',
          },
        }),
      ),
    );
    for (const r of oneShots)
      assert.equal(r.calls[0]!.error?.name, 'KillSwitchError', JSON.stringify(r.lines));
    assert.equal(openai.requests.length, 0);
  });

  describe('before the first answer, the fail mode', () => {
    it('a collector that refuses connections: calls go at once (TOKENLEDGER_GUARD_FAIL=open, the default) or are refused (closed)', async () => {
      const refused = { TOKENLEDGER_URL: 'http://127.0.0.1:9' };
      const open = await run('openai', refused);
      assert.ok(
        open.every((l) => l.ok),
        JSON.stringify(open),
      );
      assert.equal(openai.requests.length, open.length);
      openai.requests.length = 0;
      const closed = await run('openai', { ...refused, TOKENLEDGER_GUARD_FAIL: 'closed' });
      for (const l of closed) {
        assert.equal(l.error?.policyName, 'CollectorUnreachableError', JSON.stringify(l));
        assert.match(l.error!.message, /no policy state within 950 ms and TOKENLEDGER_GUARD_FAIL=closed/);
      }
      assert.equal(openai.requests.length, 0);
    });

    it('a collector that hangs: the first calls wait at most TOKENLEDGER_GUARD_WAIT_MS, then the fail mode decides', async () => {
      const silent = await startSilentServer();
      try {
        const env = { TOKENLEDGER_URL: `http://127.0.0.1:${silent.port}` };
        const started = Date.now();
        const open = await run('anthropic', env);
        assert.ok(
          open.every((l) => l.ok),
          JSON.stringify(open),
        );
        assert.equal(anthropic.requests.length, open.length);
        // Bounded: a process whose first calls waited ~1 s, not the collector's silence.
        assert.ok(Date.now() - started < 30_000);
        const closed = await run('anthropic', { ...env, TOKENLEDGER_GUARD_FAIL: 'closed' });
        assert.ok(
          closed.every((l) => l.error?.policyName === 'CollectorUnreachableError'),
          JSON.stringify(closed),
        );
        assert.equal(anthropic.requests.length, open.length);
      } finally {
        await silent.close();
      }
    });

    it('the last state a process on this machine received (kept on disk, 0600) governs the next one when the collector does not answer', async () => {
      const cacheFile = path.join(tempDataDir('tl-guard-cache-'), 'guard.json');
      const env = { TOKENLEDGER_GUARD_CACHE: cacheFile };
      await setPolicy(`version: 1\nkill_switch: true\npolicies: []\n`, (b) => b.kill_switch);
      proxy.delayMs = 0;
      const first = await run('openai', env);
      assert.ok(first.every((l) => l.error?.policyName === 'KillSwitchError'));
      const { statSync } = await import('node:fs');
      await eventually(async () => (statSync(cacheFile, { throwIfNoEntry: false }) ? true : undefined));
      assert.equal(statSync(cacheFile).mode & 0o777, 0o600);
      // The collector stops answering: the next process is governed by what the last one learned.
      proxy.hang = true;
      const next = await run('openai', env);
      assert.ok(
        next.every((l) => l.error?.policyName === 'KillSwitchError'),
        JSON.stringify(next),
      );
      assert.equal(openai.requests.length, 0);
    });
  });
});

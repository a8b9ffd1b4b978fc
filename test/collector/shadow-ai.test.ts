/**
 * Uninstrumented ("shadow") AI traffic: real HTTP instrumentation spans (instrumentation-http,
 * instrumentation-undici) from child-process apps that call an AI API with no GenAI instrumentation
 * are recorded per service and host; HTTP spans a GenAI span covers are not; the inventory
 * endpoint and CLI list both.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { CLI, REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { runProducer } from '../fixtures/producers/support';
import type { Inventory } from '../../collector/src/inventory';

const KEY = 'tl_admin_shadow_ai_test_key_0001';

describe('uninstrumented AI traffic and the inventory', function () {
  this.timeout(90_000);
  let fake: FakeOpenAI;
  let collector: CollectorProcess;

  before(async () => {
    fake = await startFakeOpenAI();
    fake.setUsage({ input: 1000, output: 200, cached: 400 });
    collector = await startCollectorProcess({
      env: {
        TOKENLEDGER_API_KEYS: `admin:${KEY}`,
        // The fake server stands in for an internal OpenAI-compatible gateway at this address.
        TOKENLEDGER_AI_HOSTS: `127.0.0.1:${fake.port}=openai`,
      },
    });
    const env = {
      FAKE_OPENAI_URL: fake.url,
      FAKE_OPENAI_PORT: String(fake.port),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${KEY}`,
    };
    await runProducer('http-openai.cjs', env); // node:http to api.openai.com, instrumentation-http only
    await runProducer('vercel-ai.mjs', env); // ai 7 without its OTel integration: undici spans only
    await runProducer('openlit-openai.cjs', env); // GenAI spans whose undici children are covered
  });
  after(async () => {
    await collector?.stop();
    await fake?.close();
  });

  async function getInventory(): Promise<Inventory> {
    const res = await fetch(`${collector.url}/v1/inventory?period=last_7d`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Inventory;
  }

  it('lists the AI hosts each service calls without GenAI instrumentation, and only those', async () => {
    const inv = await getInventory();
    assert.deepEqual(
      inv.uninstrumented.map((u) => [u.service, u.host, u.provider, u.requests]),
      [
        ['http-app', 'api.openai.com', 'openai', 1],
        ['vercel-ai-app', '127.0.0.1', 'openai', 1],
      ],
    );
    assert.equal(fake.requests.length, 4, 'http-app 1, vercel-ai-app 1, openlit-app 2');
  });

  it('lists models, providers, services and the instrumentation that reported them', async () => {
    const inv = await getInventory();
    assert.deepEqual(
      inv.services.map((s) => [s.service, s.calls, s.providers, s.sources]),
      [['openlit-app', 2, ['openai'], ['@openlit/instrumentation-vllm']]],
    );
    assert.deepEqual(
      inv.models.map((m) => [m.provider, m.model, m.calls]),
      [['openai', 'gpt-4o-mini-2024-08-06', 2]],
    );
    assert.deepEqual(
      inv.providers.map((p) => p.provider),
      ['openai'],
    );
    // 2 × (600 × $0.15 + 400 × $0.075 + 200 × $0.60) per million tokens
    assert.equal(inv.providers[0]!.spend_usd, '0.00048');
  });

  it('tokenledger inventory prints the same as a table and as JSON', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, TOKENLEDGER_URL: collector.url, TOKENLEDGER_API_KEY: KEY };
    const json = await run(process.execPath, [CLI, 'inventory', '--period', 'last_7d', '--json'], {
      cwd: REPO_ROOT,
      env,
    });
    assert.deepEqual(JSON.parse(json.stdout), await getInventory());
    const table = await run(process.execPath, [CLI, 'inventory', '--period', 'last_7d'], {
      cwd: REPO_ROOT,
      env,
    });
    assert.match(table.stdout, /Uninstrumented AI traffic/);
    assert.match(table.stdout, /http-app\s*│\s*api\.openai\.com\s*│\s*openai\s*│\s*1/);
  });
});

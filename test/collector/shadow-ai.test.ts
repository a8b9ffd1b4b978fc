/**
 * Uninstrumented ("shadow") AI traffic: real HTTP instrumentation spans (instrumentation-http,
 * instrumentation-undici) from child-process apps that call an AI API with no GenAI instrumentation
 * are recorded per service and host; HTTP spans a GenAI span covers are not, also when the two
 * arrive in different export requests (either order); the inventory endpoint and CLI list both.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { CLI, REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { runProducer } from '../fixtures/producers/support';
import type { Inventory } from '../../collector/src/read/inventory';

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
    // Every span exported on its own: each undici child arrives before the GenAI span that covers it.
    await runProducer('openlit-openai.cjs', {
      ...env,
      OPENLIT_DISABLE_BATCH: 'true',
      OPENLIT_APP_NAME: 'openlit-unbatched-app',
    });
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
    assert.equal(
      fake.requests.length,
      6,
      'http-app 1, vercel-ai-app 1, openlit-app 2, openlit-unbatched-app 2',
    );
  });

  it('lists models, providers, services and the instrumentation that reported them', async () => {
    const inv = await getInventory();
    assert.deepEqual(
      inv.services.map((s) => [s.service, s.calls, s.providers, s.sources]),
      [
        ['openlit-app', 2, ['openai'], ['@openlit/instrumentation-vllm']],
        ['openlit-unbatched-app', 2, ['openai'], ['@openlit/instrumentation-vllm']],
      ],
    );
    assert.deepEqual(
      // The catalog id it was priced as (as every report and panel names it), beside what the app sent.
      inv.models.map((m) => [m.provider, m.model, m.sent_model, m.calls]),
      [['openai', 'gpt-4o-mini', 'gpt-4o-mini', 4]],
    );
    assert.deepEqual(
      inv.providers.map((p) => p.provider),
      ['openai'],
    );
    // 4 × (600 × $0.15 + 400 × $0.075 + 200 × $0.60) per million tokens
    assert.equal(inv.providers[0]!.spend_usd, '0.00096');
  });

  /** One span as OTLP JSON (hex ids, nanosecond strings), in its own export request. */
  async function postSpan(span: {
    service: string;
    scope: string;
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    name: string;
    kind: number;
    attributes: Record<string, string | number>;
  }): Promise<void> {
    const start = BigInt(Date.now() - 60_000) * 1_000_000n;
    const attributes = Object.entries(span.attributes).map(([key, v]) => ({
      key,
      value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v },
    }));
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: span.service } }] },
          scopeSpans: [
            {
              scope: { name: span.scope },
              spans: [
                {
                  traceId: span.traceId,
                  spanId: span.spanId,
                  parentSpanId: span.parentSpanId ?? '',
                  name: span.name,
                  kind: span.kind,
                  startTimeUnixNano: String(start),
                  endTimeUnixNano: String(start + 900_000_000n),
                  attributes,
                  status: {},
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }

  const CLIENT = 3;
  const httpSpan = (service: string, traceId: string, parentSpanId: string) => ({
    service,
    scope: '@opentelemetry/instrumentation-undici',
    traceId,
    spanId: 'b'.repeat(16),
    parentSpanId,
    name: 'POST',
    kind: CLIENT,
    attributes: {
      'http.request.method': 'POST',
      'url.full': 'https://api.openai.com/v1/chat/completions',
      'server.address': 'api.openai.com',
      'http.response.status_code': 200,
    },
  });
  const genAiSpan = (service: string, traceId: string) => ({
    service,
    scope: 'openlit.otel.tracing',
    traceId,
    spanId: 'a'.repeat(16),
    name: 'chat gpt-4o-mini',
    kind: CLIENT,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
    },
  });
  const uninstrumentedOf = async (service: string) =>
    (await getInventory()).uninstrumented.filter((u) => u.service === service).map((u) => u.requests);

  it('an HTTP request recorded first is withdrawn when the GenAI span covering it arrives later', async () => {
    const traceId = '1'.repeat(32);
    await postSpan(httpSpan('split-http-first', traceId, 'a'.repeat(16)));
    assert.deepEqual(await uninstrumentedOf('split-http-first'), [1], 'alone, it looks uninstrumented');
    await postSpan(genAiSpan('split-http-first', traceId));
    assert.deepEqual(await uninstrumentedOf('split-http-first'), []);
  });

  it('an HTTP request arriving after the GenAI span covering it is never recorded', async () => {
    const traceId = '2'.repeat(32);
    await postSpan(genAiSpan('split-genai-first', traceId));
    await postSpan(httpSpan('split-genai-first', traceId, 'a'.repeat(16)));
    // The same HTTP span in another trace has no GenAI span: it is uninstrumented traffic.
    await postSpan(httpSpan('split-genai-first', '3'.repeat(32), 'c'.repeat(16)));
    assert.deepEqual(await uninstrumentedOf('split-genai-first'), [1]);
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

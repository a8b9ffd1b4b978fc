/**
 * Attribution across services: the front service tags a request with its team (withAttribution, which
 * also sets W3C baggage), the standard HTTP instrumentation carries the baggage over HTTP, and the back service's LLM call is attributed to it. Both
 * run with `node --require tokenledger/register` plus the standard instrumentation-http.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai';
import { startOtlpSink, type OtlpSink } from '../support/otlp-sink';
import { pricedCallsFrom } from '../support/price-sink';

const SERVICES = path.resolve(__dirname, '..', 'fixtures', 'services');

interface Service {
  url: string;
  exited: Promise<number | null>;
  child: ChildProcess;
}

async function startService(app: string, env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--require', 'tokenledger/register', app], {
    cwd: SERVICES,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`${app} exited with ${code}:\n${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, exited, child };
}

describe('attribution across two services (W3C baggage)', function () {
  this.timeout(60_000);
  let fake: FakeOpenAI;
  let sink: OtlpSink;
  const started: Service[] = [];

  before(async () => {
    fake = await startFakeOpenAI();
    fake.setUsage({ input: 1000, output: 200, cached: 0 });
    sink = await startOtlpSink();
  });
  after(async () => {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await sink.close();
    await fake.close();
  });

  it("the back service's LLM call is attributed to the front service's team and feature", async () => {
    const common = {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      TOKENLEDGER_API_KEY: 'tl_ingest_two_services_0001',
    };
    const back = await startService('back.cjs', {
      ...common,
      OTEL_SERVICE_NAME: 'summarizer',
      FAKE_OPENAI_URL: fake.url,
    });
    started.push(back);
    const front = await startService('front.cjs', {
      ...common,
      OTEL_SERVICE_NAME: 'web',
      BACK_URL: back.url,
    });
    started.push(front);

    const res = await fetch(`${front.url}/ask`);
    assert.equal(await res.text(), 'Hello from the fake OpenAI.');
    await fetch(`${back.url}/quit`);
    await fetch(`${front.url}/quit`);
    assert.equal(await back.exited, 0);
    assert.equal(await front.exited, 0);

    const calls = pricedCallsFrom(sink);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call!.attribution.service, 'summarizer');
    assert.equal(call!.attribution.team, 'search');
    assert.equal(call!.attribution.feature, 'answers');
    // Customer ids stay in the front service: baggage also goes to third parties.
    assert.equal(call!.attribution.customer, '');
    // 1000 × $0.15 + 200 × $0.60 per million tokens
    assert.equal(call!.costUsd, '0.00027');
  });
});

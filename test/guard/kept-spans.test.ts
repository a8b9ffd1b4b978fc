/**
 * Spans that carry leased money are not dropped (decision 0104): an app started with
 * `--require tokenledger/register` makes budgeted calls while the collector, for its spans, first
 * closes every connection, then accepts them and never answers, then recovers. Its exporter keeps
 * what it could not send and sends it again until the collector takes it: every call the provider
 * saw is stored, once. The guard talks to the collector directly (its budget stays governed); only
 * the spans go through the failing address.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { collectorKey } from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';
import { eventually, getJson, runApp, useProxiedCollector } from './helpers';

const POLICY = `
version: 1
policies:
  - name: kept
    match: { feature: kept }
    budget: { usd: 10, period: monthly }
    on_exceeded: block
`;

/** The calls the collector reports for `feature` this month, once at least `provided` (the provider's count) are there. */
async function storedCalls(
  url: string,
  adminKey: string,
  feature: string,
  provided: number,
): Promise<number> {
  let last = '';
  return eventually(async () => {
    const r = await getJson<{ breakdown: Array<{ calls: number }> }>(
      `${url}/v1/reports/spend?period=current_month&feature=${feature}`,
      adminKey,
    );
    last = JSON.stringify(r);
    const n = r.breakdown.reduce((t, b) => t + Number(b.calls), 0);
    return n >= provided ? n : undefined;
  }, 20_000).catch((err: Error) => {
    throw new Error(`${err.message}: the provider saw ${provided} calls, the collector reports ${last}`);
  });
}

describe('spans the collector could not take are kept and sent again until it takes them', function () {
  this.timeout(120_000);
  const rig = useProxiedCollector('tl-kept-spans-', POLICY);

  it('a collector that drops connections, then hangs, then recovers: every call stored once', async () => {
    const { collector, proxy, openai, ingestKey } = rig;
    const adminKey = await collectorKey(collector, 'admin');
    const attribution = { team: 'search', feature: 'kept' };
    const step = (name: string, waitMs: number) => ({
      name,
      model: 'gpt-4o-mini',
      max_tokens: 20,
      attribution,
      count: 4,
      waitMs,
    });
    // The phases follow the app: dropping until its second step starts, then hanging until its third.
    const traces = (): number => proxy.seen.filter((r) => r.path === '/v1/traces').length;
    const triedIn = { dropped: 0, hung: 0 };
    proxy.drop = true;
    const onLine = (line: Record<string, unknown>): void => {
      if (line.step === 'hung' && proxy.drop) {
        triedIn.dropped = traces();
        Object.assign(proxy, { drop: false, hang: true });
      } else if (line.step === 'recovered' && proxy.hang) {
        triedIn.hung = traces() - triedIn.dropped;
        proxy.hang = false;
      }
    };
    // Kept batches are retried after 1, 2, 4, 8 s (±20 %): the hang lasts long enough for one to
    // meet it, the last step comes after the retry that meets the recovered collector.
    const plan = [step('dropped', 0), step('hung', 2_500), step('recovered', 8_000), step('late', 10_000)];
    const run = await runApp(plan, {
      onLine,
      env: {
        OPENAI_BASE_URL: openai.url,
        TOKENLEDGER_URL: collector.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: proxy.url,
        TOKENLEDGER_API_KEY: ingestKey,
        TOKENLEDGER_GUARD_CACHE: 'off',
        GUARD_WAIT: 'ready',
        // Each export gives up after 1 s (its in-export retries included): the batch is then kept.
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      },
    });
    assert.equal(run.calls.length, 16, JSON.stringify(run.lines));
    assert.ok(
      run.calls.every((c) => c.ok),
      JSON.stringify(run.calls.filter((c) => !c.ok)),
    );
    assert.equal(openai.requests.length, 16);
    assert.ok(triedIn.dropped >= 1 && triedIn.hung >= 1, `exports tried: ${JSON.stringify(triedIn)}`);

    assert.equal(await storedCalls(collector.url, adminKey, 'kept', 16), 16, 'each call stored once');
  });

  it('a process that exits before the collector takes its spans leaves them to the next one (decision 0120)', async () => {
    const { collector, proxy, openai, ingestKey } = rig;
    const adminKey = await collectorKey(collector, 'admin');
    const spoolRoot = tempDir('tl-spool-');
    const step = (name: string, count: number) => ({
      name,
      model: 'gpt-4o-mini',
      max_tokens: 20,
      attribution: { team: 'search', feature: 'spooled' },
      count,
      waitMs: 0,
    });
    const env = {
      OPENAI_BASE_URL: openai.url,
      TOKENLEDGER_URL: collector.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: proxy.url,
      TOKENLEDGER_API_KEY: ingestKey,
      TOKENLEDGER_GUARD_CACHE: 'off',
      TOKENLEDGER_EXPORT_SPOOL: spoolRoot,
      GUARD_WAIT: 'ready',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    };
    const spooled = (): string[] =>
      readdirSync(spoolRoot, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name));
    const before = openai.requests.length;

    // The collector drops every connection for the whole run: the process ends with its spans untaken.
    proxy.drop = true;
    const first = await runApp([step('cut off', 5)], { env });
    proxy.drop = false;
    assert.equal(first.calls.filter((c) => c.ok).length, 5, JSON.stringify(first.lines));
    assert.ok(first.wallMs < 15_000, `the first run took ${first.wallMs} ms`);
    const files = spooled();
    assert.ok(files.length >= 1, 'the untaken batch is on disk');
    for (const file of files) {
      assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is readable by this user only`);
      assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    }

    // The next process to the same collector and key sends them, beside its own call.
    const second = await runApp([step('next', 1)], { env });
    assert.equal(second.calls.filter((c) => c.ok).length, 1, JSON.stringify(second.lines));
    assert.equal(openai.requests.length - before, 6);
    assert.equal(await storedCalls(collector.url, adminKey, 'spooled', 6), 6, 'each call stored once');
    assert.deepEqual(spooled(), [], 'the spool is empty once sent');
  });
});

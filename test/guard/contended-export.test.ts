/**
 * Held money frees up as soon as the calls holding it are stored (decision 0088): while the
 * collector says calls wait for a budget (`contended`), a process sends the span of a call it paid
 * from its slice at once, not at the batch's schedule; otherwise it keeps the schedule (no extra
 * export traffic). The app is started with `--require tokenledger/register` against a real collector
 * behind a proxy that notes when spans arrive and, for the contended case, marks the collector's
 * lease answers `contended` (what it says while another process's call waits for money).
 */
import assert from 'node:assert/strict';
import { runApp, useProxiedCollector, type AppRun } from './helpers';

const POLICY = `
version: 1
policies:
  - name: shared
    match: { feature: shared }
    budget: { usd: 10, period: monthly }
    on_exceeded: block
`;
/** Long enough that only an export on purpose sends the first call's span while the app waits. */
const SCHEDULE_MS = 120_000;
const PAUSE_MS = 5_000;

describe('a call paid from a contended budget is exported at once, others on the batch schedule', function () {
  this.timeout(120_000);
  const rig = useProxiedCollector('tl-contended-export-', POLICY);

  /** One budgeted call, a pause, a second call; returns the run and when span exports arrived. */
  async function callPauseCall(): Promise<{ run: AppRun; exports: number[]; secondStarted: number }> {
    const { proxy, openai, ingestKey } = rig;
    proxy.seen.length = 0;
    const attribution = { team: 'search', feature: 'shared' };
    const run = await runApp(
      [
        { name: 'first', model: 'gpt-4o-mini', max_tokens: 50, attribution },
        { name: 'second', model: 'gpt-4o-mini', max_tokens: 50, attribution, waitMs: PAUSE_MS },
      ],
      {
        env: {
          OPENAI_BASE_URL: openai.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: proxy.url,
          TOKENLEDGER_API_KEY: ingestKey,
          TOKENLEDGER_GUARD_CACHE: 'off',
          // The first call starts once the slice is held (a loaded collector may answer after the first call's wait).
          GUARD_WAIT: 'ready',
          OTEL_BSP_SCHEDULE_DELAY: String(SCHEDULE_MS),
        },
      },
    );
    assert.equal(run.code, 0, run.stderr);
    // The first call is paid from the slice; the second only marks the end of the pause (on a loaded
    // machine it may be told to retry: the contended process gave its slice back meanwhile).
    assert.equal(run.calls.length, 2, JSON.stringify(run.lines));
    assert.equal(run.calls[0]!.ok, true, JSON.stringify(run.calls[0]));
    const second = run.calls[1]!;
    const exports = proxy.seen.filter((r) => r.method === 'POST' && r.path === '/v1/traces').map((r) => r.at);
    return { run, exports, secondStarted: second.at - second.ms };
  }

  it('contended: the first call’s span reaches the collector while the app still pauses', async () => {
    rig.proxy.alterJson = (p, body) => (p === '/v1/budgets/leases' ? { ...body, contended: true } : body);
    const { exports, secondStarted } = await callPauseCall();
    assert.ok(
      exports.some((at) => at < secondStarted),
      `no span export before the second call (exports at ${exports.join(', ')}, second call at ${secondStarted})`,
    );
  });

  it('not contended: no export until the app exits (the batch schedule, nothing extra)', async () => {
    rig.proxy.alterJson = undefined;
    const { exports, secondStarted } = await callPauseCall();
    assert.ok(exports.length > 0, 'the exit flush sends the spans');
    assert.ok(
      exports.every((at) => at > secondStarted),
      `an export before the second call (exports at ${exports.join(', ')}, second call at ${secondStarted})`,
    );
  });
});

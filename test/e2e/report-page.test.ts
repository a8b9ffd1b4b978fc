/**
 * The built-in report page as a person uses it: a real collector process (embedded ClickHouse) fed
 * known calls over OTLP, the page opened in a real Chromium (Debian's in CI) with a viewer key in the URL
 * fragment, the catalog's panels drawn with Chart.js from the panel API, and the seeded dollars
 * shown exactly. Also the panel API's contract: keys, scopes, parameters as values, never SQL.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DASHBOARDS } from '@tokenledger/dashboards';
import { chromiumPath } from '../support/chromium-path';
import { REPO_ROOT, startCollectorProcess, type CollectorProcess } from '../support/collector-process';
import { jsonBody, recordSpans, type SpanSpec } from '../collector/otlp-helpers';

const KEYS = {
  admin: 'admin-key-report-page-0001',
  ingest: 'ingest-key-report-page-001',
  viewer: 'viewer-key-report-page-001',
};
const SCREENSHOT = path.join(REPO_ROOT, 'test-output', 'report-page.png');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Known calls, a second ago (inside "this month" unless the month turned within that second):
 * search: 3 × gpt-4o 1000 in / 500 out = 3 × $0.0075 = $0.0225 (list $2.50 / $10 per M);
 * platform: 2 × gpt-4o-mini 2000 in / 1000 out = 2 × $0.0009 = $0.0018 (list $0.15 / $0.60 per M);
 * nobody: 1 × gpt-4o-mini 1000 in / 0 out = $0.00015. Total $0.02445.
 */
function seededCalls(at: Date): Array<{ team: string; spec: SpanSpec }> {
  const call = (team: string, model: string, input: number, output: number) => ({
    team,
    spec: {
      name: `chat ${model}`,
      startTime: at,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': model,
        'gen_ai.response.model': model,
        'gen_ai.usage.input_tokens': input,
        'gen_ai.usage.output_tokens': output,
        ...(team ? { 'tokenledger.team': team, 'tokenledger.feature': `${team}-assistant` } : {}),
      },
    },
  });
  return [
    call('search', 'gpt-4o', 1000, 500),
    call('search', 'gpt-4o', 1000, 500),
    call('search', 'gpt-4o', 1000, 500),
    call('platform', 'gpt-4o-mini', 2000, 1000),
    call('platform', 'gpt-4o-mini', 2000, 1000),
    call('', 'gpt-4o-mini', 1000, 0),
  ];
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('report page (Chromium)', function () {
  this.timeout(180_000);
  let collector: CollectorProcess;
  let browser: Browser;

  before(async () => {
    collector = await startCollectorProcess({
      env: { TOKENLEDGER_API_KEYS: `admin:${KEYS.admin},ingest:${KEYS.ingest},viewer:${KEYS.viewer}` },
    });
    const at = new Date(Date.now() - 1000);
    for (const { spec } of seededCalls(at)) {
      const res = await fetch(`${collector.url}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
        body: jsonBody(recordSpans({ 'service.name': 'report-page-test' }, [spec])),
      });
      assert.equal(res.status, 200, await res.text());
    }
    // Stored once the writer committed: the admin report sees all six calls.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(`${collector.url}/v1/reports/spend?period=last_7d`, {
        headers: auth(KEYS.admin),
      });
      const body = (await r.json()) as { total_usd: string };
      if (body.total_usd === '0.02445') break;
      if (Date.now() > deadline) assert.fail(`seeded calls not stored: total ${body.total_usd}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await collector?.stop();
  });

  /** A page that records every console error, page error and failed request. */
  async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(url);
    return { page, problems };
  }

  // Page-side code is given as selectors or strings (the tests compile without the DOM's types;
  // the page's CSP forbids eval, so no string predicates for waitForFunction).
  const settled = (page: Page) =>
    page.waitForSelector('body[data-state="ready"], body[data-state="error"], body[data-state="needs-key"]', {
      state: 'attached',
      timeout: 30_000,
    });

  const bodyState = (page: Page) => page.getAttribute('body', 'data-state');

  interface ChartSummary {
    labels: string[];
    datasets: Array<{ label: string; exact: string[] }>;
  }

  /** What every Chart.js chart on the page was given: labels and the exact strings per dataset, by panel id. */
  const chartData = (page: Page) =>
    page.evaluate<Record<string, ChartSummary>>(`(() => {
      const out = {};
      for (const canvas of document.querySelectorAll('article.panel canvas')) {
        const chart = Chart.getChart(canvas);
        out[canvas.closest('article').id.replace(/^panel-/, '')] = {
          labels: chart.data.labels,
          datasets: chart.data.datasets.map((d) => ({ label: d.label, exact: d.exact })),
        };
      }
      return out;
    })()`);

  it("draws the CFO board from the panel API: this month's exact total, teams and models", async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await settled(page);
    assert.equal(await bodyState(page), 'ready');
    // The key left the address bar (and history) once read.
    assert.ok(!page.url().includes('#key='), page.url());

    const cfo = DASHBOARDS.find((d) => d.uid === 'tokenledger-cfo')!;
    const panelIds = await page.$$eval('article.panel', (els) => els.map((e) => e.id.replace(/^panel-/, '')));
    assert.deepEqual(
      panelIds,
      cfo.panels.map((p) => p.id),
    );
    const states = await page.$$eval('article.panel', (els) => els.map((e) => `${e.id}:${e.dataset.state}`));
    assert.ok(
      states.every((s) => s.endsWith(':ready')),
      states.join(', '),
    );

    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.02445');

    const charts = await chartData(page);
    const byTeam = charts['cfo-spend-by-team']!;
    const spend = byTeam.datasets.find((d) => d.label === 'spend_usd')!;
    assert.deepEqual(Object.fromEntries(byTeam.labels.map((label, i) => [label, spend.exact[i]])), {
      search: '0.0225',
      platform: '0.0018',
      '(unattributed)': '0.00015',
    });
    assert.ok(charts['cfo-monthly-trend'], 'month-over-month chart drawn');

    const models = await page.$$eval('#panel-cfo-models-in-use tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    );
    assert.deepEqual(models, [
      ['openai', 'gpt-4o', '3', '$0.0225'],
      ['openai', 'gpt-4o-mini', '3', '$0.00195'],
    ]);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('narrows the team board to one team through its variable select', async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await settled(page);
    await page.click('#tabs button[data-uid="tokenledger-team"]');
    await page.waitForSelector('#var-team option[value="search"]', { state: 'attached' });
    await page.waitForSelector('#panel-team-usage[data-state="ready"]');
    const allSpend = await page.textContent('#panel-team-usage .value[data-column="spend_usd"]');
    assert.equal(allSpend, '$0.02445');
    await page.selectOption('#var-team', 'search');
    await page.waitForSelector('#panel-team-usage .value[data-column="spend_usd"]:text-is("$0.0225")');
    assert.equal(await page.textContent('#panel-team-usage .value[data-column="calls"]'), '3');
    // Panels re-render independently after the select: wait for this one's chart to be redrawn.
    await page.waitForSelector('#panel-team-spend-by-feature[data-state="ready"] canvas');
    let features = (await chartData(page))['team-spend-by-feature'];
    for (let i = 0; i < 50 && features?.labels?.length !== 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      features = (await chartData(page))['team-spend-by-feature'];
    }
    assert.deepEqual(features?.labels, ['search-assistant']);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('asks for a key when there is none, and again when the key is refused', async () => {
    const { page } = await openPage(`${collector.url}/`);
    await settled(page);
    assert.equal(await bodyState(page), 'needs-key');
    assert.equal(await page.isVisible('#key-form'), true);
    assert.equal(await page.$$eval('article.panel', (els) => els.length), 0);

    await page.fill('#key-input', 'not-a-valid-key-at-all');
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#key-error:not(:empty)');
    assert.match((await page.textContent('#key-error')) ?? '', /unknown key/);

    await page.fill('#key-input', KEYS.viewer);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#panel-cfo-total-spend[data-state="ready"]');
    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.02445');
    await page.close();
  });
});

describe('panel API', function () {
  this.timeout(120_000);
  let collector: CollectorProcess;
  const get = (pathAndQuery: string, key?: string) =>
    fetch(`${collector.url}${pathAndQuery}`, { headers: key ? auth(key) : {} });

  before(async () => {
    collector = await startCollectorProcess({
      env: { TOKENLEDGER_API_KEYS: `admin:${KEYS.admin},ingest:${KEYS.ingest},viewer:${KEYS.viewer}` },
    });
    const at = new Date(Date.now() - 1000);
    const res = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { ...auth(KEYS.ingest), 'content-type': 'application/json' },
      body: jsonBody(
        recordSpans(
          { 'service.name': 'panel-api-test' },
          seededCalls(at).map((c) => c.spec),
        ),
      ),
    });
    assert.equal(res.status, 200);
  });
  after(async () => {
    await collector?.stop();
  });

  it('serves the page and Chart.js without a key, with a strict content security policy', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const chart = await get('/vendor/chart.umd.js');
    assert.equal(chart.status, 200);
    assert.match(await chart.text(), /Chart\.js v4\./);
  });

  it('needs a key with read scope for the catalog and the data', async () => {
    assert.equal((await get('/v1/panels')).status, 401);
    assert.equal((await get('/v1/panels/tokenledger-cfo/cfo-total-spend')).status, 401);
    assert.equal((await get('/v1/panels', KEYS.ingest)).status, 403);
    const catalog = (await (await get('/v1/panels', KEYS.viewer)).json()) as {
      dashboards: Array<{ uid: string; panels: Array<Record<string, unknown>> }>;
    };
    assert.deepEqual(
      catalog.dashboards.map((d) => d.uid),
      DASHBOARDS.map((d) => d.uid),
    );
    // The catalog describes panels; it does not hand out SQL.
    assert.ok(catalog.dashboards.every((d) => d.panels.every((p) => !('sql' in p))));
  });

  it('answers columns with types and rows, money as exact decimal strings', async () => {
    await waitForTotal();
    const res = await get('/v1/panels/tokenledger-cfo/cfo-spend-by-team?period=current_month', KEYS.viewer);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { columns: Array<{ name: string; type: string }>; rows: unknown[][] };
    assert.deepEqual(
      body.columns.map((c) => c.name),
      ['team', 'spend_usd', 'calls'],
    );
    assert.match(body.columns[1]!.type, /Decimal/);
    assert.deepEqual(body.rows, [
      ['search', '0.0225', '3'],
      ['platform', '0.0018', '2'],
      ['(unattributed)', '0.00015', '1'],
    ]);
  });

  it('takes an explicit from/to range, ending no later than now', async () => {
    await waitForTotal();
    const byTeam = async (query: string) => {
      const res = await get(`/v1/panels/tokenledger-cfo/cfo-spend-by-team?${query}`, KEYS.viewer);
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as { from: string; to: string; rows: unknown[][] };
    };
    const hourAgo = new Date(Date.now() - 3_600_000);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const around = await byTeam(`from=${hourAgo.toISOString()}&to=${tomorrow.toISOString()}`);
    assert.equal(around.from, hourAgo.toISOString());
    assert.ok(Date.parse(around.to) <= Date.now(), `to ${around.to} is in the future`);
    assert.equal(around.rows.length, 3);
    const before = await byTeam(
      `from=${new Date(hourAgo.getTime() - 86_400_000).toISOString()}&to=${hourAgo.toISOString()}`,
    );
    assert.deepEqual(before.rows, []);
  });

  it('takes variable values as parameters: a quote in a value matches nothing instead of changing the SQL', async () => {
    await waitForTotal();
    const usage = async (query: string) => {
      const res = await get(
        `/v1/panels/tokenledger-team/team-usage?period=current_month&${query}`,
        KEYS.viewer,
      );
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { columns: Array<{ name: string }>; rows: unknown[][] };
      return body.rows[0]![body.columns.findIndex((c) => c.name === 'spend_usd')];
    };
    assert.equal(await usage('team=search'), '0.0225');
    assert.equal(await usage('team=search&team=platform'), '0.0243');
    assert.equal(await usage(`team=${encodeURIComponent("x') OR 1=1 OR team IN ('")}`), '0');
  });

  it('refuses unknown dashboards, panels and parameters, and bad ranges, with a reason', async () => {
    const error = async (pathAndQuery: string, status: number, pattern: RegExp) => {
      const res = await get(pathAndQuery, KEYS.viewer);
      assert.equal(res.status, status, pathAndQuery);
      assert.match(((await res.json()) as { error: string }).error, pattern);
    };
    await error('/v1/panels/nope/x', 404, /unknown dashboard "nope"/);
    await error('/v1/panels/tokenledger-cfo/nope', 404, /no panel "nope"/);
    await error('/v1/panels/tokenledger-cfo/cfo-total-spend?team=search', 400, /unknown parameter "team"/);
    await error(
      '/v1/panels/tokenledger-team/team-usage?database=system',
      400,
      /unknown parameter "database"/,
    );
    await error('/v1/panels/tokenledger-cfo/cfo-total-spend?period=someday', 400, /unknown period/);
    await error('/v1/panels/tokenledger-team/variables/nope', 404, /no variable "nope"/);
  });

  it("lists a variable's values for the range", async () => {
    await waitForTotal();
    const res = await get('/v1/panels/tokenledger-team/variables/team?period=current_month', KEYS.viewer);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { values: string[] }).values, ['platform', 'search']);
  });

  async function waitForTotal(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await get('/v1/panels/tokenledger-cfo/cfo-total-spend', KEYS.viewer);
      const body = (await res.json()) as { rows: string[][] };
      if (body.rows[0]?.[0] === '0.02445') return;
      if (Date.now() > deadline) assert.fail(`seeded calls not stored: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
});

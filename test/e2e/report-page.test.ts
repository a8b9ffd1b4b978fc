/**
 * The built-in report page as a person uses it: a real collector process (embedded ClickHouse) fed
 * known calls over OTLP, the page opened in a real Chromium (Debian's in CI) with a viewer key in the URL
 * fragment, the catalog's panels drawn with Chart.js from the panel API, and the seeded dollars
 * shown exactly. Also the panel API's contract: keys, scopes, parameters as values, never SQL.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DASHBOARDS } from '@tokenledger/dashboards';
import { chromiumPath } from '../support/chromium-path';
import {
  REPO_ROOT,
  startCollectorProcess,
  tempDataDir,
  type CollectorProcess,
} from '../support/collector-process';
import { jsonBody, recordSpans, type SpanSpec } from '../collector/otlp-helpers';

const KEYS = {
  admin: 'admin-key-report-page-0001',
  ingest: 'ingest-key-report-page-001',
  viewer: 'viewer-key-report-page-001',
  /** An ingest key scoped to team search (TOKENLEDGER_API_KEYS' `ingest/<name>[scope]:<key>`). */
  searchApp: 'ingest-key-report-page-srch',
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

/** When the scoped key's calls were made: mid-month, three months ago; and that month as a period. */
const SCOPED_AT = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 3, 15, 12));
const SCOPED_MONTH = SCOPED_AT.toISOString().slice(0, 7);
/** An unnamed key in TOKENLEDGER_API_KEYS is named by its role and fingerprint (its digest's first 8 hex). */
const INGEST_KEY_NAME = `ingest-${createHash('sha256').update(KEYS.ingest).digest('hex').slice(0, 8)}`;

const POLICY = `version: 1
policies:
  - name: search-monthly
    match: { team: search }
    budget: { usd: 0.05, period: monthly }
`;

/** The money format the page promises: cents from $1 up, three significant digits below. */
const MONEY = /^-?\$(0\.00|[1-9]\d{0,2}(,\d{3})*\.\d{2}|0\.(?=\d\d)0*[1-9]\d{0,2})$/;
/** What a SQL column name looks like. */
const COLUMN_NAME = /^[a-z0-9]+(_[a-z0-9]+)+$/;

/**
 * Every finance-facing promise of the page, checked in the page: labels that are words, money in
 * the format with its exact value in the tooltip, and nothing wider than its box unless the box
 * scrolls. Returns the problems found.
 */
const PAGE_AUDIT = `(() => {
  const problems = [];
  const money = ${MONEY};
  const columnName = ${COLUMN_NAME};
  const labels = [...document.querySelectorAll('th, .stat .label, .panel h2, #range-title, label')]
    .map((e) => e.childNodes[0]?.textContent?.trim() ?? '');
  for (const canvas of document.querySelectorAll('article.panel canvas'))
    for (const d of Chart.getChart(canvas).data.datasets) labels.push(d.label);
  for (const l of labels) if (columnName.test(l)) problems.push('label looks like a column: ' + l);
  for (const e of document.querySelectorAll('.money')) {
    if (!money.test(e.textContent)) problems.push('money not in format: ' + e.textContent);
    if (e.title !== '$' + e.dataset.exact + ' exactly') problems.push('no exact tooltip on ' + e.textContent);
  }
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode())
    for (const m of n.textContent.match(/-?\\$[\\d.,]+/g) ?? [])
      if (!money.test(m.replace(/[.,]$/, ''))) problems.push('money text not in format: ' + m);
  for (const e of document.querySelectorAll('body *')) {
    const style = getComputedStyle(e);
    if (style.display === 'inline' || style.display === 'contents' || e.closest('select')) continue;
    if (e.scrollWidth > e.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX))
      problems.push('wider than its box, no scrollbar: ' + e.tagName + '#' + e.id + '.' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth);
  }
  if (document.documentElement.scrollWidth > window.innerWidth)
    problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
  return problems;
})()`;

/** The English month name of a UTC month. */
const monthName = (d: Date): string => d.toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });

describe('report page (Chromium)', function () {
  this.timeout(180_000);
  let collector: CollectorProcess;
  let browser: Browser;
  let downloads: string;

  before(async () => {
    const dir = tempDataDir('tl-report-page-');
    const policyFile = path.join(dir, 'tokenledger.policy.yaml');
    writeFileSync(policyFile, POLICY);
    downloads = path.join(dir, 'downloads');
    collector = await startCollectorProcess({
      env: {
        TOKENLEDGER_API_KEYS: `admin:${KEYS.admin},ingest:${KEYS.ingest},viewer:${KEYS.viewer},ingest/search-app[team=search]:${KEYS.searchApp}`,
        TOKENLEDGER_POLICY_FILE: policyFile,
        TOKENLEDGER_BUDGET_REFRESH_MS: '1000',
      },
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
    // Stored once the writer committed: the admin report sees all six calls; and the budget
    // burn-down (recomputed every second here) has the search budget's spend.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await fetch(`${collector.url}/v1/reports/spend?period=last_7d`, {
        headers: auth(KEYS.admin),
      });
      const body = (await r.json()) as { total_usd: string };
      const b = await fetch(`${collector.url}/v1/panels/tokenledger-budgets/budgets-current`, {
        headers: auth(KEYS.viewer),
      });
      const budgets = (await b.json()) as { columns: Array<{ name: string }>; rows: unknown[][] };
      const spent = budgets.rows[0]?.[budgets.columns.findIndex((c) => c.name === 'spent_usd')];
      if (body.total_usd === '0.02445' && spent === '0.0225') break;
      if (Date.now() > deadline)
        assert.fail(`seeded calls not stored: total ${body.total_usd}, budget ${spent}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The scoped key's calls, three months ago (this month's and last month's figures stay as above):
    // one for its team, two claiming team billing — recorded under search, the claim kept.
    for (const team of ['search', 'billing', 'billing']) {
      const call = seededCalls(SCOPED_AT).find((c) => c.team === 'search')!.spec;
      const spec = {
        ...call,
        attributes: {
          ...call.attributes,
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': 'gpt-4o-mini',
          'gen_ai.usage.output_tokens': 0,
          'tokenledger.team': team,
        },
      };
      const res = await fetch(`${collector.url}/v1/traces`, {
        method: 'POST',
        headers: { ...auth(KEYS.searchApp), 'content-type': 'application/json' },
        body: jsonBody(recordSpans({ 'service.name': 'search-api' }, [spec])),
      });
      assert.equal(res.status, 200, await res.text());
    }
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await collector?.stop();
  });

  /** A page that records every console error, page error and failed request. */
  async function openPage(url: string, width = 1400): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 1000 }, acceptDownloads: true });
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

  /** Every panel of the shown dashboard drawn (none loading, none failed). */
  async function allReady(page: Page): Promise<void> {
    await settled(page);
    const states = await page.$$eval('article.panel', (els) => els.map((e) => `${e.id}:${e.dataset.state}`));
    assert.ok(states.length > 0 && states.every((s) => s.endsWith(':ready')), states.join(', '));
  }

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

  it("draws the CFO board from the panel API: this month's total, teams and models, money as finance shows it", async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await allReady(page);
    // The key left the address bar (and history) once read; the view took its place.
    assert.ok(!page.url().includes('#key='), page.url());
    assert.match(page.url(), /\?tab=tokenledger-cfo&period=current_month$/);

    const cfo = DASHBOARDS.find((d) => d.uid === 'tokenledger-cfo')!;
    const panelIds = await page.$$eval('article.panel', (els) => els.map((e) => e.id.replace(/^panel-/, '')));
    assert.deepEqual(
      panelIds,
      cfo.panels.map((p) => p.id),
    );

    // Three significant digits below $1, the exact amount in the tooltip.
    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.0245');
    assert.equal(await page.getAttribute('#panel-cfo-total-spend .value', 'title'), '$0.02445 exactly');

    const charts = await chartData(page);
    const byTeam = charts['cfo-spend-by-team']!;
    const spend = byTeam.datasets.find((d) => d.label === 'Spend')!;
    assert.deepEqual(Object.fromEntries(byTeam.labels.map((label, i) => [label, spend.exact[i]])), {
      search: '0.0225',
      platform: '0.0018',
      '(unattributed)': '0.00015',
    });
    assert.ok(charts['cfo-monthly-trend'], 'month-over-month chart drawn');

    const table = async (id: string) => ({
      head: await page.$$eval(`#panel-${id} thead th`, (ths) => ths.map((th) => th.textContent)),
      rows: await page.$$eval(`#panel-${id} tbody tr`, (rows) =>
        rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
      ),
    });
    assert.deepEqual(await table('cfo-models-in-use'), {
      head: ['Provider', 'Model (priced as)', 'Calls', 'Spend'],
      rows: [
        ['openai', 'gpt-4o', '3', '$0.0225'],
        ['openai', 'gpt-4o-mini', '3', '$0.00195'],
      ],
    });
    // The headline sets the budgeted spend against its budget, the rest apart, each labelled.
    const headline = await page.$$eval('#panel-cfo-projected-month-end .stat-item', (items) =>
      items.map((i) => [
        i.querySelector('.label')?.textContent,
        i.querySelector('.value')?.getAttribute('data-exact'),
      ]),
    );
    const figures = Object.fromEntries(headline) as Record<string, string>;
    assert.deepEqual(Object.keys(figures), [
      'Spent in the month',
      'Projected month-end (all spend)',
      'Projected within monthly budgets',
      'Monthly budgets',
      'Projected outside any budget',
    ]);
    assert.equal(figures['Spent in the month'], '0.02445');
    assert.equal(figures['Monthly budgets'], '0.05');
    assert.deepEqual(await page.evaluate<string[]>(PAGE_AUDIT), []);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  for (const width of [1400, 760]) {
    it(`every board at ${width}px: labels in words, money in the format, tables that scroll, nothing cut off`, async () => {
      const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`, width);
      await allReady(page);
      for (const d of DASHBOARDS) {
        await page.click(`#tabs button[data-uid="${d.uid}"]`);
        await page.waitForSelector(`#tabs button[data-uid="${d.uid}"][aria-selected="true"]`);
        await page.waitForURL(new RegExp(`tab=${d.uid}`));
        await allReady(page);
        assert.deepEqual(await page.evaluate<string[]>(PAGE_AUDIT), [], d.uid);
      }
      // The budgets board: the budget's row in words, its wide table scrolling in its panel.
      await page.click('#tabs button[data-uid="tokenledger-budgets"]');
      await page.waitForURL(/tab=tokenledger-budgets/);
      await allReady(page);
      const row = await page.$$eval('#panel-budgets-current tbody tr', (rows) =>
        rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
      );
      assert.equal(row.length, 1);
      assert.equal(row[0]![0], 'search-monthly');
      assert.ok(row[0]!.includes('Monthly') && row[0]!.includes('Policy in force then'), row[0]!.join(' | '));
      if (width < 1000) {
        const wrap = await page.$eval('#panel-budgets-current .table-wrap', (e) => [
          e.scrollWidth,
          e.clientWidth,
        ]);
        assert.ok(wrap[0]! > wrap[1]!, `the budgets table scrolls at ${width}px: ${wrap.join(' > ')}`);
      }
      assert.deepEqual(problems, []);
      await page.close();
    });
  }

  it('the inventory board: each ingest key with its scope, and the calls it attributed outside it', async () => {
    const { page, problems } = await openPage(
      `${collector.url}/?tab=tokenledger-inventory&period=${SCOPED_MONTH}#key=${KEYS.viewer}`,
    );
    const rowsOf = (id: string) =>
      page.$$eval(`#panel-${id} tbody tr`, (rows) =>
        rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
      );
    // Stored by now? The spans were sent before the browser started; wait for the writer all the same.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await allReady(page);
      if ((await rowsOf('inventory-ingest-keys')).length > 0 || Date.now() > deadline) break;
      await page.reload();
    }
    assert.deepEqual(
      await page.$$eval('#panel-inventory-ingest-keys thead th', (ths) => ths.map((th) => th.textContent)),
      [
        'Ingest key',
        'May report for',
        'Calls',
        'Spend',
        'Calls attributed outside its scope',
        'Attribution claimed outside its scope',
      ],
    );
    // 3 × gpt-4o-mini 1000 in / 0 out = 3 × $0.00015; two claimed team billing.
    assert.deepEqual(await rowsOf('inventory-ingest-keys'), [
      ['search-app', 'team=search', '3', '$0.00045', '2', '{"team":"billing"}'],
    ]);
    assert.deepEqual(await rowsOf('inventory-services'), [
      ['search-api', '3', '$0.00045', 'openai', 'gpt-4o-mini'],
    ]);
    // This month: the unscoped ingest key sent the six seeded calls, none outside a scope.
    await page.selectOption('#range', 'current_month');
    await page.waitForURL(/period=current_month/);
    await allReady(page);
    assert.deepEqual(await rowsOf('inventory-ingest-keys'), [
      [INGEST_KEY_NAME, '(any)', '6', '$0.0245', '0', '(none)'],
    ]);
    assert.deepEqual(await page.evaluate<string[]>(PAGE_AUDIT), []);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('the bill board with imported bills: each provider billed against the meter, in words and in the format', async () => {
    // October 2026's bills from the providers' documented examples, imported as finance does.
    const bills = ['openai-costs-2026-10.json', 'anthropic-cost-report-2026-10.json'];
    for (const file of bills) {
      const res = await fetch(`${collector.url}/v1/reconciliation/imports?file_name=${file}`, {
        method: 'POST',
        headers: auth(KEYS.admin),
        body: readFileSync(path.join(__dirname, '../fixtures/bills', file)),
      });
      assert.ok(res.status === 200 || res.status === 201, `${file}: ${res.status} ${await res.text()}`);
    }
    const api = async (panel: string) => {
      const res = await fetch(`${collector.url}/v1/panels/tokenledger-bill/${panel}?period=2026-10`, {
        headers: auth(KEYS.viewer),
      });
      assert.equal(res.status, 200);
      return (await res.json()) as { rows: unknown[][] };
    };
    const coverage = await api('bill-coverage-by-provider');
    assert.deepEqual(coverage.rows.map((r) => r[0]).sort(), ['anthropic', 'openai']);

    const { page, problems } = await openPage(
      `${collector.url}/?tab=tokenledger-bill&period=2026-10#key=${KEYS.viewer}`,
    );
    await allReady(page);
    const rowsOf = (id: string) =>
      page.$$eval(`#panel-${id} tbody tr`, (rows) =>
        rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
    const shown = await rowsOf('bill-coverage-by-provider');
    assert.equal(shown.length, 2, JSON.stringify(shown));
    for (const row of shown) {
      assert.match(row[0]!, /^(OpenAI|Anthropic|openai|anthropic)$/, row.join(' | '));
      // Billed, in the money format (the audit below checks every money string on the page).
      assert.match(row[1]!, /^\$[\d,]+(\.\d+)?$/, row.join(' | '));
    }
    const headers = await page.$$eval('#panel-bill-coverage-by-provider thead th', (ths) =>
      ths.map((th) => th.textContent ?? ''),
    );
    assert.ok(
      headers.every((h) => !h.includes('_')),
      headers.join(' | '),
    );
    assert.ok((await rowsOf('bill-imports')).length >= bills.length, 'both imports listed');
    assert.deepEqual(await page.evaluate<string[]>(PAGE_AUDIT), []);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('the audit finds a column name, money out of format and a cut-off box (it can fail)', async () => {
    const { page } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await allReady(page);
    await page.evaluate(`(() => {
      const body = document.querySelector('#panel-cfo-models-in-use .body');
      body.style.overflow = 'hidden';
      const wide = document.createElement('div');
      wide.style.width = '5000px';
      wide.textContent = 'costs $12.3456 today';
      body.append(wide);
      document.querySelector('#panel-cfo-models-in-use th').textContent = 'spend_usd';
    })()`);
    const found = await page.evaluate<string[]>(PAGE_AUDIT);
    assert.ok(found.includes('label looks like a column: spend_usd'), found.join('\n'));
    assert.ok(found.includes('money text not in format: $12.3456'), found.join('\n'));
    assert.ok(
      found.some((f) => f.startsWith('wider than its box, no scrollbar: DIV#.body')),
      found.join('\n'),
    );
    await page.close();
  });

  it('says in its header which range it shows, and keeps tab, range and filters in the address', async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await allReady(page);
    const now = new Date();
    assert.equal(
      await page.textContent('#range-title'),
      `This month: ${monthName(now)} ${now.getUTCFullYear()}`,
    );
    await page.selectOption('#range', 'last_month');
    await page.waitForURL(/period=last_month/);
    await allReady(page);
    const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    assert.equal(
      await page.textContent('#range-title'),
      `Last month: ${monthName(last)} ${last.getUTCFullYear()}`,
    );
    assert.match(
      (await page.textContent('#range-label')) ?? '',
      new RegExp(`^1 ${monthName(last).slice(0, 3)} ${last.getUTCFullYear()} – `),
    );
    // Last month's total: nothing was spent then.
    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.00');
    // Back: this month again, from the address.
    await page.goBack();
    await page.waitForURL(/period=current_month/);
    await allReady(page);
    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.0245');
    assert.equal(await page.inputValue('#range'), 'current_month');

    // A link to the team board, last 7 days, team search opens exactly that.
    const link = await openPage(
      `${collector.url}/?tab=tokenledger-team&period=last_7d&team=search#key=${KEYS.viewer}`,
    );
    await allReady(link.page);
    assert.equal(
      await link.page.getAttribute('#tabs button[data-uid="tokenledger-team"]', 'aria-selected'),
      'true',
    );
    assert.equal(await link.page.inputValue('#range'), 'last_7d');
    assert.equal(await link.page.inputValue('#var-team'), 'search');
    assert.equal(await link.page.textContent('#range-title'), 'Last 7 days');
    assert.equal(await link.page.textContent('#panel-team-usage .value[data-column="spend_usd"]'), '$0.0225');
    assert.match(link.page.url(), /\?tab=tokenledger-team&period=last_7d&team=search$/);
    assert.deepEqual([...problems, ...link.problems], []);
    await link.page.close();
    await page.close();
  });

  it('downloads any panel as CSV: labelled columns, exact values', async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await allReady(page);
    const csvOf = async (panel: string): Promise<string> => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click(`#panel-${panel} .csv`),
      ]);
      const file = path.join(downloads, download.suggestedFilename());
      await download.saveAs(file);
      return readFileSync(file, 'utf8');
    };
    assert.equal(
      await csvOf('cfo-models-in-use'),
      'Provider,Model (priced as),Calls,Spend\r\nopenai,gpt-4o,3,0.0225\r\nopenai,gpt-4o-mini,3,0.00195\r\n',
    );
    assert.equal(await csvOf('cfo-total-spend'), 'Spend\r\n0.02445\r\n');
    await page.click('#tabs button[data-uid="tokenledger-budgets"]');
    await allReady(page);
    const budgets = (await csvOf('budgets-current')).split('\r\n');
    assert.match(budgets[0]!, /^Budget,Period,Period start,Period end,Spent,Limit,Limit from,Remaining,/);
    assert.match(
      budgets[1]!,
      /^search-monthly,Monthly,.*,0\.0225,0\.05,Policy in force then,0\.0275,.*,0\.45,OK$/,
    );
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('narrows the team board to one team through its variable select', async () => {
    const { page, problems } = await openPage(`${collector.url}/#key=${KEYS.viewer}`);
    await settled(page);
    await page.click('#tabs button[data-uid="tokenledger-team"]');
    await page.waitForSelector('#var-team option[value="search"]', { state: 'attached' });
    await page.waitForSelector('#panel-team-usage[data-state="ready"]');
    const allSpend = await page.getAttribute(
      '#panel-team-usage .value[data-column="spend_usd"]',
      'data-exact',
    );
    assert.equal(allSpend, '0.02445');
    await page.selectOption('#var-team', 'search');
    await page.waitForSelector('#panel-team-usage .value[data-column="spend_usd"]:text-is("$0.0225")');
    assert.equal(await page.textContent('#panel-team-usage .value[data-column="calls"]'), '3');
    assert.match(page.url(), /team=search/);
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
    assert.equal(await page.textContent('#panel-cfo-total-spend .value'), '$0.0245');
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

/* global document, history, location, window, Chart */
/**
 * tokenledger's built-in report page: the panel catalog of the Grafana dashboards, drawn with
 * Chart.js from the collector's panel API (GET /v1/panels, /v1/panels/:dashboard/:panel).
 *
 * The page holds no data and no key: a viewer key arrives in the URL fragment (#key=…, which
 * browsers never send to a server) or the form, is kept in this tab's sessionStorage, and travels
 * only as a Bearer header. What is shown — tab, range, filters — is in the address (?tab=…&period=…
 * &team=…), so a link opens the same view. Money arrives as exact decimal strings: shown as a
 * finance tool shows it (cents from $1 up, three significant digits below), with the exact value
 * in the tooltip and in every CSV download; only chart geometry goes through floats.
 */
'use strict';

(function reportPage() {
  const KEY_STORE = 'tokenledger.viewerKey';
  const COLORS = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
  const NAMED_RANGES = {
    current_month: 'This month',
    last_month: 'Last month',
    last_7d: 'Last 7 days',
    last_30d: 'Last 30 days',
  };
  const MONTHS_OFFERED = 12;
  const state = { catalog: null, dashboard: null, range: 'current_month', variables: {}, charts: [] };
  const $ = (id) => document.getElementById(id);

  // ---------- key ----------

  function takeKeyFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const key = params.get('key');
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    // Out of the address bar, history and bookmarks; the view (?tab=…) stays.
    history.replaceState(null, '', location.pathname + location.search);
  }

  const currentKey = () => sessionStorage.getItem(KEY_STORE);

  function askForKey(message) {
    sessionStorage.removeItem(KEY_STORE);
    $('key-form').hidden = false;
    $('key-error').textContent = message || '';
    document.body.dataset.state = 'needs-key';
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${currentKey()}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, body.error || `HTTP ${res.status}`);
    return body;
  }

  // ---------- the view in the address ----------

  /** The view the address names (tab, range, filters), or the defaults. */
  function viewFromAddress() {
    const params = new URLSearchParams(location.search);
    const view = { tab: params.get('tab'), range: params.get('period') || 'current_month', variables: {} };
    for (const [name, value] of params) if (name !== 'tab' && name !== 'period') view.variables[name] = value;
    return view;
  }

  /** Writes the current view into the address (a new history entry when `push`). */
  function saveView(push) {
    const params = new URLSearchParams();
    params.set('tab', state.dashboard.uid);
    params.set('period', state.range);
    for (const [name, value] of Object.entries(state.variables)) if (value) params.set(name, value);
    const url = `${location.pathname}?${params}`;
    if (`${location.pathname}${location.search}` === url) return;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }

  // ---------- formatting (exact, from strings) ----------

  /** Rounds a non-negative decimal string half-up to `places` decimals, without a float. */
  function roundDecimal(text, places) {
    const [whole, fraction = ''] = text.split('.');
    if (fraction.length <= places) return `${whole}.${fraction.padEnd(places, '0')}`;
    const digits = (whole + fraction.slice(0, places)).split('').map(Number);
    if (Number(fraction[places]) >= 5) {
      let i = digits.length - 1;
      while (i >= 0 && digits[i] === 9) digits[i--] = 0;
      if (i < 0) digits.unshift(1);
      else digits[i] += 1;
    }
    const all = digits.join('');
    const cut = all.length - places;
    return places === 0 ? all : `${all.slice(0, cut) || '0'}.${all.slice(cut)}`;
  }

  /**
   * "1234.5" → "$1,234.50", "0.02445" → "$0.0245": cents from $1 up, three significant digits
   * below (at least two decimals), computed on the string, never through a float.
   */
  function formatUsd(value) {
    const text = String(value ?? '0').trim();
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (!match) return `$${text}`;
    const [, sign, rawWhole, rawFraction = ''] = match;
    const plain = `${rawWhole.replace(/^0+(?=\d)/, '')}.${rawFraction}`;
    let shown;
    if (!/[1-9]/.test(plain) || Number(rawWhole) >= 1) shown = roundDecimal(plain, 2);
    else {
      const zeros = /^0*/.exec(rawFraction)[0].length;
      shown = roundDecimal(plain, Math.max(zeros + 3, 2));
      // 0.9995 rounds to 1.000: from $1 up it is cents.
      if (Number(shown) >= 1) shown = roundDecimal(plain, 2);
      else shown = shown.replace(/(\.\d\d\d*?)0+$/, '$1');
    }
    const [whole, fraction] = shown.split('.');
    const negative = sign === '-' && /[1-9]/.test(shown);
    return `${negative ? '-' : ''}$${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
  }

  function formatNumber(value) {
    const text = String(value ?? '');
    if (/^-?\d+$/.test(text)) return text.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const n = Number(text);
    if (!Number.isFinite(n)) return text;
    return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined) return '–';
    switch (unit) {
      case 'currencyUSD':
        return formatUsd(value);
      case 'percentunit':
        return `${(Number(value) * 100).toLocaleString('en-US', { maximumFractionDigits: 1 })}%`;
      case 'ms':
        return `${formatNumber(Math.round(Number(value)))} ms`;
      case 's':
        return `${formatNumber(value)} s`;
      default:
        return formatNumber(value);
    }
  }

  const isTimeType = (type) => /^(Nullable\()?(DateTime|Date)/.test(type);
  const isNumericType = (type) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(type);
  /** Money is the only Decimal in tokenledger's tables; computed money columns end in _usd. */
  const isMoneyColumn = (column) => /_usd$/i.test(column.name) || /Decimal/.test(column.type);

  /** The unit a column is shown in: money in USD, shares in percent, counts as numbers, else the panel's. */
  function columnUnit(column, panel) {
    if (isMoneyColumn(column)) return 'currencyUSD';
    if (/share|ratio|rate$|percent|_change$/i.test(column.name)) return 'percentunit';
    if (/_ms$/i.test(column.name)) return 'ms';
    if (/(^|_)(calls|tokens|users|count|requests|outcomes)(_|$)/i.test(column.name)) return 'short';
    if (panel.unit === 'currencyUSD' || panel.unit === 'percentunit') return 'short';
    return panel.unit;
  }

  /** The columns a chart draws: the numeric ones in the panel's unit (others would dwarf them), else all numeric. */
  function chartColumns(columns, panel, exclude) {
    const numeric = columns.map((c, i) => i).filter((i) => i !== exclude && isNumericType(columns[i].type));
    const inUnit = numeric.filter((i) => columnUnit(columns[i], panel) === panel.unit);
    return inUnit.length > 0 ? inUnit : numeric;
  }

  const MONTH_NAMES = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  const shortDate = (d) =>
    `${d.getUTCDate()} ${MONTH_NAMES[d.getUTCMonth()].slice(0, 3)} ${d.getUTCFullYear()}`;

  const formatTime = (iso, intervalSeconds) => {
    const d = new Date(iso);
    const date = d.toISOString().slice(0, 10);
    return intervalSeconds >= 86_400 ? date : `${date} ${d.toISOString().slice(11, 16)}`;
  };

  /** A text cell: coded values in words, empty as "(none)". */
  const textValue = (column, value) =>
    value === '' || value === null || value === undefined
      ? '(none)'
      : (column.values && column.values[value]) || String(value);

  // ---------- the range ----------

  /** "2026-10" → "October 2026". */
  const monthName = (period) => `${MONTH_NAMES[Number(period.slice(5, 7)) - 1]} ${period.slice(0, 4)}`;

  function rangeName(range) {
    if (NAMED_RANGES[range]) return NAMED_RANGES[range];
    if (/^\d{4}-\d{2}$/.test(range)) return monthName(range);
    return range;
  }

  function fillRangeOptions() {
    const select = $('range');
    select.replaceChildren();
    for (const [value, label] of Object.entries(NAMED_RANGES)) select.append(el('option', { value }, label));
    const now = new Date();
    for (let i = 0; i < MONTHS_OFFERED; i++) {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
      const value = d.toISOString().slice(0, 7);
      select.append(el('option', { value }, monthName(value)));
    }
    if (![...select.options].some((o) => o.value === state.range))
      select.append(el('option', { value: state.range }, rangeName(state.range)));
    select.value = state.range;
  }

  /** The ranges that are a calendar month, named in words: the header adds which month. */
  const MONTH_RANGES = new Set(['current_month', 'last_month']);

  /** The header says which range the figures are for, in words and dates. */
  function showRange(from, to) {
    const start = new Date(from);
    const end = new Date(to);
    let title = rangeName(state.range);
    // Only for a month range: on the 7th, "last 7 days" also starts on the 1st of this month.
    if (MONTH_RANGES.has(state.range))
      title = `${title}: ${MONTH_NAMES[start.getUTCMonth()]} ${start.getUTCFullYear()}`;
    $('range-title').textContent = title;
    $('range-label').textContent =
      `${shortDate(start)} – ${shortDate(end)} ${end.toISOString().slice(11, 16)} UTC`;
  }

  // ---------- rendering ----------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  }

  /** A value in its unit; money keeps its exact value in the tooltip. */
  function valueNode(tag, attrs, value, unit) {
    const node = el(tag, attrs, formatValue(value, unit));
    if (unit === 'currencyUSD' && value !== null && value !== undefined) {
      node.title = `$${value} exactly`;
      node.dataset.exact = String(value);
      node.classList.add('money');
    }
    return node;
  }

  function renderStat(body, panel, data) {
    const numeric = data.columns.map((c, i) => [c, i]).filter(([c]) => isNumericType(c.type));
    const row = data.rows[0];
    const box = el('div', { class: numeric.length > 1 ? 'stat several' : 'stat' });
    if (!row || numeric.length === 0) {
      box.append(valueNode('div', { class: 'value' }, panel.unit === 'currencyUSD' ? '0' : 0, panel.unit));
    } else {
      for (const [column, i] of numeric) {
        const unit = columnUnit(column, panel);
        const value = valueNode('span', { class: 'value', 'data-column': column.name }, row[i], unit);
        const item = el('div', { class: 'stat-item' }, value);
        if (numeric.length > 1) item.append(el('span', { class: 'label' }, column.label));
        box.append(item);
      }
    }
    body.append(box);
  }

  function renderTable(body, panel, data) {
    const table = el('table');
    const head = el('tr');
    for (const c of data.columns)
      head.append(
        el('th', isNumericType(c.type) ? { class: 'num', scope: 'col' } : { scope: 'col' }, c.label),
      );
    table.append(el('thead', {}, head));
    const tbody = el('tbody');
    for (const row of data.rows) {
      const tr = el('tr');
      data.columns.forEach((c, i) => {
        if (isTimeType(c.type)) tr.append(el('td', {}, row[i] === null ? '–' : formatTime(row[i], 60)));
        else if (isNumericType(c.type))
          tr.append(valueNode('td', { class: 'num' }, row[i], columnUnit(c, panel)));
        else tr.append(el('td', {}, textValue(c, row[i])));
      });
      tbody.append(tr);
    }
    table.append(tbody);
    // Wide tables scroll inside their panel, never past it.
    body.append(
      el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': panel.title }, table),
    );
  }

  /** Time series in either shape Grafana accepts: wide (time, a, b) or long (time, label, value). */
  function seriesFrom(data, panel) {
    const timeIndex = data.columns.findIndex((c) => isTimeType(c.type));
    const labelIdx = data.columns
      .map((c, i) => i)
      .filter((i) => i !== timeIndex && !isNumericType(data.columns[i].type));
    const valueIdx = chartColumns(data.columns, panel, timeIndex);
    const times = [...new Set(data.rows.map((r) => r[timeIndex]))].sort();
    const position = new Map(times.map((t, i) => [t, i]));
    const series = new Map();
    for (const row of data.rows) {
      const label = labelIdx.map((i) => textValue(data.columns[i], row[i])).join(' / ');
      for (const vi of valueIdx) {
        const name = [label, valueIdx.length > 1 || !label ? data.columns[vi].label : '']
          .filter(Boolean)
          .join(': ');
        if (!series.has(name))
          series.set(name, { name, column: data.columns[vi], values: new Array(times.length).fill(null) });
        series.get(name).values[position.get(row[timeIndex])] = row[vi];
      }
    }
    return { times, series: [...series.values()] };
  }

  /** Bars and pies: the text columns name a category, each numeric column is a dataset. */
  function categoriesFrom(data, panel) {
    const labelIdx = data.columns.map((c, i) => i).filter((i) => !isNumericType(data.columns[i].type));
    const valueIdx = chartColumns(data.columns, panel, -1);
    const label = (row, i) =>
      isTimeType(data.columns[i].type) ? formatTime(row[i], 86_400) : textValue(data.columns[i], row[i]);
    const labels = data.rows.map((r) => labelIdx.map((i) => label(r, i)).join(' / '));
    const series = valueIdx.map((vi) => ({
      name: data.columns[vi].label,
      column: data.columns[vi],
      values: data.rows.map((r) => r[vi]),
    }));
    return { labels, series };
  }

  function renderChart(body, panel, data) {
    const canvas = el('canvas', { role: 'img', 'aria-label': panel.title });
    body.append(el('div', { class: 'chart' }, canvas));
    let labels;
    let series;
    let type;
    if (panel.visualization === 'timeseries') {
      const s = seriesFrom(data, panel);
      labels = s.times.map((t) => formatTime(t, data.intervalSeconds));
      series = s.series;
      type = 'line';
    } else {
      const c = categoriesFrom(data, panel);
      labels = c.labels;
      series = c.series;
      type = panel.visualization === 'piechart' ? 'doughnut' : 'bar';
    }
    // Grafana's bar gauge is a list of horizontal bars.
    const horizontal = panel.visualization === 'bargauge';
    const pie = type === 'doughnut';
    const datasets = series.map((s, i) => ({
      label: s.name,
      // Exact strings stay in `exact` for tooltips; the geometry needs numbers.
      data: s.values.map((v) => (v === null ? null : Number(v))),
      exact: s.values,
      unit: columnUnit(s.column, panel),
      borderColor: pie ? '#ffffff' : COLORS[i % COLORS.length],
      backgroundColor: pie ? s.values.map((_, j) => COLORS[j % COLORS.length]) : COLORS[i % COLORS.length],
      tension: 0,
      spanGaps: true,
      pointRadius: labels.length > 60 ? 0 : 2,
    }));
    const firstUnit = datasets[0] ? datasets[0].unit : panel.unit;
    const chart = new Chart(canvas, {
      type,
      data: { labels, datasets },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: pie || datasets.length > 1, position: pie ? 'right' : 'bottom' },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const exact = ctx.dataset.exact[ctx.dataIndex];
                const shown = formatValue(exact, ctx.dataset.unit);
                const full =
                  ctx.dataset.unit === 'currencyUSD' && exact !== null ? ` ($${exact} exactly)` : '';
                return `${ctx.dataset.label}: ${shown}${full}`;
              },
            },
          },
        },
        scales: pie
          ? {}
          : {
              [horizontal ? 'y' : 'x']: { ticks: { maxRotation: 0, autoSkip: true } },
              [horizontal ? 'x' : 'y']: {
                beginAtZero: true,
                ticks: { callback: (v) => formatValue(String(v), firstUnit) },
              },
            },
      },
    });
    state.charts.push(chart);
  }

  function renderPanel(box, panel, data) {
    const body = box.querySelector('.body');
    body.replaceChildren();
    box.querySelector('.csv').hidden = data.rows.length === 0;
    if (data.rows.length === 0 && panel.visualization !== 'stat') {
      body.append(el('p', { class: 'empty' }, 'No data in this range.'));
      return;
    }
    switch (panel.visualization) {
      case 'stat':
      case 'gauge':
        renderStat(body, panel, data);
        break;
      case 'table':
        renderTable(body, panel, data);
        break;
      default:
        renderChart(body, panel, data);
    }
  }

  // ---------- CSV ----------

  /** Money and counts as the server sent them; a share to 10 significant digits; codes in words. */
  function csvValue(column, value) {
    if (value === null || value === undefined) return '';
    if (/^(Nullable\()?Float/.test(column.type)) return String(Number(Number(value).toPrecision(10)));
    if (isNumericType(column.type) || isTimeType(column.type)) return value;
    return textValue(column, value);
  }

  /** CSV of a panel's rows: labelled header, exact values (money as the server computed it). */
  function toCsv(data) {
    const escape = (v) => {
      const s = v === null || v === undefined ? '' : String(v);
      return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    };
    const lines = [data.columns.map((c) => escape(c.label)).join(',')];
    for (const row of data.rows)
      lines.push(data.columns.map((c, i) => escape(csvValue(c, row[i]))).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }

  function downloadCsv(panel, data) {
    const name = `${state.dashboard.uid}-${panel.id}-${state.range}.csv`;
    const url = URL.createObjectURL(new Blob([toCsv(data)], { type: 'text/csv' }));
    const link = el('a', { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ---------- loading ----------

  function query(extra) {
    const params = new URLSearchParams({ period: state.range });
    for (const [name, value] of Object.entries(state.variables)) if (value) params.append(name, value);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return params.toString();
  }

  async function loadVariables(dashboard, wanted) {
    const holder = $('variables');
    holder.replaceChildren();
    state.variables = {};
    await Promise.all(
      dashboard.variables.map(async (variable) => {
        const select = el('select', { id: `var-${variable.name}`, 'data-variable': variable.name });
        select.append(el('option', { value: '' }, 'All'));
        const label = el('label', {}, variable.label, select);
        holder.append(label);
        const res = await api(
          `/v1/panels/${encodeURIComponent(dashboard.uid)}/variables/${encodeURIComponent(variable.name)}?${query()}`,
        );
        const values = [...res.values];
        // A linked filter stays, even when the range has no data for it.
        if (wanted[variable.name] && !values.includes(wanted[variable.name]))
          values.push(wanted[variable.name]);
        for (const value of values) select.append(el('option', { value }, value));
        if (wanted[variable.name]) {
          select.value = wanted[variable.name];
          state.variables[variable.name] = wanted[variable.name];
        }
        select.addEventListener('change', () => {
          state.variables[variable.name] = select.value;
          saveView(true);
          loadPanels();
        });
      }),
    );
  }

  async function loadPanels() {
    const dashboard = state.dashboard;
    for (const chart of state.charts.splice(0)) chart.destroy();
    document.body.dataset.state = 'loading';
    const grid = $('panels');
    grid.replaceChildren();
    const qs = query();
    const loads = dashboard.panels.map(async (panel) => {
      const csv = el(
        'button',
        { type: 'button', class: 'csv', title: 'Download this panel as CSV (exact values)' },
        'CSV',
      );
      csv.hidden = true;
      const box = el(
        'article',
        {
          class: 'panel',
          id: `panel-${panel.id}`,
          'data-visualization': panel.visualization,
          'data-state': 'loading',
        },
        el('header', {}, el('h2', {}, panel.title), csv),
        el('p', { class: 'question' }, panel.question),
        el('div', { class: 'body' }, el('p', { class: 'loading' }, 'Loading…')),
      );
      box.style.gridColumn = `span ${panel.width}`;
      box.style.gridRow = `span ${panel.height}`;
      grid.append(box);
      try {
        const data = await api(
          `/v1/panels/${encodeURIComponent(dashboard.uid)}/${encodeURIComponent(panel.id)}?${qs}`,
        );
        if (state.dashboard !== dashboard || query() !== qs) return; // a newer selection took over
        renderPanel(box, panel, data);
        csv.addEventListener('click', () => downloadCsv(panel, data));
        box.dataset.state = 'ready';
        showRange(data.from, data.to);
      } catch (err) {
        if (err.status === 401) return askForKey('That key was not accepted.');
        box.dataset.state = 'error';
        box.querySelector('.body').replaceChildren(el('p', { class: 'error' }, err.message));
        console.error(`panel ${panel.id}: ${err.message}`);
      }
    });
    await Promise.all(loads);
    if (document.body.dataset.state === 'loading') document.body.dataset.state = 'ready';
  }

  async function showDashboard(uid, opts) {
    const dashboard = state.catalog.dashboards.find((d) => d.uid === uid) || state.catalog.dashboards[0];
    state.dashboard = dashboard;
    for (const button of $('tabs').children)
      button.setAttribute('aria-selected', String(button.dataset.uid === dashboard.uid));
    $('dashboard-description').textContent = dashboard.description;
    $('range-title').textContent = rangeName(state.range);
    await loadVariables(dashboard, (opts && opts.variables) || {});
    saveView(Boolean(opts && opts.push));
    await loadPanels();
  }

  async function start() {
    $('key-form').hidden = true;
    if (!currentKey()) return askForKey();
    try {
      state.catalog = await api('/v1/panels');
    } catch (err) {
      if (err.status === 401 || err.status === 403) return askForKey(err.message);
      throw err;
    }
    const tabs = $('tabs');
    tabs.replaceChildren();
    for (const d of state.catalog.dashboards) {
      const button = el(
        'button',
        { type: 'button', role: 'tab', 'data-uid': d.uid },
        d.title.replace(/^tokenledger\s*[—-]\s*/, ''),
      );
      button.addEventListener('click', () => showDashboard(d.uid, { push: true }));
      tabs.append(button);
    }
    await openView();
  }

  /** Shows what the address names (at start, and on back / forward). */
  async function openView() {
    const view = viewFromAddress();
    state.range = view.range;
    fillRangeOptions();
    const uid = state.catalog.dashboards.some((d) => d.uid === view.tab)
      ? view.tab
      : state.catalog.dashboards[0].uid;
    await showDashboard(uid, { variables: view.variables });
  }

  function wireControls() {
    $('range').addEventListener('change', (e) => {
      state.range = e.target.value;
      showDashboard(state.dashboard.uid, { variables: { ...state.variables }, push: true });
    });
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORE, $('key-input').value.trim());
      $('key-input').value = '';
      start().catch(fail);
    });
    $('forget-key').addEventListener('click', () => askForKey());
    window.addEventListener('popstate', () => {
      if (state.catalog) openView().catch(fail);
    });
  }

  function fail(err) {
    document.body.dataset.state = 'error';
    $('panels').replaceChildren(el('p', { class: 'error' }, `Could not load the report: ${err.message}`));
    console.error(err);
  }

  takeKeyFromFragment();
  wireControls();
  start().catch(fail);
})();

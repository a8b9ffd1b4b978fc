/* global document, history, location, Chart */
/**
 * tokenledger's built-in report page: the panel catalog of the Grafana dashboards, drawn with
 * Chart.js from the collector's panel API (GET /v1/panels, /v1/panels/:dashboard/:panel).
 *
 * The page holds no data and no key: a viewer key arrives in the URL fragment (#key=…, which
 * browsers never send to a server) or the form, is kept in this tab's sessionStorage, and travels
 * only as a Bearer header. Money arrives as exact decimal strings and is shown from those strings;
 * only chart geometry goes through floats.
 */
'use strict';

(function reportPage() {
  const KEY_STORE = 'tokenledger.viewerKey';
  const COLORS = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
  const state = { catalog: null, dashboard: null, range: 'current_month', variables: {}, charts: [] };
  const $ = (id) => document.getElementById(id);

  // ---------- key ----------

  function takeKeyFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const key = params.get('key');
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    // Out of the address bar, history and bookmarks.
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

  // ---------- formatting (exact, from strings) ----------

  /** Decimal places shown; longer fractions (projections, ratios of money) are rounded, exactly. */
  const MAX_USD_DECIMALS = 10;

  /** Rounds a decimal string half-up to `places` without going through a float. */
  function roundDecimalString(whole, fraction, places) {
    if (fraction.length <= places) return [whole, fraction];
    const keep = fraction.slice(0, places);
    if (Number(fraction[places]) < 5) return [whole, keep];
    // Add one unit in the last kept place, carrying through the digits.
    const digits = (whole + keep).split('').map(Number);
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) digits[i--] = 0;
    if (i < 0) digits.unshift(1);
    else digits[i] += 1;
    const all = digits.join('');
    return [all.slice(0, all.length - places) || '0', all.slice(all.length - places)];
  }

  /**
   * "1234.5" → "$1,234.50": groups the integer part and keeps the decimals the server sent (at
   * least 2, at most MAX_USD_DECIMALS), working on the string, never on a float.
   */
  function formatUsd(value) {
    const text = String(value ?? '0').trim();
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (!match) return `$${text}`;
    const [, sign, rawWhole, rawFraction = ''] = match;
    const [whole, fraction] = roundDecimalString(rawWhole, rawFraction, MAX_USD_DECIMALS);
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const decimals = fraction.replace(/0+$/, '').padEnd(2, '0');
    return `${sign}$${grouped}.${decimals}`;
  }

  function formatNumber(value) {
    const text = String(value ?? '');
    if (/^-?\d+$/.test(text)) return text.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const n = Number(text);
    if (!Number.isFinite(n)) return text;
    return n.toLocaleString('en-US', { maximumFractionDigits: 4 });
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined) return '–';
    switch (unit) {
      case 'currencyUSD':
        return formatUsd(value);
      case 'percentunit':
        return `${(Number(value) * 100).toLocaleString('en-US', { maximumFractionDigits: 2 })}%`;
      case 'ms':
        return `${formatNumber(value)} ms`;
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
    if (/share|ratio|rate$|percent/i.test(column.name)) return 'percentunit';
    if (/_ms$/i.test(column.name)) return 'ms';
    if (/(^|_)(calls|tokens|users|count|requests)$/i.test(column.name)) return 'short';
    if (panel.unit === 'currencyUSD' || panel.unit === 'percentunit') return 'short';
    return panel.unit;
  }

  /** The columns a chart draws: the numeric ones in the panel's unit (others would dwarf them), else all numeric. */
  function chartColumns(columns, panel, exclude) {
    const numeric = columns.map((c, i) => i).filter((i) => i !== exclude && isNumericType(columns[i].type));
    const inUnit = numeric.filter((i) => columnUnit(columns[i], panel) === panel.unit);
    return inUnit.length > 0 ? inUnit : numeric;
  }

  const formatTime = (iso, intervalSeconds) => {
    const d = new Date(iso);
    const date = d.toISOString().slice(0, 10);
    return intervalSeconds >= 86_400 ? date : `${date} ${d.toISOString().slice(11, 16)}`;
  };

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

  function renderStat(body, panel, data) {
    const numeric = data.columns.map((c, i) => [c, i]).filter(([c]) => isNumericType(c.type));
    const row = data.rows[0];
    const box = el('div', { class: numeric.length > 1 ? 'stat several' : 'stat' });
    if (!row || numeric.length === 0) {
      box.append(
        el('div', { class: 'value' }, formatValue(panel.unit === 'currencyUSD' ? '0' : 0, panel.unit)),
      );
    } else {
      for (const [column, i] of numeric) {
        const unit = columnUnit(column, panel);
        const value = el('span', { class: 'value', 'data-column': column.name }, formatValue(row[i], unit));
        value.title = String(row[i] ?? '');
        const item = el('div', {}, value);
        if (numeric.length > 1) item.append(el('span', { class: 'label' }, column.name));
        if (panel.visualization === 'gauge' || panel.visualization === 'bargauge') {
          const fraction = panel.unit === 'percentunit' ? Math.min(1, Math.max(0, Number(row[i]))) : 1;
          const track = el('div', { class: 'gauge-track' });
          const fill = el('div', { class: 'gauge-fill' });
          fill.style.width = `${fraction * 100}%`;
          track.append(fill);
          item.append(track);
        }
        box.append(item);
      }
    }
    body.append(box);
  }

  function renderTable(body, panel, data) {
    const table = el('table');
    const head = el('tr');
    for (const c of data.columns)
      head.append(el('th', isNumericType(c.type) ? { class: 'num' } : {}, c.name));
    table.append(el('thead', {}, head));
    const tbody = el('tbody');
    for (const row of data.rows) {
      const tr = el('tr');
      data.columns.forEach((c, i) => {
        if (isTimeType(c.type)) tr.append(el('td', {}, formatTime(row[i], 60)));
        else if (isNumericType(c.type))
          tr.append(el('td', { class: 'num' }, formatValue(row[i], columnUnit(c, panel))));
        else tr.append(el('td', {}, row[i] === '' ? '(none)' : String(row[i] ?? '')));
      });
      tbody.append(tr);
    }
    table.append(tbody);
    body.append(table);
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
      const label = labelIdx.map((i) => row[i] || '(none)').join(' / ');
      for (const vi of valueIdx) {
        const name = [label, valueIdx.length > 1 || !label ? data.columns[vi].name : '']
          .filter(Boolean)
          .join(' ');
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
      isTimeType(data.columns[i].type) ? formatTime(row[i], 86_400) : row[i] || '(none)';
    const labels = data.rows.map((r) => labelIdx.map((i) => label(r, i)).join(' / '));
    const series = valueIdx.map((vi) => ({
      name: data.columns[vi].name,
      column: data.columns[vi],
      values: data.rows.map((r) => r[vi]),
    }));
    return { labels, series };
  }

  function renderChart(body, panel, data) {
    const canvas = el('canvas', { role: 'img', 'aria-label': panel.title });
    body.append(canvas);
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
              label: (ctx) =>
                `${ctx.dataset.label}: ${formatValue(ctx.dataset.exact[ctx.dataIndex], ctx.dataset.unit)}`,
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

  // ---------- loading ----------

  function query(extra) {
    const params = new URLSearchParams({ period: state.range });
    for (const [name, value] of Object.entries(state.variables)) if (value) params.append(name, value);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return params.toString();
  }

  async function loadVariables(dashboard) {
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
        for (const value of res.values) select.append(el('option', { value }, value));
        select.addEventListener('change', () => {
          state.variables[variable.name] = select.value;
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
      const box = el(
        'article',
        {
          class: 'panel',
          id: `panel-${panel.id}`,
          'data-visualization': panel.visualization,
          'data-state': 'loading',
        },
        el('h2', {}, panel.title),
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
        box.dataset.state = 'ready';
        $('range-label').textContent =
          `${data.from.slice(0, 16).replace('T', ' ')} – ${data.to.slice(0, 16).replace('T', ' ')} UTC`;
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

  async function showDashboard(uid) {
    const dashboard = state.catalog.dashboards.find((d) => d.uid === uid) || state.catalog.dashboards[0];
    state.dashboard = dashboard;
    for (const button of $('tabs').children)
      button.setAttribute('aria-selected', String(button.dataset.uid === dashboard.uid));
    $('dashboard-description').textContent = dashboard.description;
    await loadVariables(dashboard);
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
      button.addEventListener('click', () => showDashboard(d.uid));
      tabs.append(button);
    }
    await showDashboard(state.catalog.dashboards[0].uid);
  }

  function wireControls() {
    $('range').addEventListener('change', (e) => {
      state.range = e.target.value;
      showDashboard(state.dashboard.uid);
    });
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORE, $('key-input').value.trim());
      $('key-input').value = '';
      start().catch(fail);
    });
    $('forget-key').addEventListener('click', () => askForKey());
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

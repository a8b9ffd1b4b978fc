/**
 * The boards' rollups `calls_hourly` and `calls_daily` (migrations 0037, 0038) equal the raw calls — every group's counts,
 * tokens and money, its distinct users and its p95 latency — after sealing, after a late write into
 * a sealed hour, and on a store upgraded from before the migration (read from the raw calls until
 * the maintainer has filled it behind its own frontier). And every policy `match` field gets the
 * exact budget spend, whichever rollup its hours come from. On the real embedded engine.
 */
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
import type { PolicyMatch } from 'tokenledger/policy';
import { MATCH_FIELDS } from 'tokenledger/policy';
import type { PricedCall } from '../../collector/src/core/call';
import { hourlySpendOf, spendRollupsOf, storedSpend } from '../../collector/src/govern/budgets/spend';
import type { Storage } from '../../collector/src/storage/client';
import { loadMigrations, migrate } from '../../collector/src/storage/migrations';
import { RollupMaintainer } from '../../collector/src/storage/rollup/maintainer';
import {
  advanceDayFrontier,
  CALLS_DAILY,
  DAILY_ROLLUPS,
  fillDay,
  readDayFrontier,
} from '../../collector/src/storage/rollup/days';
import { CALLS_HOURLY, SPEND_HOURLY } from '../../collector/src/storage/rollup/rollups';
import { advanceFrontier, fillHours, readFrontier } from '../../collector/src/storage/rollup/seal';
import { toRow } from '../../collector/src/storage/rows';
import { CallWriter } from '../../collector/src/storage/writer';
import { nanos, pricedCall } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';
import { prng } from '../support/prng';

const HOUR = 3_600_000;
const thisHour = (): number => Math.floor(Date.now() / HOUR) * HOUR;
let seq = 0;

/** Calls over `hours` closed hours, several per group, with users, latencies, enforcement. */
function calls(n: number, hours: number, seed = 7): PricedCall[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: n }, () => {
    // From two hours back: every hour closed (sealed once the grace has passed).
    const at = thisHour() - (1 + Math.ceil(rand() * hours)) * HOUR + Math.floor(rand() * HOUR);
    const model = pick(['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet']);
    const enforcement = pick(['allowed', 'allowed', 'allowed', 'blocked', 'downgraded', 'clamped']);
    const input = (rand() / 100).toFixed(9);
    const output = (rand() / 50).toFixed(9);
    return pricedCall(
      {
        traceId: 'cd'.repeat(16),
        spanId: (++seq).toString(16).padStart(16, '0'),
        startTimeUnixNano: nanos(new Date(at)),
        durationMs: 50 + rand() * 3000,
        responseModel: model,
        inputTokens: Math.floor(rand() * 4000),
        outputTokens: Math.floor(rand() * 800),
        cacheReadTokens: Math.floor(rand() * 100),
        errorType: rand() < 0.05 ? 'timeout' : '',
        enforcement,
        // A downgraded call asked for a dearer model (or, once in a while, the one it got).
        askedModel: enforcement === 'downgraded' ? pick(['gpt-4o', 'o3', 'claude-opus-4']) : '',
        inputCostUsd: input,
        outputCostUsd: output,
        costUsd: new Decimal(input).plus(output).toFixed(),
        priced: rand() > 0.1,
        pricedProvider: 'openai',
        pricedModel: model,
      },
      {
        team: pick(['search', 'ads', '']),
        department: pick(['eng', 'sales']),
        costCenter: pick(['cc-1', 'cc-2', '']),
        feature: pick(['chat', 'summarizer', '']),
        workflow: pick(['wf-a', 'wf-b']),
        environment: pick(['production', 'staging']),
        service: pick(['api', 'worker']),
        customer: pick(['acme', 'globex', "o'brien", '']),
        endUser: rand() < 0.1 ? '' : `u${Math.floor(rand() * 60)}`,
      },
    );
  });
}

async function rows<T = Record<string, string>>(storage: Storage, query: string): Promise<T[]> {
  const rs = await storage.client.query({
    query: query.replaceAll('$db', storage.database),
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1, output_format_json_quote_decimals: 1 },
  });
  return rs.json<T>();
}

const GROUP = 'hour, team, department, cost_center, feature, service, environment, provider, model';
/** Each figure of the rollup beside the function that gives it over the raw calls. */
const RAW_FIGURES: Array<[string, string]> = [
  ['calls', 'count()'],
  ['error_calls', "countIf(error_type != '')"],
  ['unpriced_calls', 'countIf(priced = 0)'],
  ['blocked_calls', "countIf(enforcement = 'blocked')"],
  ['downgraded_calls', "countIf(enforcement = 'downgraded')"],
  ['clamped_calls', "countIf(enforcement = 'clamped')"],
  ['input_tokens', 'sum(input_tokens)'],
  ['output_tokens', 'sum(output_tokens)'],
  ['cache_read_tokens', 'sum(cache_read_tokens)'],
  ['cost_usd', 'sum(cost_usd)'],
  ['input_cost_usd', 'sum(input_cost_usd)'],
  ['output_cost_usd', 'sum(output_cost_usd)'],
];

/** Every group of the rollup as the boards read it (`from`: the view, or the sealed table alone). */
async function rollupGroups(storage: Storage, from: 'calls_hourly' | 'calls_hourly_sealed FINAL') {
  return rows(
    storage,
    `SELECT ${GROUP}, ${RAW_FIGURES.map(([f]) => `toString(sum(${f})) AS t_${f}`).join(', ')},
            uniqCombinedMerge(users) AS users, quantileBFloat16Merge(0.95)(latency) AS p95
     FROM $db.${from} WHERE calls > 0 GROUP BY ${GROUP} ORDER BY ${GROUP}`,
  );
}

/** The same from the raw calls, one function per figure. */
async function rawGroups(storage: Storage) {
  const model =
    "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))";

  return rows(
    storage,
    `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, team, department, cost_center, feature, service,
            environment, provider, ${model} AS model,
            ${RAW_FIGURES.map(([f, raw]) => `toString(${raw}) AS t_${f}`).join(', ')},
            uniqCombinedIf(cityHash64(end_user), end_user != '') AS users,
            quantileBFloat16(0.95)(duration_ms) AS p95
     FROM $db.llm_calls FINAL GROUP BY ${GROUP} ORDER BY ${GROUP}`,
  );
}

/** Per UTC day and group: calls_daily's sealed rows, and the raw calls of the same days (before `until`, s). */
async function dailyAndRaw(storage: Storage, until: number) {
  const dims = GROUP.replace('hour, ', '');
  const model =
    "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model))";
  const daily = await rows(
    storage,
    `SELECT day, ${dims}, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd, toString(sum(blocked_calls)) AS blocked,
            uniqCombinedMerge(users) AS users, quantileBFloat16Merge(0.95)(latency) AS p95
     FROM $db.calls_daily_sealed FINAL WHERE calls > 0 AND day < toDateTime(${until}, 'UTC')
     GROUP BY day, ${dims} ORDER BY day, ${dims}`,
  );
  const raw = await rows(
    storage,
    `SELECT toStartOfDay(start_time, 'UTC') AS day, team, department, cost_center, feature, service, environment,
            provider, ${model} AS model, toString(count()) AS n, toString(sum(cost_usd)) AS usd,
            toString(countIf(enforcement = 'blocked')) AS blocked,
            uniqCombinedIf(cityHash64(end_user), end_user != '') AS users, quantileBFloat16(0.95)(duration_ms) AS p95
     FROM $db.llm_calls FINAL WHERE start_time < toDateTime(${until}, 'UTC')
     GROUP BY day, ${dims} ORDER BY day, ${dims}`,
  );
  return { daily, raw };
}

async function assertDaysEqualRaw(storage: Storage, m: RollupMaintainer, what: string): Promise<void> {
  const until = Date.parse(m.stats.daysSealedUntil ?? '1970-01-01T00:00:00Z') / 1000;
  assert.ok(until > 0, `${what}: days sealed`);
  const { daily, raw } = await dailyAndRaw(storage, until);
  assert.ok(raw.length > 0);
  assert.deepEqual(daily, raw, `${what}: calls_daily`);
}

async function assertEqualsRaw(storage: Storage, what: string): Promise<void> {
  const raw = await rawGroups(storage);
  assert.ok(raw.length > 0);
  assert.deepEqual(await rollupGroups(storage, 'calls_hourly'), raw, `${what}: the view`);
}

async function sealedCount(storage: Storage): Promise<number> {
  const [r] = await rows(storage, 'SELECT count() AS n FROM $db.calls_hourly_sealed FINAL WHERE calls > 0');
  return Number(r!.n);
}

/** The panel-grain rollups (0040, 0041) against the raw calls, per group of their own grain. */
const PANEL_GRAINS: Array<{ name: string; sealed: string; raw: string }> = [
  {
    name: 'downgrades_hourly',
    sealed: `SELECT hour, provider, asked_model, model, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd,
                    toString(sum(input_tokens)) AS input, toString(sum(cache_read_tokens)) AS cached
             FROM $db.downgrades_hourly WHERE calls > 0 GROUP BY hour, provider, asked_model, model
             ORDER BY hour, provider, asked_model, model`,
    raw: `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, provider, asked_model,
                 if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model,
                 toString(count()) AS n, toString(sum(cost_usd)) AS usd,
                 toString(sum(input_tokens)) AS input, toString(sum(cache_read_tokens)) AS cached
          FROM $db.llm_calls FINAL WHERE enforcement = 'downgraded' AND asked_model NOT IN ('', request_model)
          GROUP BY hour, provider, asked_model, model ORDER BY hour, provider, asked_model, model`,
  },
  {
    name: 'users_hourly',
    sealed: `SELECT hour, feature, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd, uniqCombinedMerge(users) AS users
             FROM $db.users_hourly WHERE calls > 0 GROUP BY hour, feature ORDER BY hour, feature`,
    raw: `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, feature, toString(count()) AS n,
                 toString(sum(cost_usd)) AS usd, uniqCombinedIf(cityHash64(end_user), end_user != '') AS users
          FROM $db.llm_calls FINAL GROUP BY hour, feature ORDER BY hour, feature`,
  },
  {
    name: 'users_daily (days before its frontier)',
    sealed: `SELECT day, feature, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd, uniqCombinedMerge(users) AS users
             FROM $db.users_daily WHERE calls > 0 GROUP BY day, feature ORDER BY day, feature`,
    raw: `SELECT toStartOfDay(start_time, 'UTC') AS day, feature, toString(count()) AS n,
                 toString(sum(cost_usd)) AS usd, uniqCombinedIf(cityHash64(end_user), end_user != '') AS users
          FROM $db.llm_calls FINAL
          WHERE start_time < (SELECT max(sealed_until) FROM $db.rollup_frontiers WHERE rollup = 'users_daily')
          GROUP BY day, feature ORDER BY day, feature`,
  },
  {
    name: 'customers_hourly',
    sealed: `SELECT hour, customer, workflow, team, environment, feature, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd
             FROM $db.customers_hourly WHERE calls > 0 GROUP BY hour, customer, workflow, team, environment, feature
             ORDER BY hour, customer, workflow, team, environment, feature`,
    raw: `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, customer, workflow, team, environment, feature,
                 toString(count()) AS n, toString(sum(cost_usd)) AS usd
          FROM $db.llm_calls FINAL GROUP BY hour, customer, workflow, team, environment, feature
          ORDER BY hour, customer, workflow, team, environment, feature`,
  },
  {
    name: 'customers_daily (days before its frontier)',
    sealed: `SELECT day, customer, workflow, team, environment, feature, toString(sum(calls)) AS n, toString(sum(cost_usd)) AS usd
             FROM $db.customers_daily WHERE calls > 0 GROUP BY day, customer, workflow, team, environment, feature
             ORDER BY day, customer, workflow, team, environment, feature`,
    raw: `SELECT toStartOfDay(start_time, 'UTC') AS day, customer, workflow, team, environment, feature,
                 toString(count()) AS n, toString(sum(cost_usd)) AS usd
          FROM $db.llm_calls FINAL
          WHERE start_time < (SELECT max(sealed_until) FROM $db.rollup_frontiers WHERE rollup = 'customers_daily')
          GROUP BY day, customer, workflow, team, environment, feature
          ORDER BY day, customer, workflow, team, environment, feature`,
  },
  {
    name: 'features_hourly',
    sealed: `SELECT hour, feature, team, environment, toString(sum(calls)) AS n, toString(sum(input_tokens)) AS input,
                    toString(sum(output_tokens)) AS output, toString(sum(cost_usd)) AS usd
             FROM $db.features_hourly WHERE calls > 0 GROUP BY hour, feature, team, environment
             ORDER BY hour, feature, team, environment`,
    raw: `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, feature, team, environment,
                 toString(count()) AS n, toString(sum(input_tokens)) AS input,
                 toString(sum(output_tokens)) AS output, toString(sum(cost_usd)) AS usd
          FROM $db.llm_calls FINAL GROUP BY hour, feature, team, environment
          ORDER BY hour, feature, team, environment`,
  },
  ...[
    // Per hour, and per day before the daily rollup's frontier: each panel-grain rollup of 0048 and 0050.
    { name: 'workflows', dims: `workflow, ${GROUP.replace('hour, ', '')}`, p95: false },
    { name: 'team_customers', dims: 'team, customer', p95: false },
    { name: 'team_models', dims: 'team, model', p95: true },
  ].flatMap(({ name, dims, p95 }) => {
    const figures = (latency: string) =>
      `toString(sum(calls)) AS n, toString(sum(input_tokens)) AS input, toString(sum(cost_usd)) AS usd${p95 ? `, ${latency} AS p95` : ''}`;
    const rawFigures = `toString(count()) AS n, toString(sum(input_tokens)) AS input, toString(sum(cost_usd)) AS usd${p95 ? ', quantileBFloat16(0.95)(duration_ms) AS p95' : ''}`;
    const rawDims = dims.replace(
      'model',
      "if(priced_model != '', priced_model, if(response_model != '', response_model, request_model)) AS model",
    );
    const merged = figures('quantileBFloat16Merge(0.95)(latency)');
    return [
      {
        name: `${name}_hourly`,
        sealed: `SELECT hour, ${dims}, ${merged} FROM $db.${name}_hourly WHERE calls > 0
                 GROUP BY hour, ${dims} ORDER BY hour, ${dims}`,
        raw: `SELECT toDateTime(toStartOfHour(start_time), 'UTC') AS hour, ${rawDims}, ${rawFigures}
              FROM $db.llm_calls FINAL GROUP BY hour, ${dims} ORDER BY hour, ${dims}`,
      },
      {
        name: `${name}_daily (days before its frontier)`,
        sealed: `SELECT day, ${dims}, ${merged} FROM $db.${name}_daily WHERE calls > 0
                 GROUP BY day, ${dims} ORDER BY day, ${dims}`,
        raw: `SELECT toStartOfDay(start_time, 'UTC') AS day, ${rawDims}, ${rawFigures}
              FROM $db.llm_calls FINAL
              WHERE start_time < (SELECT max(sealed_until) FROM $db.rollup_frontiers WHERE rollup = '${name}_daily')
              GROUP BY day, ${dims} ORDER BY day, ${dims}`,
      },
    ];
  }),
];

async function assertPanelGrainsEqualRaw(storage: Storage, what: string): Promise<void> {
  for (const g of PANEL_GRAINS) {
    const raw = await rows(storage, g.raw);
    assert.ok(raw.length > 0, `${what}: ${g.name} has raw calls`);
    assert.deepEqual(await rows(storage, g.sealed), raw, `${what}: ${g.name}`);
  }
}

async function sealedRows(storage: Storage, table: string): Promise<number> {
  const [r] = await rows(storage, `SELECT count() AS n FROM $db.${table} FINAL WHERE calls > 0`);
  return Number(r!.n);
}

/**
 * Rounds until every closed hour and day is sealed in every rollup: a round stops at its time
 * budget, so under load it takes several.
 */
async function sealAll(storage: Storage, m: RollupMaintainer): Promise<void> {
  const closed = new Date(Math.floor((Date.now() - 10 * 60_000) / HOUR) * HOUR).toISOString();
  const closedDay = `${closed.slice(0, 10)}T00:00:00.000Z`;
  const daysFilled = async () => new Date((await dailyFilled(storage)) * 1000).toISOString();
  for (let i = 0; i < 30; i++) {
    await m.round();
    const f = m.stats;
    if (
      (f.sealedUntil ?? '') >= closed &&
      Object.values(f.followers).every((x) => (x ?? '') >= closed) &&
      (f.daysSealedUntil ?? '') >= closedDay &&
      (await daysFilled()) >= closedDay
    )
      return;
  }
  assert.fail('every closed hour and day sealed within 30 rounds');
}

/** Days before this (s) are filled in every daily rollup. */
async function dailyFilled(storage: Storage): Promise<number> {
  const frontiers = await Promise.all(DAILY_ROLLUPS.map((r) => readDayFrontier(storage, r)));
  return Math.min(...frontiers);
}

const maintainer = (storage: Storage) =>
  new RollupMaintainer({ storage, log: () => undefined, publishDelayMs: 0 });

describe('the boards rollup calls_hourly (embedded ClickHouse)', function () {
  this.timeout(120_000);

  it('equals the raw calls once sealed: counts, tokens, money, distinct users, p95 latency', async () => {
    const storage = await freshStorage();
    await new CallWriter(storage).write(calls(600, 30));
    const m = maintainer(storage);
    await sealAll(storage, m);
    assert.equal(m.stats.followers.calls_hourly, m.stats.sealedUntil);
    // Every group of the 30 hours is sealed: the sealed table alone holds the raw figures.
    const raw = await rawGroups(storage);
    assert.deepEqual(await rollupGroups(storage, 'calls_hourly_sealed FINAL'), raw);
    await assertEqualsRaw(storage, 'sealed');
    // Far fewer rows than calls only at production volumes; here, every call counted once.
    const [total] = await rows(
      storage,
      'SELECT toString(sum(calls)) AS n FROM $db.calls_hourly_sealed FINAL',
    );
    assert.equal(total!.n, '600');
    await assertPanelGrainsEqualRaw(storage, 'sealed');
    assert.ok((await sealedRows(storage, 'users_daily_sealed')) > 0);
    assert.ok((await sealedRows(storage, 'downgrades_hourly_sealed')) > 0);
    assert.ok((await sealedRows(storage, 'customers_daily_sealed')) > 0);
  });

  it('rebuilds a sealed hour a late call was written into, users and latency included', async () => {
    const storage = await freshStorage();
    const writer = new CallWriter(storage);
    await writer.write(calls(400, 40, 11));
    const m = maintainer(storage);
    await sealAll(storage, m);
    const before = await sealedCount(storage);
    await assertDaysEqualRaw(storage, m, 'before');
    // A late call into a sealed hour of a sealed day: a new user, a very slow call, another group.
    const [late] = calls(1, 5, 12);
    late!.startTimeUnixNano = nanos(new Date(Date.parse(m.stats.daysSealedUntil!) - 5 * HOUR));
    late!.durationMs = 600_000;
    late!.attribution.endUser = 'a-new-user';
    late!.attribution.team = 'late-team';
    await writer.write([late!]);
    assert.notDeepEqual(await rollupGroups(storage, 'calls_hourly'), await rawGroups(storage));
    const rebuilt = m.stats.daysRebuilt;
    // Its day was read before the hour was built again: built again once the hour is (in the same
    // round unless the round's time budget ran out first, as under load).
    const daysEqual = async () => {
      const { daily, raw } = await dailyAndRaw(storage, Date.parse(m.stats.daysSealedUntil!) / 1000);
      return JSON.stringify(daily) === JSON.stringify(raw);
    };
    for (let i = 0; i < 10 && !(await daysEqual()); i++) await m.round();
    await assertEqualsRaw(storage, 'after a late write');
    assert.equal(await sealedCount(storage), before + 1);
    assert.ok(m.stats.daysRebuilt > rebuilt);
    await assertDaysEqualRaw(storage, m, 'after a late write');
    await assertPanelGrainsEqualRaw(storage, 'after a late write');
  });

  it('on a store from before the migration: exact from the raw calls at once, then filled behind its own frontier', async () => {
    const storage = await freshStorage({ migrate: false });
    const all = loadMigrations();
    const first = all.find((m) => m.statements.some((s) => s.includes('calls_hourly_sealed')))!;
    const older = all.filter((m) => m.version < first.version);
    assert.ok(older.length < all.length);
    await migrate(storage, older);
    const seeded = calls(300, 72, 21);
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: seeded.map(toRow),
      format: 'JSONEachRow',
    });
    // The old maintainer sealed spend_hourly up to the closed hours.
    const sealedUntil = (thisHour() - HOUR) / 1000;
    const build = { generation: '1', coveredUntilMs: Date.now() };
    await fillHours(storage, SPEND_HOURLY, (thisHour() - 80 * HOUR) / 1000, sealedUntil, build);
    await advanceFrontier(storage, sealedUntil, 5_000);

    await migrate(storage, all);
    assert.equal(await sealedCount(storage), 0);
    await assertEqualsRaw(storage, 'upgraded, not filled yet (every hour from the raw calls)');
    const m = maintainer(storage);
    await m.round();
    assert.ok(m.stats.hoursFilled > 0);
    for (let i = 0; i < 20 && m.stats.followers.calls_hourly !== m.stats.sealedUntil; i++) await m.round();
    // Filled up to where spend_hourly is sealed (it may have moved on in the same round).
    assert.equal(m.stats.followers.calls_hourly, m.stats.sealedUntil);
    assert.ok(Date.parse(m.stats.followers.calls_hourly!) >= sealedUntil * 1000);
    assert.ok((await sealedCount(storage)) > 0);
    await assertEqualsRaw(storage, 'filled');
    // From now on both frontiers move together; the days are folded from the filled hours.
    await sealAll(storage, m);
    assert.equal(m.stats.followers.calls_hourly, m.stats.sealedUntil);
    await assertDaysEqualRaw(storage, m, 'upgraded');
    assert.ok((await readFrontier(storage)) >= sealedUntil);
    await assertPanelGrainsEqualRaw(storage, 'upgraded');
  });
});

describe('the panel-grain rollups downgrades_hourly and users_hourly/users_daily (embedded ClickHouse)', function () {
  this.timeout(180_000);

  it('on a store whose board rollups are filled: read raw at once, then filled behind their own frontiers', async () => {
    const storage = await freshStorage({ migrate: false });
    const all = loadMigrations();
    const first = all.find((m) => m.statements.some((s) => s.includes('users_hourly_sealed')))!;
    await migrate(
      storage,
      all.filter(
        (m) => m.version < first.version && !m.statements.some((s) => s.includes('downgrades_hourly')),
      ),
    );
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: calls(400, 72, 41).map(toRow),
      format: 'JSONEachRow',
    });
    // What the previous maintainer left: spend_hourly and calls_hourly sealed, calls_daily built.
    const sealedUntil = (thisHour() - HOUR) / 1000;
    const build = { generation: '1', coveredUntilMs: Date.now() };
    for (const rollup of [SPEND_HOURLY, CALLS_HOURLY])
      await fillHours(storage, rollup, (thisHour() - 80 * HOUR) / 1000, sealedUntil, build);
    await advanceFrontier(storage, sealedUntil, 5_000);
    await advanceFrontier(storage, sealedUntil, 5_000, CALLS_HOURLY);
    const daysUntil = Math.floor(sealedUntil / 86_400) * 86_400;
    for (let d = daysUntil - 4 * 86_400; d < daysUntil; d += 86_400)
      await fillDay(storage, CALLS_DAILY, d, build);
    await advanceDayFrontier(storage, daysUntil, 5_000);

    await migrate(storage, all);
    assert.equal(await sealedRows(storage, 'users_hourly_sealed'), 0);
    // Not filled: the views read every hour from the raw calls, exact at once.
    for (const g of PANEL_GRAINS.filter((p) => p.name.includes('hourly')))
      assert.deepEqual(
        await rows(storage, g.sealed),
        await rows(storage, g.raw),
        `before the fill: ${g.name}`,
      );

    const m = maintainer(storage);
    // A round fills within its time budget: as many as it takes (a few under load).
    const filled = () => dailyFilled(storage);
    for (let i = 0; i < 20 && (await filled()) < daysUntil; i++) await m.round();
    assert.ok(m.stats.hoursFilled > 0);
    assert.ok(m.stats.daysFilled > 0);
    assert.equal(m.stats.followers.users_hourly, m.stats.sealedUntil);
    assert.equal(m.stats.followers.downgrades_hourly, m.stats.sealedUntil);
    assert.ok((await filled()) >= daysUntil);
    for (const name of [
      'customers_hourly',
      'workflows_hourly',
      'team_customers_hourly',
      'team_models_hourly',
      'features_hourly',
    ])
      assert.equal(m.stats.followers[name], m.stats.sealedUntil, name);
    await assertPanelGrainsEqualRaw(storage, 'filled');
    await assertDaysEqualRaw(storage, m, 'filled');
  });
});

describe('budget spend for every policy match field (sealed rollups)', function () {
  this.timeout(120_000);
  let storage: Storage;
  let seeded: PricedCall[];
  let m: RollupMaintainer;
  // Off the hour at both ends: whole days from a daily rollup (68 hours hold at least one), the
  // other whole hours from its hourly rollup, the cut hours from the raw calls.
  const from = new Date(thisHour() - 70 * HOUR + 17 * 60_000);
  const to = new Date(thisHour() - 2 * HOUR + 41 * 60_000);

  before(async () => {
    storage = await freshStorage();
    seeded = calls(1200, 72, 31);
    await new CallWriter(storage).write(seeded);
    m = maintainer(storage);
    await sealAll(storage, m);
  });

  const value = (c: PricedCall, field: (typeof MATCH_FIELDS)[number]): string => {
    if (field === 'model') return c.pricedModel || c.responseModel || c.requestModel;
    if (field === 'provider') return c.provider;
    const key = field.replace(/_(\w)/g, (_m, ch: string) => ch.toUpperCase()) as keyof typeof c.attribution;
    return c.attribution[key];
  };

  for (const field of MATCH_FIELDS) {
    it(`match on ${field}: the raw sum of the calls it matches`, async () => {
      const values = [...new Set(seeded.map((c) => value(c, field)))].filter((v) => v !== '');
      assert.ok(values.length > 0, `the seed has ${field} values`);
      const wanted = values[0]!;
      const expected = seeded
        .filter((c) => value(c, field) === wanted)
        .filter((c) => {
          const ms = Number(BigInt(c.startTimeUnixNano) / 1_000_000n);
          return ms >= from.getTime() && ms < to.getTime();
        })
        .reduce((s, c) => s.plus(c.costUsd), new Decimal(0));
      assert.ok(expected.gt(0));
      const match = { [field]: wanted } as PolicyMatch;
      // Customer is in the customers rollups, workflow in the workflows ones, every other field in the boards'.
      const rollup = field === 'customer' ? 'customers' : field === 'workflow' ? 'workflows' : 'calls';
      assert.equal(hourlySpendOf(storage.database, { match }), `${storage.database}.${rollup}_hourly`);
      assert.equal(spendRollupsOf({ match }).daily?.name, `${rollup}_daily`);
      assert.ok(
        Date.parse(m.stats.daysSealedUntil!) > from.getTime() + 24 * HOUR,
        'a whole day read from days',
      );
      const spent = await storedSpend(storage, match, from, to);
      assert.equal(spent.toString(), expected.toFixed(), `${field} = ${wanted}`);
    });
  }
});

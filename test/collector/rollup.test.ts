/**
 * The sealed-hours rollup (migration 0013, storage/rollup): the hourly spend every report, budget
 * and panel reads equals the raw calls — after sealing, late calls, a write the rollup never heard
 * of, a call replaced by another, two maintainers racing, and on upgrade from a rollup that had
 * already diverged. On the real embedded engine.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import Decimal from 'decimal.js';
import type { PricedCall } from '../../collector/src/core/call';
import { meteredSpendByDay, spendReport } from '../../collector/src/read/spend';
import type { Storage } from '../../collector/src/storage/client';
import { loadMigrations, migrate } from '../../collector/src/storage/migrations';
import { DAILY_ROLLUPS, pendingDayMoves, type DailyRollup } from '../../collector/src/storage/rollup/days';
import { FrontierGate } from '../../collector/src/storage/rollup/frontier-gate';
import { RollupMaintainer } from '../../collector/src/storage/rollup/maintainer';
import { ROLLUPS } from '../../collector/src/storage/rollup/rollups';
import { advanceFrontier, readFrontier } from '../../collector/src/storage/rollup/seal';
import { toRow } from '../../collector/src/storage/rows';
import { CallWriter } from '../../collector/src/storage/writer';
import { nanos, pricedCall } from '../support/calls';
import { freshStorage } from '../support/embedded-storage';

const HOUR = 3_600_000;
const thisHour = (): number => Math.floor(Date.now() / HOUR) * HOUR;
let seq = 0;

function call(at: number, costUsd: string, over: { team?: string; spanId?: string } = {}): PricedCall {
  return pricedCall(
    {
      traceId: 'ef'.repeat(16),
      spanId: over.spanId ?? (++seq).toString(16).padStart(16, '0'),
      startTimeUnixNano: nanos(new Date(at)),
      responseModel: 'gpt-4o',
      inputTokens: 10,
      outputTokens: 2,
      costUsd,
      priced: true,
      pricedProvider: 'openai',
      pricedModel: 'gpt-4o',
    },
    { team: over.team ?? 'search', environment: 'production', service: 'svc' },
  );
}

async function rows<T = Record<string, string>>(storage: Storage, query: string): Promise<T[]> {
  const rs = await storage.client.query({
    query: query.replaceAll('$db', storage.database),
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
  });
  return rs.json<T>();
}

/** Per hour and team: what the view (rollup + tail) says, and what the raw calls say. */
async function viewAndRaw(storage: Storage): Promise<{ view: string[]; raw: string[] }> {
  const line = "concat(toString(hour), ' ', team, ' ', toString(calls), ' $', toString(cost)) AS line";
  const view = await rows<{ line: string }>(
    storage,
    `SELECT ${line} FROM (SELECT hour, team, sum(calls) AS calls, sum(cost_usd) AS cost FROM $db.spend_hourly
     GROUP BY hour, team HAVING calls > 0) ORDER BY line`,
  );
  const raw = await rows<{ line: string }>(
    storage,
    `SELECT ${line} FROM (SELECT toStartOfHour(start_time) AS hour, team, count() AS calls, sum(cost_usd) AS cost
     FROM $db.llm_calls FINAL GROUP BY hour, team) ORDER BY line`,
  );
  return { view: view.map((r) => r.line), raw: raw.map((r) => r.line) };
}

async function frontier(storage: Storage): Promise<number> {
  const [r] = await rows<{ s: string }>(
    storage,
    'SELECT toUInt32(max(sealed_until)) AS s FROM $db.rollup_frontier',
  );
  return Number(r!.s) * 1000;
}

async function sealedCalls(storage: Storage, hour: number): Promise<number> {
  const [r] = await rows<{ n: string }>(
    storage,
    `SELECT sum(calls) AS n FROM $db.spend_hourly_sealed FINAL WHERE hour = toDateTime(${hour / 1000}, 'UTC')`,
  );
  return Number(r!.n);
}

/** A maintainer whose frontier moves readers take at once (backdated by the view's 5 s). */
function maintainer(storage: Storage, logs: string[] = []): RollupMaintainer {
  return new RollupMaintainer({ storage, log: (l) => logs.push(l), publishDelayMs: 0 });
}

/** The spend report over whole hours (the view: rollup + tail) and off the hour (the raw calls). */
async function reports(storage: Storage): Promise<{ hourly: string; raw: string }> {
  const from = thisHour() - 48 * HOUR;
  const to = thisHour() + 2 * HOUR;
  const hourly = await spendReport(storage, {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
  });
  const raw = await spendReport(storage, {
    from: new Date(from - 1).toISOString(),
    to: new Date(to).toISOString(),
  });
  const show = (r: typeof hourly) => `${r.breakdown.reduce((n, b) => n + b.calls, 0)} calls $${r.total_usd}`;
  return { hourly: show(hourly), raw: show(raw) };
}

/** Reconciliation's metered spend and the spend report over the UTC day holding `at`. */
async function dayFigures(storage: Storage, at: number): Promise<{ metered: string; report: string }> {
  const day = new Date(at).toISOString().slice(0, 10);
  const next = new Date(Date.parse(day) + 24 * HOUR).toISOString().slice(0, 10);
  const metered = await meteredSpendByDay(storage, day, next);
  const calls = metered.reduce((n, m) => n + m.calls, 0);
  const usd = metered.reduce((n, m) => n.plus(m.spend_usd), new Decimal(0)).toFixed();
  const report = await spendReport(storage, { from: `${day}T00:00:00Z`, to: `${next}T00:00:00Z` });
  const reportCalls = report.breakdown.reduce((n, b) => n + b.calls, 0);
  return { metered: `${calls} calls $${usd}`, report: `${reportCalls} calls $${report.total_usd}` };
}

describe('sealed-hours rollup (embedded ClickHouse)', () => {
  let storage: Storage;
  let writer: CallWriter;

  beforeEach(async () => {
    storage = await freshStorage();
    writer = new CallWriter(storage);
  });

  it('seals closed hours from the raw calls; readers take them 5 s later; the live tail stays raw', async () => {
    const past = thisHour() - 3 * HOUR;
    await writer.write([
      call(past + 60_000, '1'),
      call(past + 120_000, '2', { team: 'ads' }),
      call(Date.now(), '4'),
    ]);
    const m = new RollupMaintainer({ storage, log: () => undefined });
    await m.round(); // builds the closed hours and moves the frontier past them
    assert.equal(await frontier(storage), Math.floor((Date.now() - 10 * 60_000) / HOUR) * HOUR);
    assert.equal(await sealedCalls(storage, past), 2);
    const { view, raw } = await viewAndRaw(storage);
    assert.deepEqual(view, raw);
    assert.equal(view.length, 3);
    assert.deepEqual(await reports(storage), { hourly: '3 calls $7', raw: '3 calls $7' });
    // Which branch answers: a row added to the rollup alone shows once readers take the move, 5 s
    // after it was written (until then the hour is read from the raw calls).
    await storage.client.command({
      query: `INSERT INTO ${storage.database}.spend_hourly_sealed (hour, team, calls, cost_usd, generation)
              VALUES (toDateTime(${past / 1000}, 'UTC'), 'probe', 1, 100, 1)`,
    });
    assert.deepEqual(await reports(storage), { hourly: '3 calls $7', raw: '3 calls $7' });
    await new Promise((r) => setTimeout(r, 5_200));
    assert.deepEqual(await reports(storage), { hourly: '4 calls $107', raw: '3 calls $7' });
  });

  it('rebuilds a sealed hour that a late call was written into (the writer marks it first)', async () => {
    const past = thisHour() - 5 * HOUR;
    await writer.write([call(past + 1000, '1')]);
    const m = maintainer(storage);
    await m.round();
    await m.round();
    assert.ok((await frontier(storage)) > past);
    // A retry, a slow call's span, a background response read back later: into a sealed hour.
    await writer.write([call(past + 2000, '2'), call(past + 3000, '0.5', { team: 'ads' })]);
    const [mark] = await rows(storage, 'SELECT toUInt32(hour) AS h FROM $db.llm_calls_dirty_hours');
    assert.equal(Number(mark!.h) * 1000, past, 'the hour was marked before the insert');
    assert.deepEqual(await reports(storage), { hourly: '1 calls $1', raw: '3 calls $3.5' });
    const rebuilt = m.stats.hoursRebuilt;
    await m.round();
    assert.deepEqual(await reports(storage), { hourly: '3 calls $3.5', raw: '3 calls $3.5' });
    // The mark is younger than the margin: every round rebuilds the hour again (its insert might
    // have committed after the round read) until the margin has passed.
    assert.equal(m.stats.hoursRebuilt, rebuilt + 1);
    await m.round();
    assert.equal(m.stats.hoursRebuilt, rebuilt + 2);
  });

  it('never takes back a call a report showed: a frontier move stops before an insert in flight, and inserts into the hours it passes wait until readers take it', async () => {
    const gate = new FrontierGate();
    const gated = new CallWriter(storage, { frontierGate: gate });
    const m = new RollupMaintainer({ storage, log: () => undefined, publishDelayMs: 1_500, gate });
    const past = thisHour() - 40 * 24 * HOUR;
    // History sent to a fresh store: an insert into a past hour has begun when the maintainer builds.
    const exit = await gate.enter([past / 1000]);
    await m.round();
    assert.equal(await frontier(storage), past, 'the move stopped before the hour being written');
    assert.equal(m.stats.frontierHolds, 1);
    exit();

    // The next round moves past it; readers take the move 1.5 s later. A call for a day the move
    // passes arrives at once: whatever a report shows of it meanwhile, it never shows less later.
    await m.round();
    assert.ok((await frontier(storage)) > past);
    const seen: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { report } = await dayFigures(storage, past + 2 * HOUR);
        seen.push(Number(report.split(' ')[0]));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const t0 = performance.now();
    await gated.write([call(past + 2 * HOUR + 1000, '10')]);
    const waited = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2_000)); // past the publication, before any rebuild
    await m.round(); // the hour was marked: rebuilt
    await new Promise((r) => setTimeout(r, 300));
    sampling = false;
    await sampler;
    assert.ok(waited < 5_000, `the insert waited for the publication (${waited} ms)`);
    assert.ok(seen.length > 10, `${seen.length} reads`);
    assert.deepEqual(
      seen.filter((n, i) => i > 0 && n < seen[i - 1]!),
      [],
      `reports in order: ${seen.join(' ')}`,
    );
    assert.equal(seen.at(-1), 1);
    assert.deepEqual(await dayFigures(storage, past + 2 * HOUR), {
      metered: '1 calls $10',
      report: '1 calls $10',
    });
  });

  it('never takes back a day a board showed: an hour marked in a day whose move readers have not taken waits until they have, then is rebuilt with its day', async () => {
    const DAY = 24 * HOUR;
    const day = Math.floor((Date.now() - 3 * DAY) / DAY) * DAY;
    const m = new RollupMaintainer({ storage, log: () => undefined, publishDelayMs: 1_500 });
    await writer.write([call(day + 5 * HOUR + 1000, '1')]);
    await m.round(); // seals the hours and the day; readers take the day's move 1.5 s later
    // The hours' moves taken already (as after an earlier round): only the day's is pending.
    for (const rollup of ROLLUPS)
      await advanceFrontier(storage, await readFrontier(storage, rollup), 5_000, rollup);
    // A late call into that day, written by a collector that does not share this one's gate.
    await writer.write([call(day + 5 * HOUR + 2000, '2')]);
    // What a board reads for the day: sealed days from calls_daily, the rest from calls_hourly.
    const frontierTaken = `(SELECT max(sealed_until) FROM $db.rollup_frontiers
      WHERE rollup = 'calls_daily' AND advanced_at <= now64(3) - INTERVAL 5 SECOND)`;
    const board = async (): Promise<number> => {
      const [r] = await rows<{ n: string }>(
        storage,
        `SELECT sum(calls) AS n FROM (
           SELECT calls FROM $db.calls_daily WHERE day = toDateTime(${day / 1000}, 'UTC') AND day < ${frontierTaken}
           UNION ALL
           SELECT calls FROM $db.calls_hourly WHERE hour >= toDateTime(${day / 1000}, 'UTC')
             AND hour < toDateTime(${(day + DAY) / 1000}, 'UTC') AND hour >= ${frontierTaken})`,
      );
      return Number(r!.n);
    };
    const seen: number[] = [await board()];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        seen.push(await board());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Within the day's publication the marked hour waits: rebuilt now, with its day a statement
    // later, a board taking the move between the two would read the day's old build (1 after 2).
    await m.round();
    await new Promise((r) => setTimeout(r, 2_000));
    await m.round(); // the move taken: the hour, then its day
    await new Promise((r) => setTimeout(r, 300));
    sampling = false;
    await sampler;
    assert.ok(seen.length > 10, `${seen.length} reads`);
    assert.deepEqual(
      seen.filter((n, i) => i > 0 && n < seen[i - 1]!),
      [],
      `the board in order: ${seen.join(' ')}`,
    );
    assert.equal(seen.at(-1), 2);
  });

  it('holds back only the days a pending day move covers: a daily rollup filled far behind stretches nothing', async () => {
    const fresh = await freshStorage();
    try {
      const [callsDaily, usersDaily, customersDaily] = DAILY_ROLLUPS as [
        DailyRollup,
        DailyRollup,
        DailyRollup,
      ];
      const day = (n: number) => 1_790_000_000 - (1_790_000_000 % 86_400) + n * 86_400;
      // Taken long ago: calls_daily up to day 20; users_daily (still being filled) up to day 2.
      await advanceFrontier(fresh, day(20), 60_000, callsDaily);
      await advanceFrontier(fresh, day(2), 60_000, usersDaily);
      // customers_daily: up to day 20 taken, then moved to day 22 just now (pending for 5 s).
      await advanceFrontier(fresh, day(20), 60_000, customersDaily);
      await advanceFrontier(fresh, day(22), 0, customersDaily);
      assert.deepEqual(await pendingDayMoves(fresh), [{ from: day(20), to: day(22) }]);
    } finally {
      await fresh.close();
    }
  });

  it('repairs a sealed hour written without a mark (the minute check), and says so', async () => {
    const past = thisHour() - 4 * HOUR;
    // Stored before the maintainer's first round (no mark: the hour is simply built).
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [toRow(call(past + 1000, '1'))],
      format: 'JSONEachRow',
    });
    const logs: string[] = [];
    const m = maintainer(storage, logs);
    await m.round();
    await m.round();
    // Rows the writer never saw (e.g. restored by hand from a backup): no mark.
    const lost = toRow(call(past + 5000, '0.25', { team: 'ads' }));
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [lost],
      format: 'JSONEachRow',
    });
    assert.deepEqual(await reports(storage), { hourly: '1 calls $1', raw: '2 calls $1.25' });
    // Reconciliation's metered spend reads what every report reads (the hourly spend)...
    assert.deepEqual(await dayFigures(storage, past), { metered: '1 calls $1', report: '1 calls $1' });
    (m as unknown as { lastVerify: number }).lastVerify = 0; // the minute has passed
    await m.round();
    assert.deepEqual(await reports(storage), { hourly: '2 calls $1.25', raw: '2 calls $1.25' });
    // ...so the repair corrects it with them.
    assert.deepEqual(await dayFigures(storage, past), { metered: '2 calls $1.25', report: '2 calls $1.25' });
    assert.equal(m.stats.hoursRepaired, 1);
    assert.match(
      logs.join('\n'),
      /rollup: hour .* differed from its raw calls \(rollup 1 calls, \$1; raw 2 calls, \$1.25\): rebuilt/,
    );
  });

  it('drops a group that vanished from an hour (a call replaced by a copy with another team)', async () => {
    const past = thisHour() - 6 * HOUR;
    await writer.write([call(past + 1000, '1', { team: 'old-team', spanId: 'a1'.repeat(8) })]);
    const m = maintainer(storage);
    await m.round();
    await m.round();
    // The same span stored again, richer (ReplacingMergeTree keeps the last): the writer marks the hour.
    const replaced = toRow(call(past + 1000, '1', { team: 'new-team', spanId: 'a1'.repeat(8) }));
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [replaced],
      format: 'JSONEachRow',
    });
    await storage.client.insert({
      table: `${storage.database}.llm_calls_dirty_hours (hour)`,
      values: [[past / 1000]],
      format: 'JSONCompactEachRow',
    });
    await m.round();
    const { view, raw } = await viewAndRaw(storage);
    assert.deepEqual(view, raw);
    assert.equal(view.length, 1);
    assert.match(view[0]!, / new-team 1 \$1$/);
  });

  it('counts a span stored twice (two collectors racing with different batches) once', async () => {
    const past = thisHour() - 7 * HOUR;
    const shared = call(past + 1000, '2', { spanId: 'b2'.repeat(8) });
    const now = call(Date.now(), '3', { spanId: 'c3'.repeat(8) });
    await writer.write([shared, now, call(past + 2000, '1')]);
    // Another collector on the same server, whose lookup ran before this insert: its own copies.
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [shared, now].map(toRow),
      format: 'JSONEachRow',
    });
    const [physical] = await rows(storage, 'SELECT count() AS n FROM $db.llm_calls');
    assert.equal(physical!.n, '5', 'both copies are stored');
    assert.deepEqual(await reports(storage), { hourly: '3 calls $6', raw: '3 calls $6' });
    const m = maintainer(storage);
    await m.round();
    await m.round();
    assert.deepEqual(await reports(storage), { hourly: '3 calls $6', raw: '3 calls $6' });
  });

  it('two maintainers racing build the same figures', async () => {
    const hours = [2, 3, 9, 30].map((h) => thisHour() - h * HOUR);
    await writer.write(
      hours.flatMap((h, i) => [call(h + 1000, String(i + 1)), call(h + 2000, '0.5', { team: 'ads' })]),
    );
    const a = maintainer(storage);
    const b = maintainer(storage);
    for (let i = 0; i < 3; i++) await Promise.all([a.round(), b.round()]);
    await writer.write([call(hours[1]! + 3000, '7')]);
    await Promise.all([a.round(), b.round()]);
    const { view, raw } = await viewAndRaw(storage);
    assert.deepEqual(view, raw);
    assert.deepEqual(await reports(storage), { hourly: '9 calls $19', raw: '9 calls $19' });
  });

  it('on upgrade, replaces a rollup that had diverged: exact at once from the raw calls, then sealed', async () => {
    const old = await freshStorage({ migrate: false });
    const all = loadMigrations();
    await migrate(
      old,
      all.filter((m) => m.version <= 10),
    );
    const past = thisHour() - 8 * HOUR;
    const calls = [call(past + 1000, '1'), call(past + 2000, '2'), call(thisHour() - 30 * HOUR, '4')];
    await old.client.insert({
      table: `${old.database}.llm_calls`,
      values: calls.map(toRow),
      format: 'JSONEachRow',
    });
    // The old rollup misses a call, as after a crash between the raw insert and the view's push.
    await old.client.command({
      query: `ALTER TABLE ${old.database}.spend_hourly DELETE WHERE hour = toDateTime(${past / 1000}, 'UTC')
              SETTINGS mutations_sync = 1`,
    });
    const [before] = await rows(old, 'SELECT toString(sum(cost_usd)) AS usd FROM $db.spend_hourly');
    assert.equal(before!.usd, '4');
    assert.deepEqual(
      await migrate(old, all),
      all.filter((m) => m.version > 10).map((m) => m.version),
    );
    assert.deepEqual(await reports(old), { hourly: '3 calls $7', raw: '3 calls $7' });
    const m = maintainer(old);
    await m.round();
    await m.round();
    assert.ok((await frontier(old)) > past);
    assert.deepEqual(await reports(old), { hourly: '3 calls $7', raw: '3 calls $7' });
    assert.equal(await sealedCalls(old, past), 2);
  });
});

describe('the rollup view (engine behaviour it relies on)', () => {
  it('evaluates identical scalar subqueries once per query, across UNION ALL branches and inside a view', async () => {
    const storage = await freshStorage({ migrate: false });
    await storage.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${storage.database}` });
    await storage.client.command({
      query: `CREATE VIEW ${storage.database}.twice AS SELECT (SELECT rand64()) AS v UNION ALL SELECT (SELECT rand64()) AS v`,
    });
    for (let i = 0; i < 5; i++) {
      const got = await rows<{ v: string }>(storage, 'SELECT toString(v) AS v FROM $db.twice');
      assert.equal(got.length, 2);
      assert.equal(got[0]!.v, got[1]!.v);
    }
  });

  it('pushes a time filter on the view into both branches, down to the primary keys', async () => {
    const storage = await freshStorage();
    // Both branches hold data: the sealed hours before the frontier, the raw tail after it.
    const at = (iso: string) => Date.parse(iso);
    await storage.client.insert({
      table: `${storage.database}.llm_calls`,
      values: [toRow(call(at('2026-03-10T13:10:00Z'), '1'))],
      format: 'JSONEachRow',
    });
    await storage.client.command({
      query: `INSERT INTO ${storage.database}.spend_hourly_sealed (hour, team, calls, cost_usd, generation)
              VALUES ('2026-03-10 01:00:00', 'a', 1, 1, 1)`,
    });
    await storage.client.command({
      query: `INSERT INTO ${storage.database}.rollup_frontier (sealed_until, advanced_at)
              VALUES ('2026-03-10 12:00:00', now64(3) - INTERVAL 1 MINUTE)`,
    });
    const plan = (
      await rows<{ explain: string }>(
        storage,
        `EXPLAIN indexes = 1 SELECT sum(cost_usd) FROM $db.spend_hourly
         WHERE hour >= toDateTime('2026-03-10 00:00:00', 'UTC') AND hour < toDateTime('2026-03-11 00:00:00', 'UTC')`,
      )
    )
      .map((r) => r.explain)
      .join('\n');
    for (const table of ['spend_hourly_sealed', 'llm_calls']) {
      const read = plan.slice(plan.indexOf(`ReadFromMergeTree (${storage.database}.${table})`));
      const primary = read.slice(read.indexOf('PrimaryKey'));
      const condition = /Condition: (.*)/.exec(primary)?.[1] ?? '';
      assert.match(condition, /1773100800/, `${table}: the outer filter reaches the primary key:\n${plan}`);
    }
  });
});

/**
 * A part the engine cannot read, repaired while running (decision 0096), against the real engine:
 * which failures name a broken part, which parts' files hold less than the engine wrote, and the
 * repair itself — the broken merged part set aside, the parts it was merged from attached back, no
 * row lost or counted twice. Then the bounds: a part that cannot be repaired is tried 3 times, and
 * at most 10 repairs run in an hour. The same in a running collector under load: fault row 5
 * (faults/scenarios/broken-part.ts, in the fault suite's short run).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import type { Storage } from '../../collector/src/storage/client';
import {
  brokenPartIn,
  damagedParts,
  hoursToRebuild,
  repairBrokenPart,
} from '../../collector/src/storage/part-repair';
import { PartRepairs } from '../../collector/src/service/part-repairs';
import { freshStorage } from '../support/embedded-storage';

async function rows<T>(storage: Storage, query: string): Promise<T[]> {
  const rs = await storage.client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

async function failure(storage: Storage, query: string): Promise<unknown> {
  try {
    await rows(storage, query);
  } catch (err) {
    return err;
  }
  assert.fail(`${query} did not fail`);
}

/** Empties a part's data and marks files, as the full disk left one. */
function empty(partPath: string): void {
  for (const file of readdirSync(partPath))
    if (/\.(bin|c?mrk\d*)$/.test(file) && statSync(path.join(partPath, file)).size > 0)
      truncateSync(path.join(partPath, file), 0);
}

describe('a part the engine cannot read', () => {
  let storage: Storage;
  let db: string;
  const keepDir = path.join(process.env.TMPDIR ?? '/tmp', `tl-unreadable-${process.pid}`);

  before(async () => {
    storage = await freshStorage();
    db = storage.database;
  });
  after(async () => {
    await storage.close();
    rmSync(keepDir, { recursive: true, force: true });
  });

  it('is kept with the parts it was merged from for 8 minutes (migration: chdb removes them at once)', async () => {
    const [create] = await rows<{ statement: string }>(storage, `SHOW CREATE TABLE ${db}.llm_calls`);
    assert.match(create!.statement, /old_parts_lifetime = 480/);
  });

  async function mergedTable(table: string, inserts: number): Promise<{ name: string; path: string }> {
    await storage.client.command({
      query: `CREATE TABLE ${db}.${table} (k UInt64, s String, usd Decimal(18, 9))
              ENGINE = ReplacingMergeTree ORDER BY k PARTITION BY intDiv(k, 1000000)
              SETTINGS old_parts_lifetime = 480`,
    });
    for (let i = 0; i < inserts; i++)
      await storage.client.command({
        query: `INSERT INTO ${db}.${table} SELECT number + ${i * 1000}, toString(number), number / 7 FROM numbers(1000)`,
      });
    await storage.client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
    const [part] = await rows<{ name: string; path: string }>(
      storage,
      `SELECT name, path FROM system.parts WHERE database = '${db}' AND table = '${table}' AND active`,
    );
    return part!;
  }

  it('is named by the failed read, found by its files, and repaired from its sources: nothing lost', async () => {
    const part = await mergedTable('merged', 4);
    const truth = await rows<{ n: string; usd: string }>(
      storage,
      `SELECT toString(count()) AS n, toString(sum(usd)) AS usd FROM ${db}.merged`,
    );
    const seen = new Set<string>();
    assert.deepEqual(await damagedParts(storage, seen), [], 'whole parts are not damaged');
    assert.ok(seen.has(`merged/${part.name}`));

    empty(part.path);
    const err = await failure(storage, `SELECT sum(usd) FROM ${db}.merged`);
    assert.deepEqual(
      { ...brokenPartIn(err, db), message: undefined },
      { table: 'merged', part: part.name, message: undefined },
    );
    assert.match(brokenPartIn(err, db)!.message, /marks file|Cannot read all data/i);
    assert.equal(brokenPartIn(err, 'another_database'), undefined, 'only parts of our own database');
    // Files are looked at once per part: a part found whole is not looked at again.
    assert.deepEqual(await damagedParts(storage, seen), []);
    const [found] = await damagedParts(storage, new Set());
    assert.equal(found?.part, part.name);
    assert.match(
      found!.message,
      /its files hold \d+ of the \d+ bytes written; CHECK TABLE: Unexpected size of file data\.(bin|cmrk\d)/,
    );

    const repair = await repairBrokenPart(storage, 'merged', part.name, keepDir);
    assert.equal(repair?.rows, 4000);
    assert.equal(repair.sources.length, 4);
    assert.deepEqual(repair.refusedSources, []);
    assert.ok(existsSync(path.join(repair.kept, 'count.txt')), 'the part is kept for inspection');
    assert.deepEqual(
      await rows(storage, `SELECT toString(count()) AS n, toString(sum(usd)) AS usd FROM ${db}.merged`),
      truth,
    );
    assert.deepEqual(
      await rows(storage, `SELECT name FROM system.detached_parts WHERE database = '${db}'`),
      [],
    );
    assert.equal(await repairBrokenPart(storage, 'merged', part.name, keepDir), undefined, 'once');
  });

  it('an inserted part has no sources: set aside, its rows left to the journal', async () => {
    await storage.client.command({
      query: `CREATE TABLE ${db}.inserted (k UInt64) ENGINE = MergeTree ORDER BY k`,
    });
    await storage.client.command({ query: `INSERT INTO ${db}.inserted SELECT number FROM numbers(10)` });
    const [part] = await rows<{ name: string; path: string }>(
      storage,
      `SELECT name, path FROM system.parts WHERE database = '${db}' AND table = 'inserted' AND active`,
    );
    empty(part!.path);
    const repair = await repairBrokenPart(storage, 'inserted', part!.name, keepDir);
    assert.deepEqual(repair?.sources, []);
    assert.deepEqual(await rows(storage, `SELECT count() AS n FROM ${db}.inserted`), [{ n: 0 }]);
  });

  it('leaves to rebuild only the hours holding calls unless calls may be gone with the part', () => {
    const source = [{ part: '202612_1_1_0', rows: 10 }];
    // A rollup's part: the calls are all there, its rows are recomputed from them.
    assert.equal(
      hoursToRebuild({ table: 'team_customers_hourly_sealed', sources: [], refusedSources: [] }),
      'calls',
    );
    // A calls part back from all its sources: every call is there again.
    assert.equal(hoursToRebuild({ table: 'llm_calls', sources: source, refusedSources: [] }), 'calls');
    // Without its sources, or with one refused: hours may have lost calls, the whole month.
    assert.equal(hoursToRebuild({ table: 'llm_calls', sources: [], refusedSources: [] }), 'month');
    assert.equal(
      hoursToRebuild({ table: 'llm_calls', sources: source, refusedSources: ['202612_2_2_0'] }),
      'month',
    );
  });

  it('other failures name no broken part', async () => {
    assert.equal(brokenPartIn(await failure(storage, `SELECT nonsense FROM ${db}.llm_calls`), db), undefined);
    assert.equal(brokenPartIn(await failure(storage, `SELECT throwIf(1, 'x')`), db), undefined);
    // A damaged-data code without the engine's context naming a part being read (e.g. bad input).
    const bare = Object.assign(new Error('Cannot parse input: expected ...'), { type: 'CORRUPTED_DATA' });
    assert.equal(brokenPartIn(bare, db), undefined);
  });
});

describe('runtime part repairs are bounded', () => {
  const db = 'tokenledger';
  const readFailure = (part: string): Error =>
    Object.assign(
      new Error(
        `Empty marks file '/d/store/abc/${part}/data.cmrk4': 0, must be: 72: (while reading from part /d/store/abc/${part}/ in table ${db}.llm_calls (abc) located on disk default of type local, from mark 0)`,
      ),
      { type: 'CORRUPTED_DATA' },
    );
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('a part that cannot be repaired is tried 3 times, backed off, then /healthz says so', async () => {
    let clock = 0;
    let calls = 0;
    const lines: string[] = [];
    const repairs = new PartRepairs({
      storage: { database: db } as Storage,
      keepDir: '/nowhere',
      afterRepair: async () => undefined,
      log: (l) => lines.push(l),
      now: () => clock,
      repair: async () => {
        calls++;
        throw new Error('the disk is still full');
      },
    });
    repairs.notice(readFailure('202612_1_5_2'));
    await settle();
    assert.equal(calls, 1);
    repairs.notice(readFailure('202612_1_5_2')); // the next failing read, at once: not tried again yet
    await settle();
    assert.equal(calls, 1);
    clock += 30_000;
    repairs.notice(readFailure('202612_1_5_2'));
    await settle();
    assert.equal(calls, 2);
    clock += 60_000;
    repairs.notice(readFailure('202612_1_5_2'));
    await settle();
    assert.equal(calls, 2, '2 minutes after the second');
    clock += 60_000;
    repairs.notice(readFailure('202612_1_5_2'));
    await settle();
    assert.equal(calls, 3);
    clock += 3_600_000;
    repairs.notice(readFailure('202612_1_5_2'));
    await settle();
    assert.equal(calls, 3, 'given up');
    assert.match(
      repairs.problems[0]!,
      /unreadable part llm_calls\/202612_1_5_2 not repaired \(3 attempts failed.*run tokenledger repair/,
    );
    assert.match(lines.at(-1)!, /failed 3 times, given up/);
    await repairs.stop();
  });

  it('at most 10 repairs an hour, whatever the parts; /healthz degraded while one runs', async () => {
    let clock = 0;
    let calls = 0;
    let release: () => void = () => undefined;
    const repairs = new PartRepairs({
      storage: { database: db } as Storage,
      keepDir: '/nowhere',
      afterRepair: async () => undefined,
      log: () => undefined,
      now: () => clock,
      repair: async (_s, table, part) => {
        calls++;
        await new Promise<void>((r) => (release = r));
        return { table, part, rows: 1, partition: '202612', kept: '/k', sources: [], refusedSources: [] };
      },
    });
    repairs.notice(readFailure('202612_1_1_0'));
    await settle();
    assert.match(
      repairs.problems[0]!,
      /^repairing unreadable part llm_calls\/202612_1_1_0: Empty marks file/,
    );
    release();
    await settle();
    assert.deepEqual(repairs.problems, []);
    for (let i = 2; i <= 12; i++) {
      clock += 60_000;
      repairs.notice(readFailure(`202612_${i}_${i}_0`));
      await settle();
      release();
      await settle();
    }
    assert.equal(calls, 10);
    assert.equal(repairs.stats.repaired, 10);
    assert.match(
      repairs.problems.join('\n'),
      /202612_11_11_0 not repaired \(10 repairs within an hour already\)/,
    );
    await repairs.stop();
  });
});

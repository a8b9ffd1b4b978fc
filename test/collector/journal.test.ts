import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PricedCall } from '../../collector/src/core/call';
import { Pricer } from '../../collector/src/pricing/pricer';
import type { Storage } from '../../collector/src/storage/client';
import { IngestJournal, journaledRows } from '../../collector/src/storage/journal';
import {
  CALL_COLUMNS,
  dateTime64ToNanos,
  fromCompactRow,
  nanosToDateTime64,
  toCompactRow,
  toRowLine,
} from '../../collector/src/storage/rows';
import { CallWriter } from '../../collector/src/storage/writer';
import { extractedCall, nanos } from '../support/calls';
import { freshStorage, seeingQueries } from '../support/embedded-storage';
import { tempDir } from '../support/temp-dirs';

const pricer = new Pricer();

function call(i: number, over: Partial<PricedCall> = {}): PricedCall {
  return {
    ...pricer.price(
      extractedCall(
        {
          traceId: (i + 1).toString(16).padStart(32, 'c'),
          spanId: (i + 1).toString(16).padStart(16, '0'),
          startTimeUnixNano: nanos('2026-11-15T12:34:56Z', BigInt(i) * 1_000_123n),
          requestModel: 'gpt-4o',
          responseModel: 'gpt-4o-2024-08-06',
          inputTokens: 1200 + i,
          outputTokens: 300,
          streaming: i % 2 === 0,
        },
        { team: 'search', feature: 'summarizer "quoted"\n\ttext', customer: 'acme', endUser: 'u-1' },
      ),
    ),
    ...over,
  };
}

async function storedCount(storage: Storage): Promise<number> {
  const rs = await storage.client.query({
    query: `SELECT count() AS n FROM ${storage.database}.llm_calls FINAL`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: string }>();
  return Number(row!.n);
}

describe('journal rows (decision 0100)', () => {
  it('reads a stored row back as the call that writes the same row', () => {
    const plain = call(1);
    const full = call(2, {
      askedModel: 'gpt-4.1',
      serviceVersion: '1.2.3',
      serviceTier: 'flex',
      ingestKey: 'key-1',
      claimedAttribution: '{"team":"x"}',
      ingestKeyScope: 'team=search',
      truncated: true,
      errorType: 'timeout',
    });
    for (const c of [plain, full]) {
      const row = toCompactRow(c);
      assert.deepEqual(toCompactRow(fromCompactRow(JSON.parse(toRowLine(c)) as Array<string | number>)), row);
    }
    assert.equal(fromCompactRow(toCompactRow(full)).costUsd, full.costUsd);
  });

  it('reads rows journaled with other columns (before an upgrade) by name', () => {
    const c = call(3, { serviceVersion: '2.0.0', serviceTier: 'priority' });
    const row = toCompactRow(c);
    // A collector from before the service_tier column journaled the same call without it.
    const older = CALL_COLUMNS.filter((k) => k !== 'service_tier');
    const olderRow = row.filter((_, i) => CALL_COLUMNS[i] !== 'service_tier');
    const text = `${JSON.stringify({ columns: older })}\n${JSON.stringify(olderRow)}\n`;
    const [journaled, ...rest] = journaledRows(Buffer.from(text));
    assert.deepEqual(rest, []);
    const back = journaled!.call();
    assert.equal(back.serviceTier, undefined);
    assert.equal(back.serviceVersion, '2.0.0');
    assert.equal(back.costUsd, c.costUsd);
    assert.deepEqual(toCompactRow(back), toCompactRow({ ...c, serviceTier: undefined }));
    assert.throws(() => fromCompactRow(olderRow), /a stored row has 42 values, not 43/);
  });

  it('turns the stored start time back into the exact nanoseconds', () => {
    for (const ns of ['0', '999999999', '1000000000', '999999999999999999', '1763210096123456789']) {
      assert.equal(dateTime64ToNanos(nanosToDateTime64(ns)), ns);
    }
    for (let i = 0; i < 2000; i++) {
      const ns = (BigInt(Math.floor(Math.random() * 4e9)) * 1_000_000_000n + BigInt(i * 499_999)).toString();
      assert.equal(dateTime64ToNanos(nanosToDateTime64(ns)), ns);
    }
    assert.throws(() => dateTime64ToNanos('2026-11-15'), /not a stored start time/);
  });
});

describe('journal of acknowledged calls (embedded ClickHouse)', () => {
  let storage: Storage;
  let dir: string;
  let journal: IngestJournal;
  let writer: CallWriter;
  const log: string[] = [];

  beforeEach(async () => {
    storage = await freshStorage();
    dir = tempDir('tl-journal-');
    journal = new IngestJournal({
      dir,
      storage,
      restore: (calls) => writer.write(calls),
      log: (line) => log.push(line),
      limitBytes: 16 * 1024 * 1024,
    });
    writer = new CallWriter(storage, { journal });
    await journal.init();
  });

  /** A journal over the same directory, as the next process opens it. */
  async function restartedJournal(): Promise<IngestJournal> {
    const next = new IngestJournal({
      dir,
      storage,
      restore: (c) => writer.write(c),
      log: (line) => log.push(line),
    });
    await next.init();
    return next;
  }

  /**
   * A journal of its own over `dir` (a segment closes at each check) reading through `recorded`, and
   * a writer journaling into it.
   */
  function ownJournal(recorded: Storage, dir: string): { own: IngestJournal; ownWriter: CallWriter } {
    const own: IngestJournal = new IngestJournal({
      dir,
      storage: recorded,
      restore: (c) => ownWriter.write(c),
      log: (line) => log.push(line),
      limitBytes: 16 * 1024 * 1024,
      segmentMs: 0,
    });
    const ownWriter = new CallWriter(storage, { journal: own });
    return { own, ownWriter };
  }

  afterEach(async () => {
    await journal.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('journals the rows the insert sent, and restores exactly those rows when they are lost', async () => {
    const calls = Array.from({ length: 30 }, (_, i) => call(i));
    await writer.write(calls.slice(0, 20));
    await writer.write([...calls.slice(10, 30)]); // ten of them a retry: journaled again, stored once
    await journal.stop(); // closes the open segment
    const [file, ...more] = readdirSync(dir);
    assert.deepEqual(more, []);
    assert.match(file!, /\.rows$/);
    const [header, ...lines] = readFileSync(path.join(dir, file!), 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(JSON.parse(header!), { columns: [...CALL_COLUMNS] });
    assert.equal(lines.length, 40);
    assert.deepEqual(
      lines.slice(0, 20),
      calls.slice(0, 20).map((c) => toRowLine(c).trimEnd()),
    );

    const before = await storage.client.query({
      query: `SELECT * EXCEPT (inserted_at) FROM ${storage.database}.llm_calls ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    const rowsBefore = await before.json();
    await storage.client.command({ query: `TRUNCATE TABLE ${storage.database}.llm_calls` });
    // A crash mid-append leaves a cut last line: never acknowledged, left out.
    writeFileSync(path.join(dir, file!), [header, ...lines].join('\n') + '\n' + lines[0]!.slice(0, 60), {
      flag: 'w',
    });

    const restarted = await restartedJournal();
    await restarted.check(); // restores the 30 calls
    assert.equal(restarted.stats.restoredCalls, 30);
    await restarted.check(); // all read back: the segment goes (the restored rows are journaled anew)
    assert.ok(!readdirSync(dir).includes(file!));
    const after = await storage.client.query({
      query: `SELECT * EXCEPT (inserted_at) FROM ${storage.database}.llm_calls ORDER BY span_id`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await after.json(), rowsBefore);
  });

  it('reads a group back from the parts written since its insert began, a retried row over all parts (decision 0106)', async () => {
    // Merges stopped: a part holding the first group stays as it is (a merge would carry its rows
    // into a new part, where the bounded read finds them too).
    await storage.client.command({ query: `SYSTEM STOP MERGES ${storage.database}.llm_calls` });
    const readBacks: Array<{ parts: string[] | undefined; keys: number }> = [];
    const recorded = seeingQueries(storage, (params) => {
      if (params.query.includes('NOT ignore(*)'))
        readBacks.push({
          parts: params.query_params?.parts as string[] | undefined,
          keys: (params.query_params?.traces as unknown[]).length,
        });
    });
    const bounded = tempDir('tl-journal-');
    const { own, ownWriter } = ownJournal(recorded, bounded);
    try {
      await own.init();
      await own.check(); // the highest block before the first group
      const first = Array.from({ length: 20 }, (_, i) => call(200 + i));
      await ownWriter.write(first);
      await own.check();
      assert.equal(own.stats.segments, 0);
      assert.equal(readBacks.length, 1);
      assert.equal(readBacks[0]!.keys, 20);
      assert.ok(readBacks[0]!.parts!.length > 0);
      const partsOfFirst = (
        await (
          await storage.client.query({
            query: `SELECT name FROM system.parts WHERE database = {db:String} AND table = 'llm_calls' AND active`,
            query_params: { db: storage.database },
            format: 'JSONEachRow',
          })
        ).json<{ name: string }>()
      ).map((p) => p.name);

      // A second group, with five calls of the first sent again (a retry: found stored, journaled again).
      readBacks.length = 0;
      const second = Array.from({ length: 20 }, (_, i) => call(300 + i));
      assert.deepEqual(await ownWriter.write([...second, ...first.slice(0, 5)]), {
        inserted: 20,
        duplicates: 5,
      });
      await own.check();
      assert.equal(own.stats.segments, 0);
      assert.equal(own.stats.restoredCalls, 0);
      assert.equal(readBacks.length, 2, JSON.stringify(readBacks));
      // Its 25 keys in the parts written since: none of the first group's parts is read.
      assert.equal(readBacks[0]!.keys, 25);
      assert.ok(readBacks[0]!.parts!.length > 0);
      assert.deepEqual(
        readBacks[0]!.parts!.filter((p) => partsOfFirst.includes(p)),
        [],
      );
      // The five stored before are not there: read over all parts (no part bound), found.
      assert.deepEqual(readBacks[1], { parts: undefined, keys: 5 });

      // Rows of a bounded segment lost from the table are still written again.
      const third = Array.from({ length: 10 }, (_, i) => call(400 + i));
      await ownWriter.write(third);
      await storage.client.command({ query: `TRUNCATE TABLE ${storage.database}.llm_calls` });
      await own.check();
      assert.equal(own.stats.restoredCalls, 10);
      await own.check();
      assert.equal(own.stats.segments, 0);
      assert.equal(await storedCount(storage), 10);
    } finally {
      await own.stop();
      await storage.client.command({ query: `SYSTEM START MERGES ${storage.database}.llm_calls` });
      rmSync(bounded, { recursive: true, force: true });
    }
  });

  it('reads the segments a check fell behind on back in one pass, keys sorted, and restores the missing ones (decision 0124)', async () => {
    let failing = false;
    const readBacks: Array<{ parts: string[] | undefined; traceIds: string[] }> = [];
    const recorded = seeingQueries(storage, (params) => {
      if (!params.query.includes('NOT ignore(*)')) return;
      if (failing) throw new Error('the engine fails reads (test)');
      readBacks.push({
        parts: params.query_params?.parts as string[] | undefined,
        traceIds: params.query_params?.traces as string[],
      });
    });
    const behind = tempDir('tl-journal-');
    const { own, ownWriter } = ownJournal(recorded, behind);
    try {
      await own.init();
      await own.check(); // the highest block before the first group
      // Four groups, each closed into a segment of its own by a check that cannot read back.
      failing = true;
      const groups = [0, 1, 2, 3].map((g) => Array.from({ length: 20 }, (_, j) => call(500 + g + 4 * j)));
      for (const group of groups) {
        await ownWriter.write(group);
        await assert.rejects(own.check(), /reading acknowledged calls back/);
      }
      assert.equal(own.stats.segments, 4);
      // Calls of two of the segments lost from the table meanwhile.
      const lost = [...groups[1]!.slice(0, 3), ...groups[3]!.slice(5, 7)];
      await storage.client.command({
        query: `ALTER TABLE ${storage.database}.llm_calls DELETE WHERE span_id IN {ids:Array(String)}`,
        query_params: { ids: lost.map((c) => c.spanId) },
        clickhouse_settings: { mutations_sync: '2' },
      });
      assert.equal(await storedCount(storage), 75);

      failing = false;
      await own.check();
      // One read-back query for the four segments' 80 keys, in key order, over the parts written
      // since; then the five not found there, over all parts, before they count as missing.
      assert.equal(readBacks.length, 2, JSON.stringify(readBacks.map((r) => r.traceIds.length)));
      const [pass, overAll] = readBacks;
      assert.equal(pass!.traceIds.length, 80);
      assert.deepEqual(pass!.traceIds, [...pass!.traceIds].sort());
      assert.ok(pass!.parts!.length > 0);
      assert.deepEqual(overAll, { parts: undefined, traceIds: lost.map((c) => c.traceId).sort() });
      assert.equal(own.stats.restoredCalls, lost.length);
      assert.equal(own.stats.segments, 5); // the four kept until read back again, and the restore's own
      await own.check();
      assert.equal(own.stats.segments, 0);
      assert.equal(await storedCount(storage), 80);
    } finally {
      await own.stop();
      rmSync(behind, { recursive: true, force: true });
    }
  });

  it('still reads a segment of calls as JSON left by a collector from before the row format', async () => {
    const calls = [call(100), call(101)];
    writeFileSync(path.join(dir, '1700000000000-000001.jsonl'), JSON.stringify(calls) + '\n[{"cut');
    const restarted = await restartedJournal();
    await restarted.check();
    assert.equal(restarted.stats.restoredCalls, 2);
    await restarted.check();
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.jsonl')));
    assert.equal(await storedCount(storage), 2);
  });
});

/**
 * Writes priced calls to ClickHouse for at-least-once delivery without double counting.
 *
 * An OTLP exporter retries a batch it did not see acknowledged, so the same span can arrive twice.
 * Every exact reader reads llm_calls deduplicated (FINAL, or the rollup built from it), so a copy
 * stored twice is never counted twice; the writer still keeps copies rare:
 *  1. all writes in this process go through one queue, one group of batches at a time (no race
 *     between the lookup and the insert below; batches waiting together are written together);
 *  2. a batch is deduplicated by (trace_id, span_id), then the keys already stored are looked up
 *     — bounded to the batch's exact start-time range, so partitions and the primary key prune —
 *     and only new rows are inserted;
 *  3. llm_calls is a ReplacingMergeTree on the same key (raw rows converge even if two collector
 *     processes race), and each insert carries an insert_deduplication_token derived from its keys,
 *     so an identical block retried against the engine is dropped.
 * A call flagged `replacesStored` (a richer twin of a call stored earlier, carrying the stored row's
 * key; see ingest/extract/repeats) skips step 2: it is written over the stored row, which
 * ReplacingMergeTree and every FINAL read then replace.
 * Before inserting into an hour that has ended, the writer marks it dirty (storage/rollup): the
 * rollup's maintainer rebuilds such hours, whatever happens between the mark and the insert.
 * Exclusive writer (the embedded engine: libchdb lets only this process open the data): step 2's
 * lookup is skipped for a span that provably cannot be stored yet — its start time is later than
 * every span stored before this process opened the table (`max(start_time)` read at `init()`), it
 * is not among the keys this process inserted (the latest exactly, in memory; older ones in a Bloom
 * filter, whose "maybe" means a lookup), and it starts after every key the filter forgot when it
 * was cleared (decision 0107). A retry has the same key and start time as its original, so it is
 * found in memory or looked up; after a failed insert (which may have committed anyway) its spans
 * go to the filter, and so are looked up too. The lookup is then a few keys: the primary key prunes
 * it to a few granules however large the table is.
 * A batch is inserted one month (= partition) at a time: a batch with wild timestamps cannot hit
 * max_partitions_per_insert_block and be refused forever; and in blocks of at most 5,000 rows (4 MB),
 * which bounds the engine's memory for an insert whatever a single export holds. If a later month fails after an earlier
 * one was stored, the retry finds the stored rows in step 2.
 * `write` resolves only once the rows are inserted (and, with a journal, appended to it and fsynced),
 * so the HTTP layer acks after it.
 * Batches are validated upstream so that the engine can store every row; should it still refuse one
 * (a ClickHouse error, not an engine that is down), the group is written again batch by batch, so
 * that only the batch holding the row fails, not every batch that waited with it.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { AiHttpCall } from '../core/ai-http-call';
import { insertAiHttpCalls } from './ai-http-calls';
import type { PricedCall } from '../core/call';
import type { Storage } from './client';
import { StorageError, isOutOfSpace, isRefusedByEngine } from './errors';
import { KeyFilter } from './key-filter';
import { RecentKeys } from './recent-keys';
import { DirtyHours } from './rollup/dirty-hours';
import { hoursOf, type FrontierGate } from './rollup/frontier-gate';
import { spanKeysWhere } from './span-keys';
import { CALL_COLUMNS, toRowLine } from './rows';

export interface WriteResult {
  inserted: number;
  duplicates: number;
}

/** Keys per lookup query: query parameters travel in the URL on the HTTP interface (1 MiB max). */
const LOOKUP_CHUNK = 5_000;

const keyOf = (c: PricedCall): string => c.traceId + c.spanId;

/**
 * Tells each caller how many of *its* calls were new (`stored`: the keys inserted for them); a span
 * sent twice in one group counts for the first sender only.
 */
function settle(writes: PendingWrite[], stored: Set<string>, claimed = new Set<string>()): void {
  for (const p of writes) {
    let inserted = 0;
    for (const c of p.calls) {
      const key = keyOf(c);
      if (stored.has(key) && !claimed.has(key)) {
        claimed.add(key);
        inserted++;
      }
    }
    p.resolve({ inserted, duplicates: p.calls.length - inserted });
  }
}

/** UTC year*100+month of a span start (nanoseconds since the epoch, decimal string). */
function monthOf(startTimeUnixNano: string): number {
  // Milliseconds: the decimal string without its last six digits (the decoders give non-negative ones).
  const ms = startTimeUnixNano.length > 6 ? Number(startTimeUnixNano.slice(0, -6)) : 0;
  const d = new Date(ms);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

/**
 * Keys remembered by an exclusive writer (~100 B each).
 * @public (bench/ingest-sustained.mjs states the dedupe window from it)
 */
export const REMEMBERED_KEYS = 200_000;

/**
 * Keys evicted from the remembered ones that the Bloom filter holds before it is folded into the
 * start-time bound (2 bytes each: 8 MiB).
 * @public (bench/ingest-sustained.mjs states the dedupe window from it)
 */
export const FILTERED_KEYS = 4_000_000;

/** Largest group of calls written together (one lookup per month, and its inserts). */
const MAX_GROUP_CALLS = 20_000;

/**
 * Rows per insert and their text (UTF-16 code units, about its bytes): the engine parses an insert
 * as one block, and blocks of 20,000 rows (a group, or one export of tiny spans) took ~30 MB more of
 * its memory than 5,000 did.
 */
const MAX_INSERT_ROWS = 5_000;
const MAX_INSERT_BYTES = 4 * 1024 * 1024;

/** A call and its row, one line of JSONCompactEachRow text (encoded once: inserted, then journaled). */
interface Encoded {
  call: PricedCall;
  line: string;
}

/** `rows` in consecutive runs of at most MAX_INSERT_ROWS rows and MAX_INSERT_BYTES of text. */
function insertChunks(rows: Encoded[]): Encoded[][] {
  const chunks: Encoded[][] = [];
  let chunk: Encoded[] = [];
  let bytes = 0;
  for (const r of rows) {
    if (chunk.length > 0 && (chunk.length >= MAX_INSERT_ROWS || bytes + r.line.length > MAX_INSERT_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += r.line.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

interface PendingWrite {
  calls: PricedCall[];
  resolve: (result: WriteResult) => void;
  reject: (err: unknown) => void;
}

export interface CallWriterOptions {
  /** True when no other process writes these tables (embedded engine); enables the lookup shortcut. */
  exclusive?: boolean;
  /**
   * Where a group's rows go once inserted, before it is acknowledged (storage/journal): the
   * JSONCompactEachRow text of every call in the group, the lines the insert sent and those already
   * stored — and when (performance.now()) its first insert began.
   */
  journal?: { append(rows: string, insertedSince?: number): Promise<void> };
  /** The engine's own free-space guard for each insert (bytes; 0: none). */
  minFreeDiskBytes?: () => number;
  /** Exclusive mode: keys remembered exactly, and in the filter behind them (tests make them small). */
  rememberedKeys?: number;
  filteredKeys?: number;
  /** Shared with this process's rollup maintainer: inserts into ended hours wait out a frontier move over them. */
  frontierGate?: FrontierGate;
}

export class CallWriter {
  private pending: PendingWrite[] = [];
  /** The group being written now (still unflushed until its insert returns). */
  private writing: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  /** Exclusive mode: the latest keys this process inserted, with their start times. */
  private readonly remembered: RecentKeys;
  /** Exclusive mode: keys inserted (or maybe inserted) that `remembered` no longer holds. */
  private readonly forgotten: KeyFilter;
  /** Exclusive mode: no span with a start time above both bounds can be stored already. */
  private storedBefore: bigint | undefined;
  private evictedUpTo = -1n;
  private readonly dirtyHours: DirtyHours;

  constructor(
    private readonly storage: Storage,
    private readonly options: CallWriterOptions = {},
  ) {
    this.dirtyHours = new DirtyHours(storage);
    this.remembered = new RecentKeys(options.rememberedKeys ?? REMEMBERED_KEYS, (key, start) =>
      this.forget(key, start),
    );
    this.forgotten = new KeyFilter(options.filteredKeys ?? FILTERED_KEYS);
  }

  /** Exclusive mode: reads the latest start time stored before this process. */
  async init(): Promise<void> {
    if (!this.options.exclusive) return;
    const { client, database } = this.storage;
    try {
      const rs = await client.query({
        query: `SELECT toString(toUnixTimestamp64Nano(max(start_time))) AS max_ns FROM ${database}.llm_calls`,
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ max_ns: string }>();
      this.storedBefore = BigInt(row?.max_ns ?? '0');
    } catch (cause) {
      throw new StorageError('reading the latest stored span', { cause, detail: `${database}.llm_calls` });
    }
  }

  /**
   * Queues `calls`; resolves once they are stored. Batches that arrive while a write is running
   * are written together next (group commit): one lookup and one insert for all of them, which is
   * what lets ingest keep up — the engine's cost is mostly per insert, not per row.
   */
  write(calls: PricedCall[], aiHttpCalls: AiHttpCall[] = []): Promise<WriteResult> {
    const stored = new Promise<WriteResult>((resolve, reject) => {
      this.pending.push({ calls, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
    // Uninstrumented AI requests of the same export go to ai_http_calls once the calls are stored,
    // so the export is acknowledged only when both are durable.
    if (aiHttpCalls.length === 0) return stored;
    return stored.then(async (result) => {
      await insertAiHttpCalls(this.storage, aiHttpCalls);
      return result;
    });
  }

  /** Calls accepted but waiting for their turn to be written (backpressure reads it). */
  get queuedCalls(): number {
    let n = 0;
    for (const p of this.pending) n += p.calls.length;
    return n;
  }

  /**
   * Calls accepted but not yet stored (queued or being written): the budget engine counts them. A
   * span sent again (an exporter's retry of a batch whose ack it missed, frequent on a loaded
   * machine) counts once: a copy already waiting, or one this process already inserted (exclusive
   * writer), is left out — a budget must not read "exceeded" on a copy (decision 0088).
   */
  unflushedCalls(): PricedCall[] {
    const seen = new Set<string>();
    const calls: PricedCall[] = [];
    for (const p of [...this.writing, ...this.pending]) {
      for (const c of p.calls) {
        const key = keyOf(c);
        if (seen.has(key) || this.remembered.has(key)) continue;
        seen.add(key);
        calls.push(c);
      }
    }
    return calls;
  }

  /** Resolves when every write queued so far has finished. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group: PendingWrite[] = [];
        let size = 0;
        while (
          this.pending.length > 0 &&
          (group.length === 0 || size + this.pending[0]!.calls.length <= MAX_GROUP_CALLS)
        ) {
          const next = this.pending.shift()!;
          group.push(next);
          size += next.calls.length;
        }
        this.writing = group;
        const stored = new Set<string>();
        try {
          const calls = group.flatMap((p) => p.calls);
          const since = performance.now();
          const rows = await this.writeNow(calls, stored);
          await this.options.journal?.append(rows, since);
          settle(group, stored);
        } catch (err) {
          if (group.length === 1 || !isRefusedByEngine(err) || isOutOfSpace(err)) {
            for (const p of group) p.reject(err);
            continue;
          }
          // The engine refused a row: write each batch on its own, so that only the one holding
          // it fails (and is retried by its sender) instead of every batch that waited with it.
          const claimed = new Set<string>();
          for (const p of group) {
            try {
              const since = performance.now();
              const rows = await this.writeNow(p.calls, stored);
              await this.options.journal?.append(rows, since);
              settle([p], stored, claimed);
            } catch (own) {
              p.reject(own);
            }
          }
        }
      }
    } finally {
      this.writing = [];
      this.flushing = undefined;
    }
  }

  /**
   * Stores the calls not stored yet, adding the keys it inserts to `stored` as it goes; returns the
   * rows of all of them (each key once) as JSONCompactEachRow text, for the journal.
   */
  private async writeNow(calls: PricedCall[], stored: Set<string>): Promise<string> {
    const byMonth = new Map<number, Map<string, PricedCall>>();
    for (const c of calls) {
      const month = monthOf(c.startTimeUnixNano);
      let group = byMonth.get(month);
      if (!group) byMonth.set(month, (group = new Map()));
      group.set(keyOf(c), c);
    }
    // A frontier move over one of these hours waits for this insert, or this insert for its publication.
    const hours = hoursOf(calls.map((c) => c.startTimeUnixNano));
    const exit = await this.options.frontierGate?.enter(hours);
    try {
      return await this.writeMarked(stored, byMonth, hours);
    } finally {
      exit?.();
    }
  }

  private async writeMarked(
    stored: Set<string>,
    byMonth: Map<number, Map<string, PricedCall>>,
    hours: Set<number>,
  ): Promise<string> {
    // Every call's hour, stored or not: a retry of calls a crash cut off after their insert marks
    // their hours again (the maintainer then rebuilds them once more; harmless).
    const marked = await this.dirtyHours.beforeInsert(hours);
    let rows = '';
    for (const month of [...byMonth.keys()].sort((a, b) => a - b)) {
      const unique = [...byMonth.get(month)!.values()];
      const replacing = unique.filter((c) => c.replacesStored);
      const { fresh, retried, unsure } = this.splitByMemory(unique.filter((c) => !c.replacesStored));
      fresh.push(...replacing);
      const existing = unsure.length > 0 ? await this.existingKeys(unsure) : new Set<string>();
      for (const c of unsure)
        if (existing.has(keyOf(c))) retried.push(c);
        else fresh.push(c);
      // Already stored (a retry): journaled again all the same, as its first write may not have been.
      for (const c of retried) rows += toRowLine(c);
      if (fresh.length > 0) {
        const encoded = fresh.map((call) => ({ call, line: toRowLine(call) }));
        try {
          for (const chunk of insertChunks(encoded)) {
            const text = chunk.map((r) => r.line).join('');
            await this.insert(chunk, text);
            rows += text;
          }
        } catch (err) {
          // An insert may have committed before it failed (a lost answer), and earlier chunks did:
          // the retry must look these spans up, not take them for new (the token would differ).
          for (const c of fresh) this.forget(keyOf(c), BigInt(c.startTimeUnixNano));
          throw err;
        }
      }
      for (const c of fresh) {
        stored.add(keyOf(c));
        this.remember(c);
      }
    }
    await this.dirtyHours.afterInsert(marked);
    return rows;
  }

  /**
   * Exclusive mode: calls known new without a lookup, calls this process stored (`retried`), and the
   * rest (all of them otherwise).
   */
  private splitByMemory(calls: PricedCall[]): {
    fresh: PricedCall[];
    retried: PricedCall[];
    unsure: PricedCall[];
  } {
    if (this.storedBefore === undefined) return { fresh: [], retried: [], unsure: calls };
    const fresh: PricedCall[] = [];
    const retried: PricedCall[] = [];
    const unsure: PricedCall[] = [];
    for (const c of calls) {
      const key = keyOf(c);
      if (this.remembered.has(key)) {
        retried.push(c);
        continue;
      }
      const start = BigInt(c.startTimeUnixNano);
      if (start > this.storedBefore && start > this.evictedUpTo && !this.forgotten.mightHave(key))
        fresh.push(c);
      else unsure.push(c);
    }
    return { fresh, retried, unsure };
  }

  /** Exclusive mode: spans starting at or before `start` are looked up from now on. */
  private lookUpFrom(start: bigint): void {
    if (this.storedBefore !== undefined && start > this.evictedUpTo) this.evictedUpTo = start;
  }

  private remember(c: PricedCall): void {
    if (this.storedBefore === undefined) return;
    this.remembered.add(keyOf(c), BigInt(c.startTimeUnixNano));
  }

  /**
   * Exclusive mode: a key that may be stored is no longer remembered exactly; it goes to the filter,
   * and a full filter into the start-time bound (every key it held starts at or before its latest).
   */
  private forget(key: string, start: bigint): void {
    if (this.storedBefore === undefined) return;
    this.forgotten.add(key, start);
    if (!this.forgotten.full) return;
    this.lookUpFrom(this.forgotten.latestStart);
    this.forgotten.clear();
  }

  private async existingKeys(calls: PricedCall[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < calls.length; i += LOOKUP_CHUNK) {
      const chunk = calls.slice(i, i + LOOKUP_CHUNK);
      for (const k of await this.lookup(chunk)) found.add(k);
    }
    return found;
  }

  private async lookup(calls: PricedCall[]): Promise<string[]> {
    const { client, database } = this.storage;
    const { where, params } = spanKeysWhere(calls);
    try {
      const rs = await client.query({
        query: `SELECT trace_id, span_id FROM ${database}.llm_calls WHERE ${where}`,
        query_params: params,
        format: 'JSONEachRow',
      });
      return (await rs.json<{ trace_id: string; span_id: string }>()).map((r) => r.trace_id + r.span_id);
    } catch (cause) {
      throw new StorageError('looking up already stored spans', {
        cause,
        detail: `${database}.llm_calls, ${calls.length} keys`,
      });
    }
  }

  /** Inserts `rows`, whose JSONCompactEachRow text is `text` (their lines joined). */
  private async insert(rows: Encoded[], text: string): Promise<void> {
    const { client, database } = this.storage;
    const hash = createHash('sha256');
    for (const k of rows.map((r) => keyOf(r.call)).sort()) hash.update(k);
    // A replacement has the key of the row it replaces: its content goes into the token, or the
    // engine would take it for a retry of that row's block.
    for (const r of rows) if (r.call.replacesStored) hash.update(r.line.slice(0, -1));
    // Settings go in the statement, not in clickhouse_settings: chdb 3.4 applies clickhouse_settings
    // as session-wide SETs that outlive the query (a stale token would then silently drop the next
    // unrelated insert into a table with a deduplication window). The token is our own hex digest.
    const reserve = Math.floor(this.options.minFreeDiskBytes?.() ?? 0);
    const settings =
      `insert_deduplication_token = '${hash.digest('hex')}'` +
      (reserve > 0 ? `, min_free_disk_bytes_to_perform_insert = ${reserve}` : '');
    try {
      // The text as it is (client.insert would encode the rows again): the statement, then the rows.
      const { stream } = await client.exec({
        query: `INSERT INTO ${database}.llm_calls (${CALL_COLUMNS.join(', ')}) SETTINGS ${settings} FORMAT JSONCompactEachRow`,
        values: Readable.from([text], { objectMode: false }),
      });
      for await (const chunk of stream) void chunk; // an insert answers nothing; read to the end
    } catch (cause) {
      throw new StorageError('inserting calls', {
        cause,
        detail: `${database}.llm_calls, ${rows.length} rows`,
      });
    }
  }
}

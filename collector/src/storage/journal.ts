/**
 * The journal of acknowledged batches: before a batch of spans is acknowledged, its calls (already
 * inserted) are appended to a file in `<data dir>/journal` and fsynced: the rows as the insert sent
 * them, one JSONCompactEachRow line each (`.rows` segments; decision 0100), so journaling adds no
 * encoding of its own, and reading a segment back parses a row only if it is missing. A segment is deleted only
 * once every call in it has been read back from `llm_calls`, all columns (a part whose files were
 * emptied, as a full disk once left, fails that read); a call missing then is written again. So what
 * was acknowledged survives an engine that committed a broken part: at start, and whenever a segment
 * is checked, the journal restores it (through the writer: a call stored twice is read once).
 *
 * Bounded: segments close after 4 MiB or 5 s and are checked every 2 s; if checking cannot keep up
 * (the engine fails reads) and the journal reaches its limit, new spans are refused (503) rather
 * than acknowledged without it.
 *
 * Flat in the table's size (decision 0106): a segment's rows are read back from the parts written
 * while it was open — those holding a block above the table's highest measured before its first
 * insert began, and one at most the highest measured after it closed — not from every part their
 * start times fall in (span ids are random:
 * a key lookup cannot prune, and reading every column of the whole table each check made ingest
 * slow down as the table grew). A key not found there (a retry's row, stored long before; a merge
 * that replaced a part between the listing and the read) is read over the whole table as before.
 *
 * One pass when behind (decision 0124): the closed segments waiting, up to 64 MiB of them, are read
 * back together (their keys only), sorted by (trace id, span id). Each query's keys are then a narrow
 * slice of the trace ids, which the primary key (hour, trace_id, span_id) prunes to its own granules,
 * so a pass reads the parts written meanwhile about once — where one segment at a time read every
 * granule of its hour once per segment, and a check that had fallen behind (merges folding the
 * segments' parts together) fell further behind until the journal's limit refused spans. A query
 * asks for its keys' trace ids (a set of strings, half the engine's cost of a set of tuples) and
 * the pairs are matched here.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, readFile, statfs, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PricedCall } from '../core/call';
import type { Storage } from './client';
import { StorageError } from './errors';
import { CALL_COLUMNS, dateTime64ToNanos, fromCompactRow } from './rows';
import { spanTracesWhere, type SpanKey } from './span-keys';
import { queryRows } from './statements';

const SEGMENT_BYTES = 4 * 1024 * 1024;
const SEGMENT_MS = 5_000;
const CHECK_EVERY_MS = 2_000;
/** Keys per read-back query (query parameters travel in the URL on a server). */
const CHUNK = 5_000;
const MiB = 1024 * 1024;
/** Closed segments read back in one pass, at most (bytes; a segment alone may be larger). */
const PASS_BYTES = 64 * MiB;

interface Segment {
  file: string;
  bytes: number;
  /**
   * Every row inserted for this segment is in a part whose highest block number is above this
   * (undefined: not known, e.g. a segment a previous process left; its rows are read over all parts).
   */
  afterBlock?: bigint;
  /** When (performance.now()) it was closed: no row is appended to it after that. */
  closedAt?: number;
}

/**
 * The table's highest block number, and when (monotonic ms) the query that read it began and had
 * answered.
 */
interface BlockMark {
  startedAt: number;
  at: number;
  highest: bigint;
}

/** Segments of rows (this format), and of calls as JSON (one array per group; before decision 0100). */
const ROWS = '.rows';
const CALLS_JSON = '.jsonl';

/** A journaled call: its key, and the call itself when it has to be written again. */
export interface Journaled extends SpanKey {
  call: () => PricedCall;
}

/**
 * A segment of rows starts with the columns its rows hold, so rows journaled before an upgrade that
 * added a column are still read by name after it (an acknowledged call is never dropped as unreadable).
 */
const COLUMNS_HEADER = `${JSON.stringify({ columns: CALL_COLUMNS })}\n`;

/** The key at the start of a row line: `["<trace id>","<span id>","<start time>",`. */
const ROW_KEY = /^\["([0-9a-f]{32})","([0-9a-f]{16})","(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9})",/;

/** Characters of a row line that hold its key: `["`, 32, `","`, 16, `","`, 29, `",`. */
const KEY_CHARS = 87;
const NEWLINE = 0x0a;
const COLUMNS_PREFIX = '{"columns":';

/**
 * The calls of a segment of rows; a line cut by a crash mid-write (no newline yet) is left out. The
 * keys are copied out of the segment's bytes (a key kept does not keep the segment); a call is parsed
 * from its line only when asked for.
 * @public (bench/ingest-stages.mjs times it)
 */
export function journaledRows(bytes: Buffer): Journaled[] {
  const out: Journaled[] = [];
  let start = 0;
  let columns: ReadonlyArray<string> = CALL_COLUMNS;
  if (bytes.toString('latin1', 0, COLUMNS_PREFIX.length) === COLUMNS_PREFIX) {
    const end = bytes.indexOf(NEWLINE);
    if (end === -1) return out; // cut while the segment was opened: no row was acknowledged
    const header = JSON.parse(bytes.toString('utf8', 0, end)) as { columns: string[] };
    if (header.columns.join() !== CALL_COLUMNS.join()) columns = header.columns;
    start = end + 1;
  }
  const parse = (from: number, to: number): PricedCall =>
    fromCompactRow(JSON.parse(bytes.toString('utf8', from, to)) as Array<string | number>, columns);
  for (
    let end = bytes.indexOf(NEWLINE, start);
    end !== -1;
    start = end + 1, end = bytes.indexOf(NEWLINE, start)
  ) {
    const key = ROW_KEY.exec(bytes.toString('latin1', start, Math.min(end, start + KEY_CHARS)));
    if (key !== null) {
      const [from, to] = [start, end];
      out.push({
        traceId: key[1]!,
        spanId: key[2]!,
        startTimeUnixNano: dateTime64ToNanos(key[3]!),
        call: () => parse(from, to),
      });
      continue;
    }
    // Not the shape toRowLine writes: parsed whole, or left out if it is not a row.
    try {
      const call = parse(start, end);
      out.push({ ...call, call: () => call });
    } catch {
      // never acknowledged: the ack follows the fsync of whole lines
    }
  }
  return out;
}

/** The calls of a segment written before decision 0100: one JSON array of calls per line. */
function callsOf(text: string): Journaled[] {
  const out: Journaled[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      for (const c of JSON.parse(line) as PricedCall[]) out.push({ ...c, call: () => c });
    } catch {
      // A line cut by a crash mid-write was never acknowledged (the ack follows the fsync).
    }
  }
  return out;
}

/**
 * The lower of two block bounds (of a segment's groups, of a pass's segments): every row of both is
 * in a part above it. Not known if either is not.
 */
const lowerBound = (a: bigint | undefined, b: bigint | undefined): bigint | undefined =>
  a === undefined || b === undefined ? undefined : a < b ? a : b;

export interface JournalStats {
  segments: number;
  bytes: number;
  limitBytes: number;
  /** Calls found missing from llm_calls and written again, since start. */
  restoredCalls: number;
  /** Why the last check failed (a read error: a broken part), if it did. */
  lastError: string | null;
}

export interface IngestJournalOptions {
  dir: string;
  storage: Storage;
  /** Writes calls again (the writer: looked up, marked, inserted, journaled). */
  restore: (calls: PricedCall[]) => Promise<unknown>;
  log: (line: string) => void;
  /** Default: 10 % of the data directory's disk, at least 16 MiB, at most 256 MiB. */
  limitBytes?: number;
  /** How long a segment stays open at most (default 5 s; tests close them at once). */
  segmentMs?: number;
  /** Closed segments read back in one pass, at most (bytes; default 64 MiB, 1: one at a time). */
  passBytes?: number;
}

export class IngestJournal {
  private open: { segment: Segment; handle: FileHandle; openedAt: number } | undefined;
  private closed: Segment[] = [];
  private sequence = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** Checks run one after the other (the timer's, a repair's): a segment is read back by one. */
  private checks: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private limit = 256 * MiB;
  /** The latest BlockMarks (one per check, ~30 s of them), oldest first. */
  private marks: BlockMark[] = [];
  private readonly figures = { restoredCalls: 0, lastError: null as string | null };

  constructor(private readonly options: IngestJournalOptions) {}

  /** Finds the segments a previous process left (all to be checked) and sets the limit. */
  async init(): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    this.closed = readdirSync(this.options.dir)
      .filter((f) => f.endsWith(ROWS) || f.endsWith(CALLS_JSON))
      .sort()
      .map((f) => ({
        file: path.join(this.options.dir, f),
        bytes: statSync(path.join(this.options.dir, f)).size,
      }));
    if (this.options.limitBytes !== undefined) this.limit = this.options.limitBytes;
    else {
      const s = await statfs(this.options.dir);
      this.limit = Math.min(256 * MiB, Math.max(16 * MiB, Math.floor(s.blocks * s.bsize * 0.1)));
    }
  }

  get stats(): JournalStats {
    const segments = [...this.closed, ...(this.open ? [this.open.segment] : [])];
    return {
      segments: segments.length,
      bytes: segments.reduce((n, s) => n + s.bytes, 0),
      limitBytes: this.limit,
      ...this.figures,
    };
  }

  /** True when acknowledging more would go beyond the limit: new spans are refused. */
  get full(): boolean {
    return this.stats.bytes >= this.limit;
  }

  start(): void {
    const tick = (): void => {
      if (this.checking) return;
      this.checking = this.check()
        .catch((err: unknown) => {
          const message = (err as Error).message;
          if (message !== this.figures.lastError) this.options.log(`journal: ${message}`);
          this.figures.lastError = message;
        })
        .finally(() => (this.checking = undefined));
    };
    this.timer = setInterval(tick, CHECK_EVERY_MS);
    this.timer.unref();
    tick();
  }

  /** No check starts after this; waits for the one in flight; closes the open segment. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.checking;
    await this.exclusive(() => this.rotate());
  }

  /**
   * Appends the rows of one acknowledged group (JSONCompactEachRow lines, as the writer inserted
   * them) and fsyncs; resolves once they are on disk. `insertedSince`: when (performance.now()) the
   * group's first insert began, which tells the read-back where its rows can be.
   */
  append(rows: string, insertedSince?: number): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const afterBlock = insertedSince === undefined ? undefined : this.highestBlockBefore(insertedSince);
    return this.exclusive(async () => {
      if (!this.open) {
        const file = path.join(
          this.options.dir,
          `${Date.now()}-${String(++this.sequence).padStart(6, '0')}${ROWS}`,
        );
        this.open = {
          segment: { file, bytes: 0, afterBlock },
          handle: await open(file, 'a', 0o600),
          openedAt: Date.now(),
        };
      } else {
        this.open.segment.afterBlock = lowerBound(this.open.segment.afterBlock, afterBlock);
      }
      const bytes = Buffer.from(this.open.segment.bytes === 0 ? COLUMNS_HEADER + rows : rows);
      try {
        await this.open.handle.write(bytes);
        await this.open.handle.datasync();
      } catch (cause) {
        // Part of the rows may be written: the next group goes to a new segment, not after a cut line.
        const { file } = this.open.segment;
        this.open.segment.bytes += bytes.length;
        await this.rotate().catch(() => undefined);
        throw new StorageError('journaling acknowledged calls', { cause, detail: file });
      }
      this.open.segment.bytes += bytes.length;
      if (this.open.segment.bytes >= SEGMENT_BYTES) await this.rotate();
    });
  }

  /**
   * Checks every closed segment (and the open one once it is old enough): reads its calls back from
   * llm_calls, writes the missing ones again, deletes the segment once all are there.
   */
  check(): Promise<void> {
    const next = this.checks.then(
      () => this.checkOnce(),
      () => this.checkOnce(),
    );
    this.checks = next.catch(() => undefined);
    return next;
  }

  private async checkOnce(): Promise<void> {
    await this.markHighestBlock();
    await this.exclusive(async () => {
      if (this.open && Date.now() - this.open.openedAt >= (this.options.segmentMs ?? SEGMENT_MS))
        await this.rotate();
    });
    // Stopping: what is left is checked at the next start.
    while (this.closed.length > 0 && !this.stopped) {
      const pass = this.nextPass();
      const last = pass[pass.length - 1]!;
      const missing = await this.missing(
        await this.keysOf(pass),
        pass.map((segment) => segment.afterBlock).reduce(lowerBound),
        await this.highestBlockAfter(last),
      );
      if (missing.length > 0) {
        await this.options.restore(await this.callsWithKeys(pass, missing));
        this.figures.restoredCalls += missing.length;
        this.options.log(
          `journal: ${missing.length} acknowledged calls were missing from llm_calls (a broken or lost part): written again`,
        );
        // Read back once more on the next check before the segments go.
        return;
      }
      for (const segment of pass) await unlink(segment.file);
      this.closed.splice(0, pass.length);
    }
    this.figures.lastError = null;
  }

  /**
   * The closed segments to read back together: the oldest, and those after it while they stay
   * within the pass's bytes and have a known block bound. A segment without one (left by an earlier
   * process) is read alone, over all parts.
   */
  private nextPass(): Segment[] {
    const [first, ...rest] = this.closed;
    const pass = [first!];
    if (first!.afterBlock === undefined) return pass;
    let bytes = first!.bytes;
    for (const segment of rest) {
      if (segment.afterBlock === undefined || bytes + segment.bytes > (this.options.passBytes ?? PASS_BYTES))
        break;
      bytes += segment.bytes;
      pass.push(segment);
    }
    return pass;
  }

  private async read(file: string): Promise<Journaled[]> {
    const bytes = await readFile(file);
    return file.endsWith(ROWS) ? journaledRows(bytes) : callsOf(bytes.toString('utf8'));
  }

  /** The keys of `segments` (the calls themselves are not kept: a pass may cover many segments). */
  private async keysOf(segments: Segment[]): Promise<SpanKey[]> {
    const keys: SpanKey[] = [];
    for (const { file } of segments)
      for (const { traceId, spanId, startTimeUnixNano } of await this.read(file))
        keys.push({ traceId, spanId, startTimeUnixNano });
    return keys;
  }

  /** The calls of `segments` with the given keys (read again: a restore is rare), each once. */
  private async callsWithKeys(segments: Segment[], keys: SpanKey[]): Promise<PricedCall[]> {
    const wanted = new Set(keys.map((k) => k.traceId + k.spanId));
    const calls: PricedCall[] = [];
    for (const { file } of segments)
      for (const journaled of await this.read(file))
        if (wanted.delete(journaled.traceId + journaled.spanId)) calls.push(journaled.call());
    return calls;
  }

  /**
   * The calls not readable from llm_calls: looked for in the parts holding blocks above `afterBlock`
   * and up to `upTo` first (when known; a check that falls behind then still reads about the
   * segment's own rows, not everything written since), then over all parts. Every column of the
   * rows is read (a broken part fails the query).
   */
  private async missing(
    calls: SpanKey[],
    afterBlock: bigint | undefined,
    upTo: bigint | undefined,
  ): Promise<SpanKey[]> {
    // Sorted by key: each query's keys are a narrow range of trace ids, which the primary key prunes.
    // (V8's own string sort of the joined keys, not a comparator: a pass holds ~60 k of them.)
    const byKey = new Map(calls.map((c) => [c.traceId + c.spanId, c]));
    let left = [...byKey.keys()].sort().map((k) => byKey.get(k)!);
    if (left.length === 0) return left;
    if (afterBlock !== undefined) {
      const parts = await this.partsBetween(afterBlock, upTo);
      if (parts.length > 0) left = await this.notFound(left, 'AND _part IN {parts:Array(String)}', { parts });
    }
    return left.length > 0 ? this.notFound(left, '', {}) : left;
  }

  /** Active parts of llm_calls holding a block above `after` (and, if given, one at most `upTo`). */
  private async partsBetween(after: bigint, upTo: bigint | undefined): Promise<string[]> {
    const { storage } = this.options;
    const rows = await queryRows<{ name: string }>(
      storage,
      'listing the parts written since',
      `SELECT name FROM system.parts
       WHERE database = {db:String} AND table = 'llm_calls' AND active AND max_block_number > {after:Int64}
         AND min_block_number <= {upTo:Int64}`,
      {
        db: storage.database,
        after: after.toString(),
        upTo: (upTo ?? 2n ** 63n - 1n).toString(),
      },
    );
    return rows.map((r) => r.name);
  }

  /**
   * A block number no row of the closed `segment` is above: a mark begun after it was closed (taken
   * now if none was). Undefined when not known.
   */
  private async highestBlockAfter(segment: Segment): Promise<bigint | undefined> {
    if (segment.afterBlock === undefined || segment.closedAt === undefined) return undefined;
    const after = (): BlockMark | undefined => this.marks.find((m) => m.startedAt > segment.closedAt!);
    if (!after()) await this.markHighestBlock();
    return after()?.highest;
  }

  /** Of `calls`, those not read from llm_calls under the extra condition `and`. */
  private async notFound(
    calls: SpanKey[],
    and: string,
    andParams: Record<string, unknown>,
  ): Promise<SpanKey[]> {
    const found = new Set<string>();
    const { client, database } = this.options.storage;
    for (let i = 0; i < calls.length; i += CHUNK) {
      // Their traces' rows; the pairs are matched here.
      const { where, params } = spanTracesWhere(calls.slice(i, i + CHUNK));
      try {
        const rs = await client.query({
          query: `SELECT trace_id, span_id FROM ${database}.llm_calls WHERE ${where} ${and} AND NOT ignore(*)`,
          query_params: { ...params, ...andParams },
          format: 'JSONEachRow',
        });
        for (const r of await rs.json<{ trace_id: string; span_id: string }>())
          found.add(r.trace_id + r.span_id);
      } catch (cause) {
        throw new StorageError('reading acknowledged calls back', {
          cause,
          detail: `${database}.llm_calls; run "tokenledger repair"`,
        });
      }
    }
    return calls.filter((c) => !found.has(c.traceId + c.spanId));
  }

  /**
   * Measures the table's highest block number (once per check). Not on a cluster: a replicated
   * table numbers blocks per partition, and its parts are on other servers.
   */
  private async markHighestBlock(): Promise<void> {
    const { storage } = this.options;
    if (storage.cluster) return;
    const startedAt = performance.now();
    try {
      const [row] = await queryRows<{ highest: string }>(
        storage,
        'reading the highest block number',
        `SELECT toString(max(max_block_number)) AS highest FROM system.parts
         WHERE database = {db:String} AND table = 'llm_calls'`,
        { db: storage.database },
      );
      this.marks.push({ startedAt, at: performance.now(), highest: BigInt(row?.highest ?? '0') });
      if (this.marks.length > 16) this.marks.shift();
    } catch {
      // Not known: segments opened meanwhile are read back over all parts, as they always could be.
    }
  }

  /**
   * The highest block number measured before `since` (performance.now()): every block of an insert
   * begun after the measurement is numbered above it. Undefined when none was measured before then.
   */
  private highestBlockBefore(since: number): bigint | undefined {
    for (let i = this.marks.length - 1; i >= 0; i--)
      if (this.marks[i]!.at < since) return this.marks[i]!.highest;
    return undefined;
  }

  private async rotate(): Promise<void> {
    const current = this.open;
    if (!current) return;
    this.open = undefined;
    await current.handle.close();
    current.segment.closedAt = performance.now();
    if (current.segment.bytes > 0) this.closed.push(current.segment);
    else await unlink(current.segment.file);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.lock.then(work, work);
    this.lock = next.catch(() => undefined);
    return next;
  }
}

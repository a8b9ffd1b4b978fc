/**
 * A part the embedded engine committed and cannot read (a full disk once left a merged part of
 * llm_calls with an empty marks file) is repaired while the collector runs (decision 0096): every
 * read of it fails, so the first failure that names it sets it aside — detached and moved to
 * `<data dir>/unreadable-parts` — and puts back the parts it was merged from, which the engine keeps
 * on disk for a while after a merge (outdated parts, `old_parts_lifetime`). What neither they nor
 * the journal of acknowledged batches hold is lost, and the log line says how many rows the part had.
 *
 * Found two ways: a read that fails naming the part, and a look at the files of every new active
 * part — a merged part's sources are kept only minutes (old_parts_lifetime), and nothing may read an
 * old part in that time. When and how often: service/part-repairs.ts.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Storage } from './client';
import { keepAside, partName } from './parts';
import { queryRows, runStatement } from './statements';

/**
 * ClickHouse's codes for a part whose files are damaged. Only with the engine's own context naming
 * the part being read (below): the same codes for bad input, memory or space never qualify.
 */
const BROKEN_PART_CODES = new Set([
  'ATTEMPT_TO_READ_AFTER_EOF', // 32: a file shorter than its marks say
  'CANNOT_READ_ALL_DATA', // 33
  'CHECKSUM_DOESNT_MATCH', // 40: a compressed block damaged
  'FILE_DOESNT_EXIST', // 107: "Marks file … doesn't exist"
  'NO_FILE_IN_DATA_PART', // 226
  'BAD_SIZE_OF_FILE_IN_DATA_PART', // 228
  'CORRUPTED_DATA', // 246: "Empty marks file …", a bad marks size
  'CANNOT_DECOMPRESS', // 271
]);

/** The engine's context on a failed read: `(while reading from part /…/<uuid>/<part>/ in table db.t (uuid) …`. */
const READING_PART = /while reading from part (\S+?)\/? in table `?([A-Za-z0-9_]+)`?\.`?([A-Za-z0-9_]+)`? /;

export interface BrokenPartRead {
  table: string;
  part: string;
  /** The engine's message, first line. */
  message: string;
}

/** The part of `database` that a failed read names as unreadable, if the error is one. */
export function brokenPartIn(err: unknown, database: string): BrokenPartRead | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const type = (e as { type?: unknown }).type;
    if (typeof type !== 'string' || !BROKEN_PART_CODES.has(type)) continue;
    const m = READING_PART.exec(e.message);
    if (!m || m[2] !== database) continue;
    const part = path.basename(m[1]!);
    if (!/^[A-Za-z0-9_-]+$/.test(part)) continue;
    // The engine's words without its context (the part is named apart).
    const message = e.message
      .slice(0, m.index)
      .replace(/[:\s(]+$/, '')
      .split('\n')[0]!;
    return { table: m[3]!, part, message };
  }
  return undefined;
}

/**
 * Active parts not yet looked at whose files on disk hold fewer bytes than the engine wrote (what it
 * keeps in memory, `bytes_on_disk`), or lack checksums.txt or count.txt (the full disk's broken part
 * had every file empty), and that then fail the engine's CHECK TABLE of the part. Embedded only (the
 * files are local). `seen` keeps the parts found whole.
 */
export async function damagedParts(storage: Storage, seen: Set<string>): Promise<BrokenPartRead[]> {
  const active = await queryRows<{ table: string; name: string; path: string; bytes: string }>(
    storage,
    'listing active parts',
    `SELECT table, name, path, toString(bytes_on_disk) AS bytes FROM system.parts
     WHERE database = {db:String} AND active`,
    { db: storage.database },
  );
  const now = new Set(active.map((p) => `${p.table}/${p.name}`));
  for (const key of seen) if (!now.has(key)) seen.delete(key);
  const damaged: BrokenPartRead[] = [];
  for (const p of active) {
    const key = `${p.table}/${p.name}`;
    if (seen.has(key)) continue;
    const found = filesOf(path.resolve(p.path));
    if (found === undefined) continue; // gone meanwhile (merged, removed): never read again
    const written = Number(p.bytes);
    const missing = ['checksums.txt', 'count.txt'].filter((f) => !found.sizes.get(f));
    if (missing.length === 0 && found.total >= written) {
      seen.add(key);
      continue;
    }
    // Suspected only: the engine checks the part's files against its checksums before it is touched.
    const checked = await checkPart(storage, p.table, p.name);
    if (checked === 'passed') seen.add(key);
    else if (checked !== 'gone')
      damaged.push({
        table: p.table,
        part: p.name,
        message: `its files hold ${found.total} of the ${written} bytes written${missing.length > 0 ? `, ${missing.join(' and ')} empty or missing` : ''}; CHECK TABLE: ${checked}`,
      });
  }
  return damaged;
}

/** The engine's CHECK TABLE of one part: 'passed', 'gone' (merged or removed meanwhile), or why it failed. */
async function checkPart(storage: Storage, table: string, part: string): Promise<string> {
  try {
    const [result] = await queryRows<{ is_passed: number; message: string }>(
      storage,
      `checking ${table}/${part}`,
      `CHECK TABLE ${storage.database}.${table} PART '${partName(part)}'
       SETTINGS check_query_single_value_result = 0`,
    );
    if (!result || Number(result.is_passed) === 1) return 'passed';
    return result.message.split('\n')[0]!.replace(/^Code: \d+\. DB::Exception: /, '');
  } catch (err) {
    if (/No such data part/i.test((err as Error).message)) return 'gone';
    throw err;
  }
}

/** Sizes of a part's files (top level by name, and the total with subfolders); undefined if gone. */
function filesOf(dir: string): { sizes: Map<string, number>; total: number } | undefined {
  const sizes = new Map<string, number>();
  let total = 0;
  const walk = (d: string, top: boolean): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) walk(file, false);
      else {
        const size = statSync(file).size;
        total += size;
        if (top) sizes.set(entry.name, size);
      }
    }
  };
  try {
    walk(dir, true);
  } catch {
    return undefined;
  }
  return { sizes, total };
}

export interface PartRepair {
  table: string;
  part: string;
  rows: number;
  /** The part's partition (YYYYMM for the tables keyed by month). */
  partition: string;
  /** Where its files went, for inspection. */
  kept: string;
  /** The parts it was merged from, attached back (new names), and their rows. */
  sources: Array<{ part: string; rows: number }>;
  /** Source parts the engine would not take back now (left in the table's detached folder). */
  refusedSources: string[];
}

interface PartRow {
  name: string;
  path: string;
  rows: string;
  partition_id: string;
  level: number;
  min_block_number: string;
  max_block_number: string;
  active: number;
}

/**
 * Sets `part` of `table` aside and attaches back the outdated parts it was made from (embedded: the
 * files are this process's). Undefined when the part is no longer active (already repaired).
 */
export async function repairBrokenPart(
  storage: Storage,
  table: string,
  part: string,
  keepDir: string,
): Promise<PartRepair | undefined> {
  const { database } = storage;
  const all = await queryRows<PartRow>(
    storage,
    `listing the parts near ${table}/${part}`,
    `SELECT name, path, toString(rows) AS rows, partition_id, level, toString(min_block_number) AS min_block_number,
            toString(max_block_number) AS max_block_number, active
     FROM system.parts
     WHERE database = {db:String} AND table = {table:String}
       AND partition_id = (SELECT any(partition_id) FROM system.parts
                           WHERE database = {db:String} AND table = {table:String} AND name = {part:String})`,
    { db: database, table, part },
  );
  const broken = all.find((p) => p.name === part && Number(p.active) === 1);
  if (!broken) return undefined;
  const tableDir = path.dirname(path.resolve(broken.path));
  const detachedDir = path.join(tableDir, 'detached');
  // Linked (no space needed: the disk may just have filled) before the broken part leaves, while the
  // engine still keeps them; attached only after it left, so no row is ever read twice.
  const linked: PartRow[] = [];
  for (const source of sourcesOf(broken, all)) {
    const to = path.join(detachedDir, source.name);
    // A detached part of that name is someone's to look at: that source is not put back.
    if (existsSync(to)) continue;
    try {
      mkdirSync(detachedDir, { recursive: true, mode: 0o700 });
      linkTree(path.resolve(source.path), to);
      linked.push(source);
    } catch {
      // Removed by the engine meanwhile: not put back.
      rmSync(to, { recursive: true, force: true });
    }
  }
  // The engine clones the part into detached/ (as <name>, or <name>_tryN) and then drops it by writing
  // an empty part over its range, which a full disk can refuse after the clone.
  const before = new Set(listDir(detachedDir));
  const clones = (): string[] =>
    listDir(detachedDir).filter((n) => !before.has(n) && (n === part || n.startsWith(`${part}_try`)));
  try {
    await runStatement(
      storage,
      `setting the unreadable part ${table}/${part} aside`,
      `ALTER TABLE ${database}.${table} DETACH PART '${partName(part)}'`,
    );
  } catch (err) {
    if (await stillActive(storage, table, part)) {
      // Tried again later, from a clean slate.
      for (const name of [...clones(), ...linked.map((l) => l.name)])
        rmSync(path.join(detachedDir, name), { recursive: true, force: true });
      throw err;
    }
  }
  const kept = clones().map((name) => keepAside(path.join(detachedDir, name), table, name, keepDir))[0] ?? '';
  const repair: PartRepair = {
    table,
    part,
    rows: Number(broken.rows),
    partition: broken.partition_id,
    kept,
    sources: [],
    refusedSources: [],
  };
  for (const source of linked) {
    try {
      await runStatement(
        storage,
        `attaching ${table}/${source.name} back`,
        `ALTER TABLE ${database}.${table} ATTACH PART '${partName(source.name)}'`,
      );
      repair.sources.push({ part: source.name, rows: Number(source.rows) });
    } catch {
      // Left detached: /healthz lists it, `tokenledger repair` attaches it once the engine takes it.
      repair.refusedSources.push(source.name);
    }
  }
  return repair;
}

/**
 * The outdated parts `broken` was merged from: inside its block range, of a lower level, not covered
 * by another of them, holding rows. Only for plain merges (a 4-field name, no mutation version): a
 * mutated part's sources hold rows from before a delete or an update.
 */
function sourcesOf(broken: PartRow, all: PartRow[]): PartRow[] {
  const plain = (p: PartRow): boolean => p.name.split('_').length === 4;
  if (!plain(broken) || broken.level === 0) return [];
  const within = (p: PartRow, of: PartRow): boolean =>
    BigInt(p.min_block_number) >= BigInt(of.min_block_number) &&
    BigInt(p.max_block_number) <= BigInt(of.max_block_number);
  const candidates = all.filter(
    (p) =>
      Number(p.active) === 0 && plain(p) && Number(p.rows) > 0 && p.level < broken.level && within(p, broken),
  );
  return candidates.filter((p) => !candidates.some((q) => q !== p && q.level > p.level && within(p, q)));
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function stillActive(storage: Storage, table: string, part: string): Promise<boolean> {
  const found = await queryRows<{ n: string }>(
    storage,
    `checking ${table}/${part}`,
    `SELECT toString(count()) AS n FROM system.parts
     WHERE database = {db:String} AND table = {table:String} AND name = {part:String} AND active`,
    { db: storage.database, table, part },
  );
  return found[0]?.n !== '0';
}

/** Hard links of a part's files under `to` (a part is immutable once written: sharing is safe). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { mode: 0o700 });
  for (const entry of readdirSync(from)) {
    const source = path.join(from, entry);
    if (statSync(source).isDirectory()) linkTree(source, path.join(to, entry));
    else linkSync(source, path.join(to, entry));
  }
}

/**
 * The rollup hours a repair leaves to rebuild. When every stored call is in `llm_calls` again — the
 * repaired part belongs to a rollup (its rows are recomputed from the calls), or a calls part came
 * back whole from all its sources — only the hours of its month that hold calls can differ from
 * them: `calls`. A calls part without all its sources may have taken calls with it: every hour of
 * the month, `month` (rebuilding an hour that has no calls left empties its rollup rows).
 */
export function hoursToRebuild(
  repair: Pick<PartRepair, 'table' | 'sources' | 'refusedSources'>,
): 'calls' | 'month' {
  if (repair.table !== 'llm_calls') return 'calls';
  return repair.sources.length > 0 && repair.refusedSources.length === 0 ? 'calls' : 'month';
}

/** The hours (ms) of `month` (YYYYMM) that hold calls: after a repair, the ones to rebuild. */
export async function hoursWithCalls(storage: Storage, month: number): Promise<number[]> {
  const found = await queryRows<{ h: string }>(
    storage,
    `listing the hours of ${month}`,
    `SELECT DISTINCT toString(toUnixTimestamp(toStartOfHour(start_time))) AS h
     FROM ${storage.database}.llm_calls WHERE toYYYYMM(start_time) = {month:UInt32}`,
    { month },
  );
  return found.map((r) => Number(r.h) * 1000);
}

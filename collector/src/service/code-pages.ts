/**
 * Code the process ran once at start-up, dropped from its resident memory (decisions 0092, 0097).
 *
 * Loading the embedded engine runs ClickHouse's start-up registrations spread over its whole
 * 390 MB of machine code, so ~200 MB of `libchdb.so` (and ~50 MB of Node's own binary) stay mapped
 * in and count as resident for the life of the process, though the collector's work then runs a
 * small part of it. `madvise(MADV_DONTNEED)` on those clean, read-only file mappings unmaps the
 * pages; what runs again is mapped back from the page cache (a minor fault, no disk read), so the
 * resident set becomes the code actually in use. The page cache itself is unchanged: a container's
 * page-cache accounting only benefits as the unused pages turn inactive and reclaimable.
 *
 * Only the mappings of the Node executable and of chdb's library are touched: both stay mapped at
 * the same addresses until the process exits, so no other mapping can take their place between
 * reading /proc/self/smaps and the call. A mapping that is writable or holds any private page
 * (relocated data, a debugger's breakpoint) is left alone, as MADV_DONTNEED would discard its
 * changes. The call goes through ./libc.ts; where it or Linux's /proc is missing, nothing is done.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { loadLibc, type Libc } from './libc';

/** How often the code run since the last drop (a flood of requests, a repair) is dropped again. */
const CODE_PAGE_DROP_INTERVAL_MS = 5 * 60_000;

const MADV_DONTNEED = 4;
/** The shared library of the embedded engine (chdb's `@chdb/lib-*` package). */
const ENGINE_LIBRARY = 'libchdb.so';

export interface CodeMapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  /** Pages this process changed or holds privately (Private_Dirty + Anonymous), kB. */
  privateKb: number;
  rssKb: number;
}

/** Parses /proc/<pid>/smaps into the file mappings with their resident and private sizes. */
export function parseSmaps(text: string): CodeMapping[] {
  const maps: CodeMapping[] = [];
  let current: CodeMapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      current =
        head[4] !== '0' && head[5]?.startsWith('/')
          ? {
              start: BigInt(`0x${head[1]}`),
              end: BigInt(`0x${head[2]}`),
              perms: head[3]!,
              path: head[5],
              privateKb: 0,
              rssKb: 0,
            }
          : undefined;
      if (current) maps.push(current);
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Private_Dirty|Anonymous):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    if (field[1] === 'Rss') current.rssKb = Number(field[2]);
    else current.privateKb += Number(field[2]);
  }
  return maps;
}

/** The mappings whose pages may be dropped: clean, private, not writable, of the two files named. */
export function droppableMappings(maps: readonly CodeMapping[], executable: string): CodeMapping[] {
  return maps.filter(
    (m) =>
      (m.path === executable || path.basename(m.path) === ENGINE_LIBRARY) &&
      m.perms[1] === '-' &&
      m.perms[3] === 'p' &&
      m.privateKb === 0 &&
      m.rssKb > 0,
  );
}

type Madvise = Libc['madvise'];

interface CodePageDrop {
  /** Resident kB of the droppable mappings before the drop. */
  droppedKb: number;
  mappings: number;
}

/**
 * Drops the resident pages of the droppable mappings once. Returns what was dropped, or a reason it
 * cannot be done here (said once at start by the caller).
 */
function dropCodePages(madvise: Madvise): CodePageDrop {
  let executable = process.execPath;
  try {
    executable = realpathSync(executable);
  } catch {
    // the path as given
  }
  const maps = droppableMappings(parseSmaps(readFileSync('/proc/self/smaps', 'utf8')), executable);
  let droppedKb = 0;
  let mappings = 0;
  for (const m of maps) {
    if (madvise(m.start, m.end - m.start, MADV_DONTNEED) !== 0) continue;
    droppedKb += m.rssKb;
    mappings++;
  }
  return { droppedKb, mappings };
}

/** Resident set of this process, kB (VmRSS). */
function residentKb(): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

/**
 * Drops start-up code when the collector listens, and again every 5 minutes (unref'd timer): what a
 * flood or a repair ran since leaves too. One log line says what the first drop released, or why
 * nothing can be. `enabled: false` (TOKENLEDGER_DROP_CODE_PAGES=0) does nothing.
 */
export function startCodePageDrops(enabled: boolean, log: (line: string) => void): { stop(): void } {
  const none = { stop: () => undefined };
  if (!enabled) return none;
  const libc = loadLibc();
  if (typeof libc === 'string') {
    log(`memory: start-up code stays resident: ${libc}`);
    return none;
  }
  const drop = (): CodePageDrop | undefined => {
    try {
      return dropCodePages(libc.madvise);
    } catch {
      return undefined; // /proc unreadable: the next round tries again
    }
  };
  const before = residentKb();
  const first = drop();
  if (first)
    log(
      `memory: released ${Math.round(first.droppedKb / 1024)} MB of start-up code from residence ` +
        `(resident ${Math.round(before / 1024)} → ${Math.round(residentKb() / 1024)} MB; code in use returns from the page cache)`,
    );
  const timer = setInterval(drop, CODE_PAGE_DROP_INTERVAL_MS).unref();
  return { stop: () => clearInterval(timer) };
}

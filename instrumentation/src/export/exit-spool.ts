/**
 * Batches the collector had not taken when the process exits, written to disk for the next process
 * that sends to the same collector with the same key (decision 0120). The kept batches of
 * ./kept-batches.ts live in memory: a worker that exits while the collector is down, starved or
 * restarting lost them — and with them its calls' spend — after the exit flush's 900 ms.
 *
 * - Written synchronously on `exit` (and on the exporter's shutdown): each batch one file, the
 *   encoded body as it would be sent, in a directory per collector and key (the key's digest only)
 *   readable by this user only (directory 0700, files 0600); never the key itself.
 * - Bounded by bytes (`TOKENLEDGER_EXPORT_SPOOL_BYTES`, 64 MiB by default): a batch that does not fit
 *   is dropped and the operator told (TOKENLEDGER_SPANS_DROPPED), as kept batches are.
 * - Taken by the next process's exporter when it starts (its first export): each file claimed by a
 *   rename that only one process can win, read, removed, then sent as a kept batch — so a batch is
 *   sent by one process, and if that one exits before the collector takes it, spooled again.
 *   A resent span is stored once: the collector deduplicates calls. A claim whose process died
 *   before reading it is given back to the takers; half a file whose writer died is removed.
 * - `TOKENLEDGER_EXPORT_SPOOL=off` disables it; a path puts the directory there. Failures (a
 *   read-only or full disk) only mean no spool: never thrown into the app.
 */
import { chmodSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { envPositiveNumber, envString } from '../env';
import { collectorKeyDigest, userDirectory } from '../user-directory';

const DEFAULT_SPOOL_BYTES = 64 * 1024 * 1024;

/** A batch as the exporter keeps it: the encoded body and how many spans it holds. */
export interface SpooledBatch {
  body: Uint8Array;
  spans: number;
}

/** `<written ms>-<pid>-<seq>-<spans>.<pb|json>`: oldest first by name, the span count for the bound's message. */
const FILE_NAME = /^(\d+)-(\d+)-(\d+)-(\d+)\.(pb|json)$/;

/** The spool directory for this collector URL and authorization header, or undefined when off. */
export function spoolDirectory(url: string, authorization: string | undefined): string | undefined {
  const setting = envString('TOKENLEDGER_EXPORT_SPOOL');
  if (setting?.toLowerCase() === 'off') return undefined;
  const id = collectorKeyDigest(url, authorization);
  return path.join(setting ? path.resolve(setting) : userDirectory(), `spans-${id}`);
}

export const spoolBytesFromEnv = (): number =>
  envPositiveNumber('TOKENLEDGER_EXPORT_SPOOL_BYTES') ?? DEFAULT_SPOOL_BYTES;

export class ExitSpool {
  private seq = 0;

  constructor(
    private readonly dir: string,
    /** The encoding of this exporter's bodies: only files of it are taken. */
    private readonly format: 'pb' | 'json',
    private readonly maxBytes: number,
  ) {}

  /**
   * Writes the batches, oldest first, while they fit in the bound. Synchronous: it runs in the
   * `exit` event. Returns the spans written and the spans dropped. Never throws.
   */
  writeSync(batches: readonly SpooledBatch[]): { written: number; dropped: number } {
    let written = 0;
    let dropped = 0;
    if (batches.length === 0) return { written, dropped };
    let used: number;
    try {
      makeDirectory(path.dirname(this.dir));
      makeDirectory(this.dir);
      chmodSync(this.dir, 0o700);
      used = this.usedBytesSync();
    } catch {
      return { written, dropped: batches.reduce((n, b) => n + b.spans, 0) };
    }
    const now = Date.now();
    for (const batch of batches) {
      if (used + batch.body.byteLength > this.maxBytes) {
        dropped += batch.spans;
        continue;
      }
      const name = `${now}-${process.pid}-${this.seq++}-${batch.spans}.${this.format}`;
      const file = path.join(this.dir, name);
      try {
        // Under a name no reader takes, then renamed: a reader never sees half a batch.
        writeFileSync(`${file}.part`, batch.body, { mode: 0o600 });
        renameSync(`${file}.part`, file);
        used += batch.body.byteLength;
        written += batch.spans;
      } catch {
        dropped += batch.spans;
      }
    }
    return { written, dropped };
  }

  /**
   * Takes spooled batches of this exporter's encoding, oldest first, up to `roomBytes`: each is
   * claimed (renamed to a name of this process), read and removed. Never rejects.
   */
  async take(roomBytes: number): Promise<SpooledBatch[]> {
    let names: string[];
    try {
      const entries = await readdir(this.dir);
      const given = await giveBackOrphans(this.dir, entries);
      names = [...entries, ...given].filter((n) => FILE_NAME.exec(n)?.[5] === this.format).sort(byAge);
    } catch {
      return [];
    }
    const taken: SpooledBatch[] = [];
    let room = roomBytes;
    for (const name of names) {
      const from = path.join(this.dir, name);
      const claimed = `${from}.taken-${process.pid}`;
      try {
        await rename(from, claimed);
      } catch {
        continue; // another process took it
      }
      try {
        const body = await readFile(claimed);
        if (body.byteLength > room) {
          await rename(claimed, from); // left for a process with room
          break;
        }
        await unlink(claimed);
        room -= body.byteLength;
        taken.push({ body, spans: Number(FILE_NAME.exec(name)![4]) });
      } catch {
        // unreadable: left as it is
      }
    }
    return taken;
  }

  /** Bytes of the batches spooled now (claimed ones and half-written ones included). */
  private usedBytesSync(): number {
    let used = 0;
    for (const name of readdirSync(this.dir)) {
      try {
        used += statSync(path.join(this.dir, name)).size;
      } catch {
        // gone meanwhile
      }
    }
    return used;
  }
}

/** A claim or a half-written file: `<batch file>.taken-<pid>` or `<batch file>.part`. */
const LEFT_BY_PROCESS = /^(.+)\.(?:taken-(\d+)|part)$/;

/** Whether a process with this pid runs now (one of another user's counts as running). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What processes that died mid-way left: a batch claimed and never read or given back (killed
 * between the rename and the read) is renamed back for the takers, so it is not stranded counting
 * against the bound; half a batch written when a process was killed in its `exit` is removed (it
 * would not decode). Returns the names given back.
 */
async function giveBackOrphans(dir: string, entries: readonly string[]): Promise<string[]> {
  const given: string[] = [];
  for (const name of entries) {
    const [, batchFile, taker] = LEFT_BY_PROCESS.exec(name) ?? [];
    const writer = batchFile === undefined ? undefined : FILE_NAME.exec(batchFile)?.[2];
    if (writer === undefined) continue;
    const pid = Number(taker ?? writer);
    if (pid === process.pid || running(pid)) continue;
    try {
      if (taker === undefined) await unlink(path.join(dir, name));
      else {
        await rename(path.join(dir, name), path.join(dir, batchFile!));
        given.push(batchFile!);
      }
    } catch {
      // another taker got there first
    }
  }
  return given;
}

/**
 * Creates one directory level (0700) if missing. Not `recursive: true`: that never returns on some
 * paths (under /proc), and this runs in the app's `exit`.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Oldest first: by the time written, then the writer's sequence. */
function byAge(a: string, b: string): number {
  const x = FILE_NAME.exec(a)!;
  const y = FILE_NAME.exec(b)!;
  return Number(x[1]) - Number(y[1]) || Number(x[3]) - Number(y[3]);
}

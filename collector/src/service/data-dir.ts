/**
 * The data directory holds spend data (the embedded engine), keys and the ingest journal: it is
 * created 0700 and tightened to 0700 when another user could read it, and checked writable before
 * anything starts, so a read-only or foreign directory stops the collector with its path and reason
 * instead of an engine error later.
 */
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

class DataDirError extends Error {
  constructor(dir: string, cause: unknown) {
    const e = cause as NodeJS.ErrnoException;
    super(`data directory ${dir} is not writable: ${e.code ? `${e.code} (${describeCode(e)})` : e.message}`, {
      cause,
    });
    this.name = 'DataDirError';
  }
}

function describeCode(e: NodeJS.ErrnoException): string {
  // "EACCES: permission denied, mkdir '/x'" → "permission denied"
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return m ? m[1]! : e.message;
}

/** Creates or tightens `dir` (0700) and proves it writable; logs once when it tightened it. */
export function prepareDataDir(dir: string, log: (line: string) => void): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      chmodSync(dir, 0o700);
      log(
        `data directory ${dir} was ${mode.toString(8).padStart(4, '0')} (other users could read it): ` +
          'now 0700',
      );
    }
    const probe = path.join(dir, `.write-check-${process.pid}`);
    const fd = openSync(probe, 'w', 0o600);
    try {
      writeSync(fd, 'ok');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(probe);
  } catch (cause) {
    throw new DataDirError(dir, cause);
  }
}

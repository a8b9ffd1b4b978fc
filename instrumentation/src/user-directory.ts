/**
 * Where tokenledger keeps what one process leaves for the next on this machine — the guard's last
 * state (./guard/state-cache.ts) and the spans not taken at exit (./export/exit-spool.ts): one
 * directory per user under the system's temporary directory, each entry named by the collector and
 * key it belongs to (a digest, never the key).
 */
import { createHash } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/** `<tmpdir>/tokenledger-<uid>` (the user name where there is no uid). */
export function userDirectory(): string {
  let user: string;
  try {
    user = String(userInfo().uid >= 0 ? userInfo().uid : userInfo().username);
  } catch {
    user = 'user';
  }
  return path.join(tmpdir(), `tokenledger-${user}`);
}

/** 16 hex characters naming a collector URL and the authorization sent to it. */
export function collectorKeyDigest(url: string, authorization: string | undefined): string {
  return createHash('sha256')
    .update(`${url}\n${authorization ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}

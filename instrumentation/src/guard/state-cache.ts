/**
 * The last policy state a process on this machine received, kept on disk so that the next process
 * is governed from its first call even when the collector is slow or away at that moment: a cron
 * job after the budget was spent, a CLI while the kill switch is on. One file per collector and
 * key (the key's scope shapes the state), readable by this user only (directory 0700, file 0600);
 * it holds what GET /v1/budgets answers (policies, budget states, prices, the key's name and
 * scope), never the key. A state older than MAX_AGE_MS is not used, nor a budget whose period has
 * ended. `TOKENLEDGER_GUARD_CACHE=off` disables it; a path puts the file there.
 *
 * Never throws and never blocks: reads and writes are asynchronous, failures are ignored (a
 * read-only or full disk only means no cache).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { authorization, collectorUrl } from '../collector-api';
import { envString } from '../env';
import { collectorKeyDigest, userDirectory } from '../user-directory';
import type { BudgetsResponse } from '../wire';

/** A state older than this is not used: kill switches and policies change. */
const MAX_AGE_MS = 24 * 60 * 60_000;
/** A changing state (budgets being spent) is written at most this often. */
const WRITE_EVERY_MS = 2_000;

interface CachedState {
  written_at: number;
  state: Partial<BudgetsResponse>;
}

function cacheFile(): string | undefined {
  const setting = envString('TOKENLEDGER_GUARD_CACHE');
  if (setting?.toLowerCase() === 'off') return undefined;
  if (setting) return path.resolve(setting);
  // Which collector, and which key (its digest only): another key may have another scope.
  return path.join(userDirectory(), `guard-${collectorKeyDigest(collectorUrl(), authorization())}.json`);
}

export class StateCache {
  private readonly file = cacheFile();
  private lastWrite = 0;
  private lastText = '';
  private writing = false;

  /** The last state written for this collector and key, if recent enough. Never rejects. */
  async read(now = Date.now()): Promise<Partial<BudgetsResponse> | undefined> {
    if (!this.file) return undefined;
    try {
      const cached = JSON.parse(await readFile(this.file, 'utf8')) as CachedState;
      if (typeof cached?.written_at !== 'number' || now - cached.written_at > MAX_AGE_MS) return undefined;
      const state = cached.state ?? {};
      // A budget of a period that has ended says nothing about the current one.
      const policies = (state.policies ?? []).map((p) =>
        p?.budget && Date.parse(p.budget.period_end) <= now ? { ...p, budget: null } : p,
      );
      return { ...state, policies };
    } catch {
      return undefined;
    }
  }

  /** Keeps `state` for the next process (when it changed, at most every WRITE_EVERY_MS). */
  write(state: Partial<BudgetsResponse> | undefined, now = Date.now()): void {
    const file = this.file;
    if (!file || !state || this.writing || now - this.lastWrite < WRITE_EVERY_MS) return;
    const stateText = JSON.stringify(state);
    if (stateText === this.lastText) return;
    const text = `{"written_at":${now},"state":${stateText}}`;
    this.writing = true;
    this.lastWrite = now;
    this.lastText = stateText;
    const tmp = `${file}.${process.pid}.tmp`;
    void mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
      .then(() => writeFile(tmp, text, { mode: 0o600 }))
      .then(() => rename(tmp, file))
      .catch(() => undefined)
      .finally(() => {
        this.writing = false;
      });
  }
}

/**
 * The collector's current policy, with hot reload. The file's bytes are polled and hashed (robust
 * to editors that replace the file, to a file that appears after start, and to two saves within one
 * tick of the file system's clock, which an mtime check misses); a change is read once it has
 * settled. A file that fails validation never replaces the last good policy: its problems are
 * logged and both outcomes are audited.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PolicyFile } from 'tokenledger/policy';
import type { AuditEntry } from '../audit';
import { loadPolicy, PolicyFileError, formatProblem, type LoadedPolicy } from './load';

export interface PolicyStoreOptions {
  file: string;
  /** The file was named explicitly (TOKENLEDGER_POLICY_FILE): its absence is an error. */
  required: boolean;
  log: (line: string) => void;
  audit?: (entry: AuditEntry) => Promise<void>;
  /** Keeps every loaded version in full (budgets of past periods read the limits in force then). */
  remember?: (loaded: LoadedPolicy, action: 'loaded' | 'reloaded') => Promise<void>;
  /** How often the file is checked for changes; 0 disables hot reload. */
  pollMs?: number;
  /** The collector's cap on stored values, which match values must respect (see load.ts). */
  maxValueLength?: number;
}

export type PolicyListener = (loaded: LoadedPolicy | undefined) => void;

const SETTLE_MS = 150;
const ACTOR = 'system';
const MISSING = 'missing';

export class PolicyStore {
  private loaded: LoadedPolicy | undefined;
  private readonly listeners: PolicyListener[] = [];
  private poller: NodeJS.Timeout | undefined;
  /** Hash of the bytes last acted on (loaded or refused), 'missing' when there was no file. */
  private lastSeen = MISSING;
  private settle: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();

  private constructor(private readonly options: PolicyStoreOptions) {}

  /** Loads the file; throws PolicyFileError when it is invalid, or missing but required. */
  static async open(options: PolicyStoreOptions): Promise<PolicyStore> {
    const store = new PolicyStore(options);
    try {
      store.loaded = await loadPolicy(options.file, options);
    } catch (err) {
      const missing =
        err instanceof PolicyFileError &&
        err.problems.length === 1 &&
        err.problems[0]!.message === 'file not found';
      if (!missing || options.required) throw err;
      options.log(`no policy file at ${options.file}: running without policies`);
    }
    if (store.loaded) {
      options.log(`policy ${options.file} loaded: ${describe(store.loaded.policy)}`);
      await store.record('policy.loaded', store.loaded, {});
    }
    store.lastSeen = store.loaded?.version ?? MISSING;
    if ((options.pollMs ?? 1000) > 0) store.watch();
    return store;
  }

  get current(): LoadedPolicy | undefined {
    return this.loaded;
  }

  get policy(): PolicyFile | undefined {
    return this.loaded?.policy;
  }

  onChange(listener: PolicyListener): void {
    this.listeners.push(listener);
  }

  /** Re-reads the file now; resolves when done (a failure keeps the current policy). */
  reload(): Promise<void> {
    // A reload that failed unexpectedly (e.g. the audit write) must not stop every later one.
    this.reloading = this.reloading
      .then(() => this.reloadNow())
      .catch((err: unknown) => {
        this.options.log(`policy ${this.options.file}: reload failed: ${(err as Error).message}`);
      });
    return this.reloading;
  }

  /** Stops watching the file; resolves once a reload in flight (and its audit entry) is done. */
  close(): Promise<void> {
    clearInterval(this.poller);
    this.poller = undefined;
    clearTimeout(this.settle);
    return this.reloading;
  }

  private watch(): void {
    this.poller = setInterval(this.poll, this.options.pollMs ?? 1000);
    this.poller.unref();
  }

  /** A policy file is small: hashing it every poll costs microseconds. */
  private readonly poll = (): void => {
    let seen: string;
    try {
      seen = createHash('sha256').update(readFileSync(this.options.file)).digest('hex');
    } catch {
      seen = MISSING;
    }
    if (seen === this.lastSeen) return;
    this.lastSeen = seen;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.reload(), SETTLE_MS);
    this.settle.unref();
  };

  private async reloadNow(): Promise<void> {
    const file = this.options.file;
    let next: LoadedPolicy;
    try {
      next = await loadPolicy(file, this.options);
    } catch (err) {
      const problems = err instanceof PolicyFileError ? err.problems : [];
      const lines = problems.map((p) => formatProblem(file, p));
      this.options.log(
        `policy ${file} not reloaded, keeping version ${short(this.loaded?.version)}:\n  ${lines.join('\n  ') || (err as Error).message}`,
      );
      await this.audit({
        actor: ACTOR,
        action: 'policy.rejected',
        subject: file,
        details: { kept_version: this.loaded?.version ?? null, problems },
      });
      return;
    }
    if (next.version === this.loaded?.version) return;
    const previous = this.loaded?.version ?? null;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        // A part that cannot take the new policy (e.g. an override the pricer refuses) vetoes it.
        this.options.log(`policy ${file} not reloaded: ${(err as Error).message}`);
        await this.audit({
          actor: ACTOR,
          action: 'policy.rejected',
          subject: file,
          details: { kept_version: previous, problems: [{ message: (err as Error).message }] },
        });
        return;
      }
    }
    this.loaded = next;
    this.options.log(`policy ${file} reloaded (version ${short(next.version)}): ${describe(next.policy)}`);
    await this.record('policy.reloaded', next, { previous_version: previous });
  }

  private async record(
    action: 'policy.loaded' | 'policy.reloaded',
    loaded: LoadedPolicy,
    extra: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.options.remember?.(loaded, action === 'policy.loaded' ? 'loaded' : 'reloaded');
    } catch (err) {
      this.options.log(`policy history: ${(err as Error).message}`);
    }
    await this.audit({
      actor: ACTOR,
      action,
      subject: loaded.file,
      details: { version: loaded.version, policies: loaded.policy.policies.map((p) => p.name), ...extra },
    });
  }

  private async audit(entry: AuditEntry): Promise<void> {
    try {
      await this.options.audit?.(entry);
    } catch (err) {
      this.options.log(`audit: ${(err as Error).message}`);
    }
  }
}

const short = (version: string | undefined): string => (version ? version.slice(0, 12) : 'none');

function describe(p: PolicyFile): string {
  const budgets = p.policies.filter((x) => x.budget).length;
  return `${p.policies.length} policies, ${budgets} budgets${p.kill_switch ? ', KILL SWITCH ON' : ''}`;
}

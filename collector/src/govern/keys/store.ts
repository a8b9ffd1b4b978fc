/**
 * Keys created after the first run (`tokenledger keys create`), kept in <data dir>/keys.json as
 * sha256 digests only (mode 0600). The running collector re-reads the file when it changes, so a
 * new approver or viewer key works without a restart, and a revoked one stops working. Who created
 * or revoked a key, and when, stays in the file (a revoked key keeps only its fingerprint), for the
 * collector to write to its audit log (./key-audit.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { KeyScope } from 'tokenledger/wire';
import { digestOf, KeyConfigError, ROLES, type KeyEntry, type Role } from './keys';
import { formatScope, parseScopeEntry } from './scope';

interface StoredKey {
  name: string;
  role: Role;
  /** sha256 of the key, hex. */
  sha256: string;
  created_at: string;
  /** The operating-system user who ran `keys create`. */
  created_by?: string;
  scope?: KeyScope;
}

/** A revoked key, as the audit needs it: never its digest. */
interface RevokedKey {
  name: string;
  role: Role;
  /** 8 hex digits of the digest, to tell keys of one name apart. */
  fingerprint: string;
  created_at: string;
  revoked_at: string;
  revoked_by?: string;
}

interface StoreFile {
  keys: StoredKey[];
  revoked?: RevokedKey[];
}

export interface KeyInfo {
  name: string;
  role: Role;
  createdAt: string;
  /** `team=search;service=api`, '' when unscoped. */
  scope: string;
}

/** A creation or revocation, for the audit log; `id` is the same every time the file is read. */
export interface KeyEvent {
  id: string;
  action: 'key.created' | 'key.revoked';
  at: string;
  actor: string;
  name: string;
  role: Role;
  fingerprint: string;
  scope?: KeyScope;
}

/** How often the collector looks at the file's mtime, at most. */
const RECHECK_MS = 1_000;

export const keyStorePath = (dataDir: string): string => path.resolve(dataDir, 'keys.json');

export class KeyStore {
  private cached: KeyEntry[] = [];
  private cachedMtime = -1;
  private checkedAt = 0;

  constructor(readonly file: string) {}

  static inDataDir(dataDir: string): KeyStore {
    return new KeyStore(keyStorePath(dataDir));
  }

  /**
   * Entries for KeyRing; cheap on the hot path (one stat per second at most). `fresh`: look at the
   * file now (a key nobody knows yet may have just been made with `tokenledger keys create`).
   */
  entries = (fresh = false): readonly KeyEntry[] => {
    const now = Date.now();
    if (!fresh && now - this.checkedAt < RECHECK_MS) return this.cached;
    this.checkedAt = now;
    let mtime: number;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      this.cached = [];
      this.cachedMtime = -1;
      return this.cached;
    }
    if (mtime !== this.cachedMtime) {
      try {
        this.cached = this.read().keys.map((k) => ({
          role: k.role,
          name: k.name,
          digest: Buffer.from(k.sha256, 'hex'),
          ...(k.scope ? { scope: k.scope } : {}),
        }));
        this.cachedMtime = mtime;
      } catch {
        // A half-written or broken file: keep the keys we had.
      }
    }
    return this.cached;
  };

  list(): KeyInfo[] {
    return this.read().keys.map((k) => ({
      name: k.name,
      role: k.role,
      createdAt: k.created_at,
      scope: formatScope(k.scope),
    }));
  }

  /**
   * Creates a key and returns its secret: the only time it is ever shown. `scope` (ingest keys
   * only): `team=search`, `service=api|web`, … (./scope.ts).
   */
  create(role: Role, name: string, scope: string[] = []): string {
    if (!ROLES.includes(role))
      throw new KeyConfigError(`role must be one of ${ROLES.join(', ')}, got "${role}"`);
    const trimmed = name.trim();
    if (!/^[\w.@+-]{1,200}$/.test(trimmed))
      throw new KeyConfigError('name must be 1-200 letters, digits or . @ + - _ (e.g. an e-mail address)');
    const parsedScope: KeyScope = {};
    for (const entry of scope) parseScopeEntry(entry, parsedScope);
    const scoped = Object.keys(parsedScope).length > 0;
    if (scoped && role !== 'ingest')
      throw new KeyConfigError(
        `only ingest keys have a scope (it limits what they report and lease), not ${role} keys`,
      );
    const store = this.read();
    if (store.keys.some((k) => k.name === trimmed))
      throw new KeyConfigError(`a key named "${trimmed}" exists; revoke it first or choose another name`);
    const secret = `tl_${role}_${randomBytes(24).toString('base64url')}`;
    store.keys.push({
      name: trimmed,
      role,
      sha256: digestOf(secret).toString('hex'),
      created_at: new Date().toISOString(),
      created_by: operator(),
      ...(scoped ? { scope: parsedScope } : {}),
    });
    this.write(store);
    return secret;
  }

  /** Removes a key by name (keeping who revoked it, for the audit); false when there was none. */
  revoke(name: string): boolean {
    const store = this.read();
    const key = store.keys.find((k) => k.name === name);
    if (!key) return false;
    store.keys = store.keys.filter((k) => k !== key);
    (store.revoked ??= []).push({
      name: key.name,
      role: key.role,
      fingerprint: key.sha256.slice(0, 8),
      created_at: key.created_at,
      revoked_at: new Date().toISOString(),
      revoked_by: operator(),
    });
    this.write(store);
    return true;
  }

  /** Every creation and revocation the file records, oldest first. */
  events(): KeyEvent[] {
    const store = this.read();
    const created = (
      k: StoredKey | RevokedKey,
      fingerprint: string,
      actor: string | undefined,
    ): KeyEvent => ({
      id: `key.created:${fingerprint}:${k.created_at}`,
      action: 'key.created',
      at: k.created_at,
      actor: actor || 'unknown',
      name: k.name,
      role: k.role,
      fingerprint,
      ...('scope' in k && k.scope ? { scope: k.scope } : {}),
    });
    const events: KeyEvent[] = [
      ...store.keys.map((k) => created(k, k.sha256.slice(0, 8), k.created_by)),
      // A revoked key was created too: an entry for it, should its creation not be audited yet.
      ...(store.revoked ?? []).flatMap((k) => [
        created(k, k.fingerprint, undefined),
        {
          id: `key.revoked:${k.fingerprint}:${k.created_at}`,
          action: 'key.revoked' as const,
          at: k.revoked_at,
          actor: k.revoked_by || 'unknown',
          name: k.name,
          role: k.role,
          fingerprint: k.fingerprint,
        },
      ]),
    ];
    return events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  private read(): StoreFile {
    if (!existsSync(this.file)) return { keys: [] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      throw new KeyConfigError(`${this.file} is not valid JSON`);
    }
    const { keys, revoked } = (parsed ?? {}) as { keys?: unknown; revoked?: unknown };
    if (!Array.isArray(keys)) throw new KeyConfigError(`${this.file} is not a tokenledger key store`);
    return {
      keys: keys.filter(
        (k): k is StoredKey =>
          typeof k?.name === 'string' &&
          ROLES.includes(k.role) &&
          typeof k.sha256 === 'string' &&
          /^[0-9a-f]{64}$/.test(k.sha256),
      ),
      revoked: Array.isArray(revoked)
        ? revoked.filter(
            (k): k is RevokedKey =>
              typeof k?.name === 'string' &&
              typeof k.fingerprint === 'string' &&
              typeof k.revoked_at === 'string',
          )
        : [],
    };
  }

  private write(store: StoreFile): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(store, null, 2) + '\n', { mode: 0o600 });
    // Atomic replace: the collector never reads a half-written file.
    renameSync(tmp, this.file);
  }
}

/** Who runs the `keys` command (the operating-system user), for the audit log. */
function operator(): string {
  try {
    return `os:${userInfo().username}`;
  } catch {
    return 'os:unknown';
  }
}

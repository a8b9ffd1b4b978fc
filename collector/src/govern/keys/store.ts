/**
 * Keys created after the first run (`tokenledger keys create`), kept in <data dir>/keys.json as
 * sha256 digests only (mode 0600). The running collector re-reads the file when it changes, so a
 * new approver or viewer key works without a restart, and a revoked one stops working.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { digestOf, KeyConfigError, ROLES, type KeyEntry, type Role } from './keys';

interface StoredKey {
  name: string;
  role: Role;
  /** sha256 of the key, hex. */
  sha256: string;
  created_at: string;
}

export interface KeyInfo {
  name: string;
  role: Role;
  createdAt: string;
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

  /** Entries for KeyRing; cheap on the hot path (one stat per second at most). */
  entries = (): readonly KeyEntry[] => {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return this.cached;
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
        this.cached = this.read().map((k) => ({
          role: k.role,
          name: k.name,
          digest: Buffer.from(k.sha256, 'hex'),
        }));
        this.cachedMtime = mtime;
      } catch {
        // A half-written or broken file: keep the keys we had.
      }
    }
    return this.cached;
  };

  list(): KeyInfo[] {
    return this.read().map((k) => ({ name: k.name, role: k.role, createdAt: k.created_at }));
  }

  /** Creates a key and returns its secret: the only time it is ever shown. */
  create(role: Role, name: string): string {
    if (!ROLES.includes(role))
      throw new KeyConfigError(`role must be one of ${ROLES.join(', ')}, got "${role}"`);
    const trimmed = name.trim();
    if (!/^[\w.@+-]{1,200}$/.test(trimmed))
      throw new KeyConfigError('name must be 1-200 letters, digits or . @ + - _ (e.g. an e-mail address)');
    const keys = this.read();
    if (keys.some((k) => k.name === trimmed))
      throw new KeyConfigError(`a key named "${trimmed}" exists; revoke it first or choose another name`);
    const secret = `tl_${role}_${randomBytes(24).toString('base64url')}`;
    keys.push({
      name: trimmed,
      role,
      sha256: digestOf(secret).toString('hex'),
      created_at: new Date().toISOString(),
    });
    this.write(keys);
    return secret;
  }

  /** Removes a key by name; false when there was none. */
  revoke(name: string): boolean {
    const keys = this.read();
    const left = keys.filter((k) => k.name !== name);
    if (left.length === keys.length) return false;
    this.write(left);
    return true;
  }

  private read(): StoredKey[] {
    if (!existsSync(this.file)) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      throw new KeyConfigError(`${this.file} is not valid JSON`);
    }
    const keys = (parsed as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new KeyConfigError(`${this.file} is not a tokenledger key store`);
    return keys.filter(
      (k): k is StoredKey =>
        typeof k?.name === 'string' &&
        ROLES.includes(k.role) &&
        typeof k.sha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(k.sha256),
    );
  }

  private write(keys: StoredKey[]): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys }, null, 2) + '\n', { mode: 0o600 });
    // Atomic replace: the collector never reads a half-written file.
    renameSync(tmp, this.file);
  }
}

/**
 * API keys and their scopes. Keys are held only as sha256 digests and compared in constant time.
 * Production sets TOKENLEDGER_API_KEYS=role:key,...; a first start without it generates an admin
 * and an ingest key into <data dir>/credentials.json (mode 0600) and logs only that path.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ROLES = ['ingest', 'viewer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What each role may do. */
export type Scope = 'ingest' | 'read' | 'approve' | 'admin';
const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  ingest: ['ingest'],
  viewer: ['read'],
  approver: ['read', 'approve'],
  admin: ['ingest', 'read', 'approve', 'admin'],
};

export interface KeyEntry {
  role: Role;
  digest: Buffer;
}

export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyConfigError';
  }
}

const digestOf = (key: string): Buffer => createHash('sha256').update(key).digest();

export class KeyRing {
  private readonly entries: KeyEntry[];

  constructor(keys: Array<{ role: Role; key: string }>) {
    this.entries = keys.map((k) => ({ role: k.role, digest: digestOf(k.key) }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The role of a presented key, or undefined. Checks every entry so timing does not tell which matched. */
  roleOf(presented: string): Role | undefined {
    const d = digestOf(presented);
    let found: Role | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && !found) found = e.role;
    return found;
  }

  static allows(role: Role, scope: Scope): boolean {
    return ROLE_SCOPES[role].includes(scope);
  }
}

/** Parses `role:key,role:key`. */
export function parseKeySpec(spec: string): Array<{ role: Role; key: string }> {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const sep = entry.indexOf(':');
      const role = entry.slice(0, sep) as Role;
      const key = entry.slice(sep + 1);
      if (sep <= 0 || !ROLES.includes(role)) {
        throw new KeyConfigError(
          `TOKENLEDGER_API_KEYS entry ${i + 1}: expected role:key with role one of ${ROLES.join(', ')}`,
        );
      }
      if (key.length < 16)
        throw new KeyConfigError(`TOKENLEDGER_API_KEYS entry ${i + 1}: key shorter than 16 characters`);
      return { role, key };
    });
}

export interface Credentials {
  admin: string;
  ingest: string;
}

export const credentialsPath = (dataDir: string): string => path.resolve(dataDir, 'credentials.json');

export function readCredentials(dataDir: string): Credentials | undefined {
  const file = credentialsPath(dataDir);
  if (!existsSync(file)) return undefined;
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  } catch {
    // Not the parser's message: it quotes the input, i.e. a key.
    throw new KeyConfigError(`${file} is not valid JSON; delete it to generate new keys`);
  }
  if (typeof parsed?.admin !== 'string' || typeof parsed.ingest !== 'string') {
    throw new KeyConfigError(
      `${file} is not a tokenledger credentials file (expected admin and ingest keys)`,
    );
  }
  return { admin: parsed.admin, ingest: parsed.ingest };
}

/** The stored first-run credentials, generated on the first call. */
export function ensureCredentials(dataDir: string): {
  credentials: Credentials;
  created: boolean;
  file: string;
} {
  const file = credentialsPath(dataDir);
  const existing = readCredentials(dataDir);
  if (existing) return { credentials: existing, created: false, file };
  const credentials: Credentials = {
    admin: `tl_admin_${randomBytes(24).toString('base64url')}`,
    ingest: `tl_ingest_${randomBytes(24).toString('base64url')}`,
  };
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    // 'wx': created with mode 0600 from the start (never readable by others), and never overwritten.
    writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    const raced = (err as NodeJS.ErrnoException).code === 'EEXIST' ? readCredentials(dataDir) : undefined;
    if (!raced) throw err;
    return { credentials: raced, created: false, file };
  }
  return { credentials, created: true, file };
}

/**
 * API keys and their scopes. Keys are held only as sha256 digests and compared in constant time.
 * Production sets TOKENLEDGER_API_KEYS=role:key,...; a first start without it generates an admin
 * and an ingest key into <data dir>/credentials.json (mode 0600) and logs only that path.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KeyScope } from 'tokenledger/wire';
import { KeyConfigError } from './errors';
import { formatScope, parseScopeEntry } from './scope';

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

/** The roles that may do `scope`, least powerful first (for refusals that name who can). */
export function rolesAllowing(scope: Scope): Role[] {
  return ROLES.filter((r) => ROLE_SCOPES[r].includes(scope));
}

export interface KeyEntry {
  role: Role;
  /** Who holds the key: an approver's e-mail, a service name; `<role>-<fingerprint>` when unnamed. */
  name: string;
  digest: Buffer;
  /** An ingest key limited to cost centers, teams, departments or services (./scope.ts). */
  scope?: KeyScope;
}

/** A caller, as far as the collector knows them from their key. Never the key itself. */
export interface Principal {
  role: Role;
  name: string;
  scope?: KeyScope;
}

/** A key as configured: role, optional holder name and scope, secret. */
export interface KeySpec {
  role: Role;
  key: string;
  name?: string;
  scope?: KeyScope;
}

export { KeyConfigError };

export const digestOf = (key: string): Buffer => createHash('sha256').update(key).digest();

/** A short, non-reversible label for an unnamed key (8 hex digits of its digest). */
const fingerprintOf = (digest: Buffer): string => digest.subarray(0, 4).toString('hex');

export class KeyRing {
  private readonly fixed: KeyEntry[];

  /**
   * @param keys keys from the environment / first-run credentials
   * @param extra keys created later (`tokenledger keys create`), re-read by the caller's store on change
   */
  constructor(
    keys: KeySpec[],
    private readonly extra: (fresh?: boolean) => readonly KeyEntry[] = () => [],
  ) {
    this.fixed = keys.map((k) => {
      const digest = digestOf(k.key);
      return {
        role: k.role,
        name: k.name ?? `${k.role}-${fingerprintOf(digest)}`,
        digest,
        ...(k.scope ? { scope: k.scope } : {}),
      };
    });
  }

  get size(): number {
    return this.fixed.length + this.extra().length;
  }

  /** Who a presented key belongs to, or undefined. Checks every entry so timing does not tell which matched. */
  identify(presented: string): Principal | undefined {
    const d = digestOf(presented);
    let found: KeyEntry | undefined;
    for (const e of this.fixed) if (timingSafeEqual(d, e.digest) && !found) found = e;
    for (const e of this.extra()) if (timingSafeEqual(d, e.digest) && !found) found = e;
    // Unknown: the key may have been made a moment ago; look at the key file now (one stat).
    if (!found) for (const e of this.extra(true)) if (timingSafeEqual(d, e.digest) && !found) found = e;
    return found
      ? { role: found.role, name: found.name, ...(found.scope ? { scope: found.scope } : {}) }
      : undefined;
  }

  /** The role of a presented key, or undefined. */
  roleOf(presented: string): Role | undefined {
    return this.identify(presented)?.role;
  }

  static allows(role: Role, scope: Scope): boolean {
    return ROLE_SCOPES[role].includes(scope);
  }
}

/**
 * Parses `role:key,role/name:key,ingest/name[team=search;service=api|web]:key` (the name, e.g. an
 * approver's e-mail, identifies the holder; the brackets scope an ingest key, ./scope.ts).
 */
export function parseKeySpec(spec: string): KeySpec[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = `TOKENLEDGER_API_KEYS entry ${i + 1}`;
      const sep = entry.indexOf(':');
      let head = sep > 0 ? entry.slice(0, sep) : '';
      let scope: KeyScope | undefined;
      const open = head.indexOf('[');
      if (open >= 0) {
        if (!head.endsWith(']'))
          throw new KeyConfigError(`${at}: a scope is written [field=value;field=value] before ':'`);
        try {
          scope = {};
          for (const part of head.slice(open + 1, -1).split(';'))
            if (part.trim()) parseScopeEntry(part, scope);
        } catch (err) {
          throw new KeyConfigError(`${at}: ${(err as Error).message}`);
        }
        head = head.slice(0, open);
      }
      const slash = head.indexOf('/');
      const role = (slash >= 0 ? head.slice(0, slash) : head) as Role;
      const name = slash >= 0 ? head.slice(slash + 1).trim() : undefined;
      const key = entry.slice(sep + 1);
      if (sep <= 0 || !ROLES.includes(role)) {
        throw new KeyConfigError(
          `${at}: expected role:key or role/name:key with role one of ${ROLES.join(', ')}`,
        );
      }
      if (name === '') throw new KeyConfigError(`${at}: empty name after '/'`);
      if (key.length < 16) throw new KeyConfigError(`${at}: key shorter than 16 characters`);
      if (scope && Object.keys(scope).length > 0 && role !== 'ingest')
        throw new KeyConfigError(
          `${at}: only ingest keys have a scope (${role}/${name ?? ''}[${formatScope(scope)}])`,
        );
      return {
        role,
        key,
        ...(name !== undefined ? { name } : {}),
        ...(scope && Object.keys(scope).length > 0 ? { scope } : {}),
      };
    });
}

export interface Credentials {
  admin: string;
  ingest: string;
}

const credentialsPath = (dataDir: string): string => path.resolve(dataDir, 'credentials.json');

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

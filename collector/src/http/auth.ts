/** Express middleware: a bearer key with the scope the route needs, else 401/403. */
import type { NextFunction, Request, Response } from 'express';
import { KeyRing, rolesAllowing, ROLES, type Principal, type Role, type Scope } from '../govern/keys/keys';

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    /** Who called (from their key): approvals record and compare it. */
    principal?: Principal;
  }
}

/** Writes a refusal; the API answers `{ error }`, the OTLP receiver a google.rpc.Status. */
export type Deny = (req: Request, res: Response, status: 401 | 403, message: string) => void;

const denyJson: Deny = (_req, res, status, message) => {
  res.status(status).json({ error: message });
};

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** `an approver or admin key`: the roles that may do any of `scopes`. */
function keysThatCan(scopes: readonly Scope[]): string {
  const roles = ROLES.filter((r) => scopes.some((s) => rolesAllowing(s).includes(r)));
  return `${article(roles[0] ?? 'admin')} ${roles.join(' or ')} key`;
}

/** A key whose role has `scope` (or any of the scopes given). */
export function requireScope(keys: KeyRing, scope: Scope | readonly Scope[], deny: Deny = denyJson) {
  const scopes: readonly Scope[] = typeof scope === 'string' ? [scope] : scope;
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      deny(req, res, 401, 'missing bearer key (Authorization: Bearer <key>)');
      return;
    }
    const principal = keys.identify(match[1]!);
    const role = principal?.role;
    if (!principal || !role) {
      res.set('WWW-Authenticate', 'Bearer');
      deny(req, res, 401, 'unknown key');
      return;
    }
    if (!scopes.some((s) => KeyRing.allows(role, s))) {
      deny(
        req,
        res,
        403,
        `${article(role)} ${role} key cannot ${scopes.join(' or ')}: use ${keysThatCan(scopes)}`,
      );
      return;
    }
    req.role = role;
    req.principal = principal;
    next();
  };
}

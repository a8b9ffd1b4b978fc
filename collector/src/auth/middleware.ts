/** Express middleware: a bearer key with the scope the route needs, else 401/403. */
import type { NextFunction, Request, Response } from 'express';
import { KeyRing, type Role, type Scope } from './keys';

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
  }
}

/** Writes a refusal; the API answers `{ error }`, the OTLP receiver a google.rpc.Status. */
export type Deny = (req: Request, res: Response, status: 401 | 403, message: string) => void;

const denyJson: Deny = (_req, res, status, message) => {
  res.status(status).json({ error: message });
};

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

export function requireScope(keys: KeyRing, scope: Scope, deny: Deny = denyJson) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      deny(req, res, 401, 'missing bearer key (Authorization: Bearer <key>)');
      return;
    }
    const role = keys.roleOf(match[1]!);
    if (!role) {
      res.set('WWW-Authenticate', 'Bearer');
      deny(req, res, 401, 'unknown key');
      return;
    }
    if (!KeyRing.allows(role, scope)) {
      deny(req, res, 403, `${article(role)} ${role} key cannot ${scope}: use a key whose role allows it`);
      return;
    }
    req.role = role;
    next();
  };
}

/** Express middleware: a bearer key with the scope the route needs, else 401/403 (JSON). */
import type { NextFunction, Request, Response } from 'express';
import { KeyRing, type Role, type Scope } from './keys';

declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
  }
}

export function requireScope(keys: KeyRing, scope: Scope) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'missing bearer key (Authorization: Bearer <key>)' });
      return;
    }
    const role = keys.roleOf(match[1]!);
    if (!role) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unknown key' });
      return;
    }
    if (!KeyRing.allows(role, scope)) {
      res.status(403).json({ error: `an ${role} key cannot ${scope}: use a key whose role allows it` });
      return;
    }
    req.role = role;
    next();
  };
}

// Bearer-token check of the admin API: any token of ADMIN_TOKEN's list, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { AppError } from '../errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function bearerAuth(tokens: readonly string[]): Koa.Middleware {
  // Hash first so every comparison is between equal-length buffers (timingSafeEqual's rule)
  // and the length of a configured token leaks nothing.
  const expected = tokens.map(digest);
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) {
      ctx.set('WWW-Authenticate', 'Bearer realm="leasehold admin"');
      throw new AppError(401, 'UNAUTHORIZED', 'admin API: send Authorization: Bearer <ADMIN_TOKEN>');
    }
    const given = digest(m[1] as string);
    let ok = false;
    for (const e of expected) if (timingSafeEqual(e, given)) ok = true;
    if (!ok) {
      ctx.set('WWW-Authenticate', 'Bearer realm="leasehold admin", error="invalid_token"');
      throw new AppError(401, 'BAD_TOKEN', 'admin API: the bearer token is not valid');
    }
    await next();
  };
}

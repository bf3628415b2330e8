// The edge's first middleware: AppError → its status and `{error:{code,message}}`; anything
// else → 500 INTERNAL, logged once here with the request.
import type Koa from 'koa';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';

export function errorMiddleware(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError(404, 'NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const e = err instanceof AppError ? err : undefined;
      if (!e) logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      else if (e.status >= 500) logger.warn({ code: e.code, method: ctx.method, path: ctx.path, msg: e.message }, 'request failed');
      ctx.status = e?.status ?? 500;
      ctx.type = 'application/json';
      ctx.body = { error: { code: e?.code ?? 'INTERNAL', message: e?.message ?? 'internal error' }, ...(e?.details ?? {}) };
      // A body we refused mid-stream is still arriving: do not reuse the connection.
      if (ctx.status === 413) ctx.set('Connection', 'close');
    }
  };
}

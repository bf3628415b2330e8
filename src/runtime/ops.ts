// /metrics, /healthz and /readyz, served by every role. Liveness says the process is up;
// readiness runs the role's checks (Redis, Postgres, Litestream, routing view, sessions).
import Koa from 'koa';
import Router from '@koa/router';
import { registry } from '../metrics.js';
import { errorMessage } from '../errors.js';

export type ReadyCheck = () => Promise<void> | void;

export function createOpsRouter(checks: Record<string, ReadyCheck> = {}): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });
  router.get('/readyz', async (ctx) => {
    const results: Record<string, { ok: boolean; error?: string }> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(Promise.resolve(check()), 2000, name);
          results[name] = { ok: true };
        } catch (err) {
          results[name] = { ok: false, error: errorMessage(err) };
        }
      }),
    );
    const ok = Object.values(results).every((r) => r.ok);
    ctx.status = ok ? 200 : 503;
    ctx.body = { ok, checks: results };
  });
  return router;
}

/** A Koa app with only the ops routes (for roles with nothing else to serve). */
export function createOpsApp(checks: Record<string, ReadyCheck> = {}): Koa {
  const app = new Koa();
  const router = createOpsRouter(checks);
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} check timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

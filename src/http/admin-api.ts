// The admin API (bearer token): move, drain, uncordon, rebalance — the same operations the
// admin CLI runs (src/admin/operations.ts), so the two never disagree.
import Router from '@koa/router';
import { z } from 'zod';
import * as ops from '../admin/operations.js';
import { planRebalance } from '../admin/rebalance.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { bearerAuth } from './admin-auth.js';
import { assertGuildId } from './guild-facts.js';
import { parseJson, readRawBody } from '../runtime/raw-body.js';

export interface AdminApiDeps {
  readonly adminTokens: readonly string[];
  readonly ops: ops.AdminDeps;
  readonly logger: Logger;
}

const moveBody = z.object({ to: z.string() }).strict();
const ADMIN_BODY_LIMIT = 16 * 1024;

async function body<T>(ctx: { req: import('node:http').IncomingMessage }, schema: z.ZodType<T>): Promise<T> {
  const raw = await readRawBody(ctx.req, ADMIN_BODY_LIMIT);
  const r = schema.safeParse(raw.length === 0 ? {} : parseJson(raw));
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AppError(400, 'BAD_BODY', `request body: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}`);
  }
  return r.data;
}

export function adminRouter(d: AdminApiDeps): Router {
  const router = new Router({ prefix: '/api/admin' });
  router.use(bearerAuth(d.adminTokens));

  router.post('/guilds/:guildId/move', async (ctx) => {
    const guildId = ctx.params['guildId'] ?? '';
    assertGuildId(guildId);
    const { to } = await body(ctx, moveBody);
    const r = await ops.pin(d.ops, guildId, to);
    d.logger.info({ guild: guildId, to, previous: r.previous, audit: 'admin_api' }, 'move requested: guild pinned');
    ctx.status = 202;
    ctx.body = { accepted: true, guildId, to, previousPin: r.previous ?? null, live: r.live, note: r.live ? `the owner hands ${guildId} off to ${to}` : `${to} is not live: the pin takes effect when it joins the ring` };
  });

  router.post('/pods/:podId/drain', async (ctx) => {
    const podId = ctx.params['podId'] ?? '';
    const r = await ops.cordon(d.ops, podId, 'drained via the admin API');
    d.logger.info({ pod: podId, audit: 'admin_api' }, 'drain requested: pod cordoned');
    ctx.status = 202;
    ctx.body = { accepted: true, podId, wasCordoned: r.wasCordoned, live: r.live, note: `${podId} hands off its guilds and owns nothing until uncordoned` };
  });

  router.post('/pods/:podId/uncordon', async (ctx) => {
    const podId = ctx.params['podId'] ?? '';
    const r = await ops.uncordon(d.ops, podId);
    d.logger.info({ pod: podId, audit: 'admin_api' }, 'uncordon requested');
    ctx.body = { podId, wasCordoned: r.wasCordoned };
  });

  router.post('/rebalance', async (ctx) => {
    const dryRun = ['1', 'true', 'yes'].includes(String(ctx.query['dryRun'] ?? '').toLowerCase());
    const plan = planRebalance(await ops.snapshot(d.ops));
    if (!dryRun) d.logger.info({ moves: plan.moves.length, audit: 'admin_api' }, 'rebalance requested');
    // Planning changes nothing: the gateways' ownership loops already move every guild whose
    // owner differs from its desired owner, at their own bounded rate. The plan says what moves.
    ctx.status = dryRun ? 200 : 202;
    ctx.body = { dryRun, ...(dryRun ? {} : { accepted: true }), ...plan };
  });

  return router;
}

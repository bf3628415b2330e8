// The gateway's internal API (docs/internal-api.md): requests the http edge forwards for guilds
// this pod serves, and the target side of planned handoffs. Every request is signed with the
// internal secret; a request for a guild this pod does not serve at the expected epoch gets 421
// naming the owner and epoch this pod knows of.
import Router from '@koa/router';
import type Koa from 'koa';
import type { APIInteraction } from 'discord-api-types/v10';
import { AppError } from '../errors.js';
import { LeaseNotHeldError } from '../cluster/errors.js';
import { isPodId, isSnowflake } from '../cluster/ids.js';
import { verifyInternal } from '../runtime/internal-auth.js';
import { readRawBody } from '../runtime/raw-body.js';

export interface InternalApiDeps {
  readonly secrets: readonly string[];
  readonly podId: string;
  /** The epoch this pod serves the guild at, or undefined. */
  servedEpoch(guildId: string): number | undefined;
  /** Who owns the guild as far as this pod knows (for 421). */
  knownOwner(guildId: string): { owner: string | undefined; epoch: number | undefined };
  interaction(guildId: string, epoch: number, i: APIInteraction): Promise<unknown>;
  dmInteraction(i: APIInteraction): Promise<unknown>;
  stats(guildId: string, epoch: number): Promise<unknown>;
  dashboard(guildId: string, epoch: number): Promise<unknown>;
  /** `admin restore`: pause the guild and restore its data (as it was at `at`, or the latest). */
  restore(guildId: string, epoch: number, at: Date | undefined): Promise<unknown>;
  handoff: {
    prepare(guildId: string, from: string, fromEpoch: number): Promise<void>;
    data(guildId: string, from: string, fromEpoch: number, copy: Buffer, sha256: string): Promise<void>;
    moved(guildId: string, from: string, epoch: number): Promise<void>;
    abort(guildId: string, from: string, fromEpoch: number): Promise<void>;
  };
}

const MAX_BODY = 64 * 1024;
const MAX_COPY = 512 * 1024 * 1024;

class NotOwnerError extends AppError {
  constructor(guildId: string, readonly owner: string | undefined, readonly epoch: number | undefined) {
    super(421, 'NOT_OWNER', `this pod does not serve guild ${guildId} at the expected epoch`);
  }
}

export function createInternalRouter(d: InternalApiDeps): Router {
  const router = new Router({ prefix: '/internal' });

  // Authenticate every request on the raw body before anything else.
  router.use(async (ctx, next) => {
    const limit = ctx.path.includes('/handoff/') && ctx.path.endsWith('/data') ? MAX_COPY : MAX_BODY;
    const body = await readRawBody(ctx.req, limit);
    const v = verifyInternal(d.secrets, { method: ctx.method, pathWithQuery: ctx.url, headers: ctx.headers, body }, Date.now());
    if (!v.ok) throw new AppError(401, v.code, v.message);
    ctx.state['raw'] = body;
    ctx.state['expected'] = { owner: v.owner, epoch: v.epoch };
    await next();
  });

  const guildParam = (ctx: Koa.Context): string => {
    const g = String(ctx.params['guildId'] ?? '');
    if (!isSnowflake(g)) throw new AppError(400, 'BAD_GUILD_ID', `"${g}" is not a guild id`);
    return g;
  };
  /** The epoch this pod serves the guild at, matching what the edge expected; else 421. */
  const served = (ctx: Koa.Context, guildId: string): number => {
    const epoch = d.servedEpoch(guildId);
    const expected = ctx.state['expected'] as { owner: string | undefined; epoch: number | undefined };
    const mismatch = epoch === undefined || (expected.owner !== undefined && expected.owner !== d.podId) || (expected.epoch !== undefined && expected.epoch !== epoch);
    if (mismatch) {
      const k = d.knownOwner(guildId);
      throw new NotOwnerError(guildId, k.owner, k.epoch);
    }
    return epoch as number;
  };
  const json = (ctx: Koa.Context): unknown => {
    try {
      return JSON.parse((ctx.state['raw'] as Buffer).toString('utf8')) as unknown;
    } catch {
      throw new AppError(400, 'BAD_JSON', 'body is not JSON');
    }
  };

  router.post('/guilds/:guildId/interactions', async (ctx) => {
    const g = guildParam(ctx);
    const epoch = served(ctx, g);
    ctx.body = await d.interaction(g, epoch, json(ctx) as APIInteraction);
  });
  router.post('/interactions', async (ctx) => {
    ctx.body = await d.dmInteraction(json(ctx) as APIInteraction);
  });
  router.get('/guilds/:guildId/stats', async (ctx) => {
    const g = guildParam(ctx);
    ctx.body = await d.stats(g, served(ctx, g));
  });
  router.get('/guilds/:guildId/dashboard', async (ctx) => {
    const g = guildParam(ctx);
    ctx.body = await d.dashboard(g, served(ctx, g));
  });

  router.post('/guilds/:guildId/restore', async (ctx) => {
    const g = guildParam(ctx);
    const epoch = served(ctx, g);
    const body = json(ctx);
    const atRaw = body && typeof body === 'object' ? (body as { at?: unknown }).at : undefined;
    if (atRaw !== undefined && atRaw !== null && typeof atRaw !== 'string') throw new AppError(400, 'BAD_TIME', '"at" must be an ISO 8601 time or null');
    const at = typeof atRaw === 'string' ? new Date(atRaw) : undefined;
    if (at && Number.isNaN(at.getTime())) throw new AppError(400, 'BAD_TIME', `"${String(atRaw)}" is not an ISO 8601 time`);
    ctx.body = await d.restore(g, epoch, at);
  });

  const handoffArgs = (ctx: Koa.Context): { g: string; from: string; epoch: number } => {
    const g = guildParam(ctx);
    const from = String(ctx.query['from'] ?? '');
    const epoch = Number(ctx.query['epoch']);
    if (!isPodId(from) || !Number.isSafeInteger(epoch) || epoch < 1) throw new AppError(400, 'BAD_HANDOFF', 'from (pod id) and epoch (positive integer) are required');
    return { g, from, epoch };
  };
  router.post('/handoff/:guildId/prepare', async (ctx) => {
    const a = handoffArgs(ctx);
    await d.handoff.prepare(a.g, a.from, a.epoch);
    ctx.body = { ok: true };
  });
  router.post('/handoff/:guildId/data', async (ctx) => {
    const a = handoffArgs(ctx);
    const sha = String(ctx.query['sha256'] ?? '');
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new AppError(400, 'BAD_HANDOFF', 'sha256 of the copy is required');
    await d.handoff.data(a.g, a.from, a.epoch, ctx.state['raw'] as Buffer, sha);
    ctx.body = { ok: true };
  });
  router.post('/handoff/:guildId/moved', async (ctx) => {
    const a = handoffArgs(ctx);
    await d.handoff.moved(a.g, a.from, a.epoch);
    ctx.body = { ok: true };
  });
  router.post('/handoff/:guildId/abort', async (ctx) => {
    const a = handoffArgs(ctx);
    await d.handoff.abort(a.g, a.from, a.epoch);
    ctx.body = { ok: true };
  });
  return router;
}

/** Error middleware of the gateway's app: AppError → JSON; 421 carries the owner and epoch. */
export async function internalErrors(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (err instanceof NotOwnerError) {
      ctx.status = 421;
      ctx.body = { error: { code: err.code, message: err.message }, owner: err.owner ?? null, epoch: err.epoch ?? null };
      return;
    }
    if (err instanceof LeaseNotHeldError) {
      ctx.status = 409;
      ctx.body = { error: { code: err.code, message: err.message } };
      return;
    }
    if (err instanceof AppError) {
      ctx.status = err.status;
      ctx.body = { error: { code: err.code, message: err.message } };
      return;
    }
    ctx.status = 500;
    ctx.body = { error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } };
    ctx.app.emit('error', err, ctx);
  }
}

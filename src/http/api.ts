// The public JSON API: the cluster as the edge's view sees it, one guild's ownership facts, and
// a guild's activity counts forwarded to its owner.
import Router from '@koa/router';
import { AppError } from '../errors.js';
import type { Forwarder } from './forwarder.js';
import { assertGuildId, readGuildFacts, type GuildFactsDeps } from './guild-facts.js';
import type { RoutingView } from './routing-view.js';

export interface ApiDeps extends GuildFactsDeps {
  readonly routing: RoutingView;
  readonly forwarder: Pick<Forwarder, 'forwardGuild'>;
}

/** Budget for a portal or API request forwarded to an owner (a person is waiting). */
export const READ_FORWARD = { budgetMs: 2000, attemptTimeoutMs: 1500 } as const;

export function apiRouter(d: ApiDeps): Router {
  const router = new Router({ prefix: '/api' });

  router.get('/cluster', async (ctx) => {
    await d.routing.loadAssignments();
    const s = d.routing.status();
    const byOwner: Record<string, number> = {};
    for (const m of s.members) if (m.role === 'gateway') byOwner[m.id] = m.guilds;
    for (const o of s.orphaned) byOwner[o.owner] = (byOwner[o.owner] ?? 0) + 1;
    ctx.body = {
      members: s.members.map((m) => ({ id: m.id, role: m.role, addr: m.addr, guilds: m.guilds, draining: m.draining, ready: m.ready, cordoned: m.cordoned !== undefined, onRing: m.onRing })),
      ringMembers: s.ringMembers,
      ringParams: s.ringParams,
      pins: s.pins,
      cordons: s.cordons,
      overrides: s.overrides,
      leases: { total: s.guilds.owned, known: s.guilds.known, unowned: s.guilds.unowned.length, orphaned: s.orphaned.length, byOwner },
      unowned: s.guilds.unowned.slice(0, 1000),
      recentMoves: d.routing.recentMoves(),
      ready: d.routing.ready,
    };
  });

  router.get('/guilds/:guildId', async (ctx) => {
    const f = await readGuildFacts(d, ctx.params['guildId'] ?? '');
    if (!f.known) throw new AppError(404, 'UNKNOWN_GUILD', `guild ${f.guildId} has no lease, no history in Postgres and no pin: leasehold has never seen it`);
    ctx.body = {
      guildId: f.guildId,
      owner: f.lease?.owner ?? null,
      epoch: f.lease?.epoch ?? null,
      since: f.lease?.since ?? null,
      ttlMs: f.lease?.ttlMs ?? null,
      dataEpoch: f.dataEpoch ?? null,
      pin: f.pin ?? null,
      desiredOwner: f.desiredOwner ?? null,
      source: f.leaseSource,
      ...(f.storeError ? { warnings: [`Postgres unreachable: ${f.storeError}`] } : {}),
    };
  });

  router.get('/guilds/:guildId/stats', async (ctx) => {
    const guildId = ctx.params['guildId'] ?? '';
    assertGuildId(guildId);
    const r = await d.forwarder.forwardGuild(guildId, { method: 'GET', path: `/internal/guilds/${guildId}/stats`, ...READ_FORWARD });
    if (!r.ok) {
      const status = r.code === 'NO_OWNER' ? 503 : 502;
      throw new AppError(status, r.code, r.message, { owner: r.pod ?? null });
    }
    if (!r.contentType.includes('json')) throw new AppError(502, 'BAD_OWNER_REPLY', `owner ${r.pod} answered ${r.status} with ${r.contentType || 'no content type'}`);
    ctx.status = r.status;
    ctx.type = 'application/json';
    ctx.set('X-Leasehold-Served-By', r.pod);
    ctx.body = r.body;
  });

  return router;
}

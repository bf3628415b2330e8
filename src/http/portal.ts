// The portal's routes: gather what the pages show (the edge's view, Redis, Postgres, the owner)
// with short timeouts, and render. A dead pod degrades a page; it never breaks it.
import Router from '@koa/router';
import { AppError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Forwarder } from './forwarder.js';
import { parseDashboard, parsePodStatus } from './dashboard.js';
import { readGuildFacts, type GuildFactsDeps } from './guild-facts.js';
import { renderClusterPage, renderErrorPage, renderGuildPage, type DashboardState, type PodRuntime } from './portal-html.js';
import type { RoutingView } from './routing-view.js';
import { READ_FORWARD } from './api.js';

export interface PortalDeps extends GuildFactsDeps {
  readonly routing: RoutingView;
  readonly forwarder: Pick<Forwarder, 'forwardGuild' | 'requestPod'>;
  readonly clock: Clock;
  readonly podId: string;
}

/** Gateways' own status (replication lag) is asked at most this often, each with a short timeout. */
const POD_STATUS_MAX_AGE_MS = 2000;
const POD_STATUS_TIMEOUT_MS = 400;

export function portalRouter(d: PortalDeps): Router {
  const router = new Router();
  let podCache: { at: number; value: Promise<Map<string, PodRuntime>> } | undefined;

  const podRuntime = (gateways: readonly { id: string; addr: string }[]): Promise<Map<string, PodRuntime>> => {
    const now = d.clock.now();
    if (podCache && now - podCache.at < POD_STATUS_MAX_AGE_MS) return podCache.value;
    const value = Promise.all(
      gateways.map(async (g): Promise<[string, PodRuntime]> => {
        const r = await d.forwarder.requestPod(g.id, g.addr, { method: 'GET', path: '/internal/status', attemptTimeoutMs: POD_STATUS_TIMEOUT_MS });
        if (!r.ok) return [g.id, { reachable: false, replicationLagSeconds: undefined }];
        // A gateway without the status route (404) is reachable; its lag is just unknown.
        let lag: number | undefined;
        try {
          lag = r.status === 200 ? parsePodStatus(JSON.parse(r.body.toString('utf8'))).replicationLagSeconds : undefined;
        } catch {
          lag = undefined;
        }
        return [g.id, { reachable: true, replicationLagSeconds: lag }];
      }),
    ).then((rows) => new Map(rows));
    podCache = { at: now, value };
    return value;
  };

  const html = (ctx: { type: string; body: unknown; set(k: string, v: string): void }, body: string) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
    ctx.body = body;
  };

  router.get('/', async (ctx) => {
    // The first view after start waits (briefly) for Postgres's list of known guilds.
    await Promise.race([d.routing.loadAssignments(), new Promise((r) => setTimeout(r, 500))]);
    const status = d.routing.status();
    const pods = await podRuntime(status.members.filter((m) => m.role === 'gateway'));
    html(ctx, renderClusterPage({ nowMs: d.clock.wallNow(), edgePod: d.podId, status, moves: d.routing.recentMoves(), pods }));
  });

  router.get('/guilds/:guildId', async (ctx) => {
    const guildId = ctx.params['guildId'] ?? '';
    let facts;
    try {
      facts = await readGuildFacts(d, guildId);
      if (!facts.known) throw new AppError(404, 'UNKNOWN_GUILD', `leasehold has never seen guild ${guildId}: no lease, no history in Postgres, no pin.`);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      ctx.status = err.status;
      html(ctx, renderErrorPage(d.podId, d.clock.wallNow(), err.status, err.code, err.message));
      return;
    }
    let dashboard: DashboardState;
    if (!facts.lease && !d.routing.route(guildId)) dashboard = { kind: 'no_owner' };
    else {
      const r = await d.forwarder.forwardGuild(guildId, { method: 'GET', path: `/internal/guilds/${guildId}/dashboard`, ...READ_FORWARD });
      if (!r.ok) dashboard = r.code === 'NO_OWNER' ? { kind: 'no_owner' } : { kind: 'unreachable', owner: r.pod ?? facts.lease?.owner, message: r.message };
      else if (r.status !== 200) dashboard = { kind: 'unreachable', owner: r.pod, message: `owner answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}` };
      else {
        let parsed: ReturnType<typeof parseDashboard>;
        try {
          parsed = parseDashboard(JSON.parse(r.body.toString('utf8')));
        } catch {
          parsed = { ok: false, message: 'dashboard reply is not JSON' };
        }
        dashboard = parsed.ok ? { kind: 'ok', pod: r.pod, data: parsed.value } : { kind: 'unreachable', owner: r.pod, message: parsed.message };
      }
    }
    html(ctx, renderGuildPage({ nowMs: d.clock.wallNow(), edgePod: d.podId, guildId, lease: facts.lease, dataEpoch: facts.dataEpoch, storeError: facts.storeError, pin: facts.pin, desiredOwner: facts.desiredOwner, dashboard }));
  });

  return router;
}

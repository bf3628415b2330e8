// Test harness for the edge: a real edge over a per-test Redis prefix and Postgres schema,
// small fake gateways (node:http servers that verify the internal signature with the real
// verify function), a fake Discord webhook endpoint, and signed Discord interactions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createClusterClient, type ClusterClient } from '../../../src/cluster/client.js';
import { MemberClient } from '../../../src/cluster/members.js';
import { ringParams, ringParamsId } from '../../../src/cluster/ring.js';
import { agreeRingParams } from '../../../src/cluster/members.js';
import { createAssignmentStore, type AssignmentStore } from '../../../src/store/index.js';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/log.js';
import { verifyInternal } from '../../../src/runtime/internal-auth.js';
import { createEdge, type Edge, type EdgeOptions } from '../../../src/http/edge.js';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../../helpers/services.js';

export const SECRET = 'internal-secret-0001';
export const OLD_SECRET = 'internal-secret-old1';
export const ADMIN = 'admin-token-000001';
export const APP_ID = '111111111111111111';
export const PARAMS = ringParams(64);

export interface DiscordKeys {
  readonly publicKeyHex: string;
  readonly privateKey: KeyObject;
}

export function discordKeys(): DiscordKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The last 32 bytes of the SPKI DER are the raw key, which is what Discord shows as hex.
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKeyHex: der.subarray(der.length - 32).toString('hex'), privateKey };
}

/** Headers Discord would send for this body. */
export function discordHeaders(keys: DiscordKeys, body: string, tsSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const ts = String(tsSeconds);
  return {
    'content-type': 'application/json',
    'x-signature-timestamp': ts,
    'x-signature-ed25519': sign(null, Buffer.from(ts + body), keys.privateKey).toString('hex'),
  };
}

let seq = 0n;
/** A fresh snowflake (unique per call). */
export function snowflake(): string {
  seq += 1n;
  return ((BigInt(Date.now() - 1420070400000) << 22n) | (seq & 0x3fffffn)).toString();
}

export function commandInteraction(o: { guildId?: string; name?: string; type?: number; id?: string; token?: string; commandType?: number }): Record<string, unknown> {
  return {
    id: o.id ?? snowflake(),
    application_id: APP_ID,
    type: o.type ?? 2,
    token: o.token ?? `tok-${snowflake()}`,
    version: 1,
    ...(o.guildId ? { guild_id: o.guildId } : {}),
    data: { id: snowflake(), name: o.name ?? 'stats', type: o.commandType ?? 1 },
  };
}

// ---- fake gateways ----

export interface GatewayRequest {
  readonly method: string;
  readonly path: string;
  readonly owner: string | undefined;
  readonly epoch: number | undefined;
  readonly deadlineAt: number | undefined;
  readonly body: string;
}

export type GatewayReply = { status: number; body: unknown } | 'drop';
export type GatewayBehaviour = (req: GatewayRequest) => GatewayReply | Promise<GatewayReply>;

export interface FakeGateway {
  readonly podId: string;
  readonly addr: string;
  readonly requests: GatewayRequest[];
  /** Requests refused for a bad signature (must stay 0). */
  readonly rejected: number;
  behave(fn: GatewayBehaviour): void;
  /** Close the listener and every connection: the pod is gone (ECONNREFUSED from now on). */
  kill(): Promise<void>;
}

export async function startFakeGateway(podId: string, secrets: readonly string[] = [SECRET]): Promise<FakeGateway> {
  const requests: GatewayRequest[] = [];
  let rejected = 0;
  let behaviour: GatewayBehaviour = () => ({ status: 200, body: { type: 4, data: { content: `hello from ${podId}` } } });
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const v = verifyInternal(secrets, { method: req.method ?? 'GET', pathWithQuery: req.url ?? '/', headers: req.headers, body }, Date.now());
      if (!v.ok) {
        rejected++;
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: v.code, message: v.message } }));
        return;
      }
      const r: GatewayRequest = { method: req.method ?? '', path: req.url ?? '', owner: v.owner, epoch: v.epoch, deadlineAt: v.deadlineAt, body: body.toString('utf8') };
      requests.push(r);
      Promise.resolve(behaviour(r)).then(
        (reply) => {
          if (reply === 'drop') {
            req.socket.destroy();
            return;
          }
          res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    podId,
    addr,
    requests,
    get rejected() {
      return rejected;
    },
    behave(fn) {
      behaviour = fn;
    },
    kill: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** What a 421 from a gateway looks like. */
export const notOwner = (owner: string | null, epoch: number | null): GatewayReply => ({ status: 421, body: { error: { code: 'NOT_OWNER', message: 'not the owner' }, owner, epoch } });

// ---- fake Discord webhook endpoint ----

export interface FakeDiscord {
  readonly url: string;
  readonly edits: { path: string; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function startFakeDiscord(): Promise<FakeDiscord> {
  const edits: { path: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PATCH' && /^\/api\/v10\/webhooks\/\d+\/[^/]+\/messages\/@original$/.test(req.url ?? '')) {
        edits.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1"}');
      } else res.writeHead(404).end('{"message":"Unknown route"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
    edits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

// ---- the edge under test ----

export interface EdgeHarness {
  readonly t: TestRedis;
  readonly schema: TestSchema;
  readonly cluster: ClusterClient;
  readonly store: AssignmentStore;
  readonly edge: Edge;
  readonly keys: DiscordKeys;
  readonly discord: FakeDiscord;
  /** The edge served on a free port through app.callback(). */
  readonly url: string;
  /** Register a fake gateway as a live, ready ring member. */
  addGateway(g: FakeGateway, o?: { ready?: boolean; ttlMs?: number }): Promise<void>;
  /** Give a guild's lease to a pod (claim, or compare-and-set from the current owner). */
  lease(guildId: string, owner: string, ttlMs?: number): Promise<number>;
  /** Wait until the edge's mirror routes the guild to this owner. */
  routed(guildId: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

export async function startEdgeHarness(o: { timing?: EdgeOptions['timing']; forwarding?: EdgeOptions['forwarding'] } = {}): Promise<EdgeHarness> {
  const t = await testRedis();
  const schema = await testSchema();
  const cluster = createClusterClient(new Redis(t.url, { maxRetriesPerRequest: 1 }), t.prefix, 1000);
  const streamRedis = new Redis(t.url, { maxRetriesPerRequest: 1 });
  const store = createAssignmentStore({ databaseUrl: schema.url, schema: schema.schema });
  await store.migrate();
  await agreeRingParams(cluster.scripts, cluster.keys, PARAMS, 1000);
  const keys = discordKeys();
  const discord = await startFakeDiscord();
  const edge = createEdge({
    podId: 'edge-1',
    publicKey: keys.publicKeyHex,
    applicationId: APP_ID,
    adminTokens: [ADMIN, 'admin-token-second'],
    internalSecrets: [SECRET, OLD_SECRET],
    discordApiUrl: discord.url,
    reconcileEveryMs: 60_000,
    ringParams: PARAMS,
    cluster,
    streamRedis,
    store,
    clock: systemClock,
    logger: silentLogger,
    timing: o.timing,
    forwarding: o.forwarding,
  });
  await edge.start();
  const server = createServer(edge.app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const members: MemberClient[] = [];
  return {
    t,
    schema,
    cluster,
    store,
    edge,
    keys,
    discord,
    url,
    async addGateway(g, m = {}) {
      const member = new MemberClient(cluster.redis, cluster.scripts, cluster.keys, g.podId, m.ttlMs ?? 60_000, 1000);
      members.push(member);
      await member.heartbeat({ addr: g.addr, role: 'gateway', version: 'test', ring: ringParamsId(PARAMS), ready: m.ready ?? true, draining: false });
      await waitFor(`${g.podId} in the edge's view`, () => edge.routing.addrOf(g.podId) === g.addr);
    },
    async lease(guildId, owner, ttlMs = 60_000) {
      const cur = await cluster.leases.read(guildId);
      if (cur.lease) {
        const h = await cluster.leases.handoff(guildId, { owner: cur.lease.owner, epoch: cur.lease.epoch }, owner, { floor: 0, ttlMs });
        if (!h.ok) throw new Error(`handoff of ${guildId} failed`);
        return h.epoch;
      }
      const c = await cluster.leases.claim(guildId, owner, { floor: 0, ttlMs, waitedFullTtl: true });
      if (!c.ok) throw new Error(`claim of ${guildId} failed: ${JSON.stringify(c)}`);
      return c.epoch;
    },
    async routed(guildId, owner) {
      await waitFor(`${guildId} routed to ${owner}`, () => edge.routing.route(guildId)?.owner === owner && edge.routing.table.lease(guildId)?.owner === owner);
    },
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await edge.stop({ drainMs: 2000 });
      await discord.close();
      await store.close();
      await cluster.close();
      await t.cleanup();
      await schema.cleanup();
    },
  };
}

/** Every key under the prefix with its DUMP, and every table of the schema hashed: "nothing changed" checks. */
export async function stateOf(h: EdgeHarness): Promise<{ redis: Record<string, string>; postgres: Record<string, string> }> {
  const redis: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await h.t.redis.scan(cursor, 'MATCH', `${h.t.prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) redis[k] = ((await h.t.redis.dumpBuffer(k)) ?? Buffer.alloc(0)).toString('hex');
  } while (cursor !== '0');
  const c = new pg.Client({ connectionString: h.schema.url });
  await c.connect();
  const postgres: Record<string, string> = {};
  try {
    const tables = await c.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1 order by 1', [h.schema.schema]);
    for (const { table_name } of tables.rows) {
      const r = await c.query<{ h: string | null }>(`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from "${h.schema.schema}"."${table_name}" t`);
      postgres[table_name] = r.rows[0]?.h ?? '';
    }
  } finally {
    await c.end();
  }
  return { redis, postgres };
}

// ---- a small live-looking cluster for the portal ----

/** What a gateway answers for the portal: its status and guild dashboards, made from the guild id. */
export function portalGateway(podId: string, lagSeconds: number): GatewayBehaviour {
  return (q) => {
    if (q.path === '/internal/status') return { status: 200, body: { pod: podId, replicationLagSeconds: lagSeconds } };
    const m = /^\/internal\/guilds\/(\d+)\/dashboard$/.exec(q.path);
    if (!m) return { status: 404, body: { error: { code: 'NOT_FOUND', message: q.path } } };
    const seed = Number(BigInt(m[1] as string) % 997n);
    const day = (i: number) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10);
    return {
      status: 200,
      body: {
        activity: {
          total: 1200 + seed,
          days: Array.from({ length: 10 }, (_, i) => ({ day: day(i), messages: 40 + ((seed * (i + 3)) % 120) })),
          channels: ['general', 'memes', 'help', 'announcements'].map((name, i) => ({ id: `9000000000000000${10 + i}`, name, messages: 500 - i * 110 + (seed % 50) })),
          users: ['ada', 'grace', 'linus', 'margaret'].map((name, i) => ({ id: `8000000000000000${10 + i}`, name, messages: 300 - i * 60 })),
        },
        reports: [
          { id: 'r1', messageId: '700000000000000001', channelId: '900000000000000010', authorId: '800000000000000012', reporterId: '800000000000000011', reason: 'spam link <b>free nitro</b>', createdAt: Date.now() - 5 * 60_000 },
          { id: 'r2', messageId: '700000000000000002', channelId: '900000000000000011', authorId: '800000000000000013', reporterId: '800000000000000010', reason: 'harassment', createdAt: Date.now() - 3 * 3600_000 },
        ],
        settings: { moderatorRoleId: '600000000000000001', logChannelId: '900000000000000013', alertKeywords: ['scam', 'nitro'] },
        replicationLagSeconds: lagSeconds,
      },
    };
  };
}

export interface PortalCluster {
  readonly gateways: FakeGateway[];
  readonly guilds: string[];
  /** A guild whose owner (gw-c) is gone: its page shows "owner unreachable". */
  readonly orphanGuild: string;
}

/** Three gateways (one gone), 40 guilds with leases, a pin, a cordon and some handoffs in lh:events. */
export async function seedPortalCluster(h: EdgeHarness): Promise<PortalCluster> {
  const gateways: FakeGateway[] = [];
  const lags: Record<string, number> = { 'gw-a': 0.21, 'gw-b': 0.34, 'gw-c': 0.18 };
  for (const id of ['gw-a', 'gw-b', 'gw-c']) {
    const g = await startFakeGateway(id);
    g.behave(portalGateway(id, lags[id] as number));
    await h.addGateway(g);
    gateways.push(g);
  }
  const guilds = Array.from({ length: 40 }, () => snowflake());
  const desired = (g: string) => h.edge.routing.table.desiredOwner(g).owner as string;
  for (const g of guilds) await h.lease(g, desired(g));
  // A few planned moves, so the page has history: gw-a → gw-b → back.
  for (const g of guilds.slice(0, 4)) {
    const home = desired(g);
    const other = home === 'gw-b' ? 'gw-a' : 'gw-b';
    await h.lease(g, other);
    await h.lease(g, home);
  }
  // An operator pinned one guild to gw-b and cordoned gw-c for maintenance (its guilds stay until handed off).
  await h.cluster.controls.setPin(guilds[5] as string, 'gw-b');
  await h.cluster.controls.setCordon('gw-c', 'kernel upgrade');
  for (const g of guilds) await h.store.commitEpoch(g, (await h.cluster.leases.read(g)).lease?.owner ?? 'gw-a', (await h.cluster.leases.read(g)).lease?.epoch ?? 1, 'claim');
  for (const g of guilds.slice(0, 30)) await h.store.advanceDataEpoch(g, (await h.cluster.leases.read(g)).lease?.epoch ?? 1);
  // Two guilds Postgres knows but nobody holds now (their owner released them).
  for (const g of [snowflake(), snowflake()]) await h.store.commitEpoch(g, 'gw-a', 1, 'claim');
  await h.edge.routing.reconcile();
  const orphanGuild = guilds.find((g) => h.edge.routing.table.lease(g)?.owner === 'gw-c') ?? (guilds[6] as string);
  await h.edge.routing.loadAssignments();
  return { gateways, guilds, orphanGuild };
}

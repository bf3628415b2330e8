// Starts the Discord stand-in: one HTTP server for REST (/api), the control API (/control), the
// ops routes and the gateway WebSocket (/gateway), over one seeded world.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayDispatchEvents, GatewayIntentBits } from 'discord-api-types/v10';
import { errorMessage } from '../errors.js';
import { createOpsApp } from '../runtime/ops.js';
import { serve } from '../runtime/serve.js';
import { createControlHandler } from './control.js';
import { createCounters } from './counters.js';
import { IdentifyLimiter } from './gateway/identify-limits.js';
import { GatewayServer } from './gateway/server.js';
import { sendJson } from './http-util.js';
import { InteractionSender, type InteractionInput } from './interactions/sender.js';
import { createInteractionSigner } from './interactions/signing.js';
import { InteractionTracker } from './interactions/tracker.js';
import { Messages, type PostMessageInput } from './messages.js';
import { resolveOptions, type SimOptions } from './options.js';
import { channelPayload, guildCreatePayload, memberPayload } from './payloads.js';
import { createRandom, deriveSeed, ZipfSampler } from './random.js';
import type { InteractionRecord, MessageRecord } from './records.js';
import { NonceStore } from './rest/nonces.js';
import { RestRateLimiter } from './rest/rate-limits.js';
import { restRoutes } from './rest/routes.js';
import { createRestHandler } from './rest/server.js';
import { SimLog } from './sim-log.js';
import { SnowflakeGenerator } from './snowflake.js';
import { createState, guildInfo, type GuildInfo, type SimState } from './state.js';
import { Tokens } from './tokens.js';
import { startTraffic as runTraffic, type TrafficHandle, type TrafficOptions } from './traffic.js';
import { World, type ChannelRecord, type CreateGuildInput, type MemberRecord, type StoredMessage } from './world.js';

/** Gateway faults on demand (zombie connections, drops, op 7, op 9). */
export interface SimGatewayControl {
  /** Stop (false) or resume (true) answering heartbeats with op 11. */
  setHeartbeatAcks(enabled: boolean): void;
  /** Cut connections abnormally (clients see 1006 and RESUME); returns how many. */
  drop(shard?: number): number;
  /** Send op 7 RECONNECT; returns how many connections got it. */
  reconnect(shard?: number): number;
  /** Send op 9 INVALID_SESSION; a non-resumable one ends the session. */
  invalidate(resumable: boolean, shard?: number): number;
}

export interface Sim {
  /** Value for discord.js `rest.api`, e.g. http://127.0.0.1:PORT/api. */
  readonly restUrl: string;
  readonly controlUrl: string;
  readonly gatewayUrl: string;
  /** Hex Ed25519 public key the interactions endpoint verifies with. */
  readonly publicKey: string;
  readonly applicationId: string;
  readonly state: SimState;
  readonly log: SimLog;
  readonly gateway: SimGatewayControl;
  postMessage(input: PostMessageInput): MessageRecord;
  startTraffic(opts: TrafficOptions): TrafficHandle;
  traffic(id: string): TrafficHandle | undefined;
  sendInteraction(input: InteractionInput & { url: string }): Promise<InteractionRecord>;
  /** Add the bot to a guild (a new one, or one it was removed from): GUILD_CREATE to its shard. */
  createGuild(input?: CreateGuildInput): GuildInfo;
  createGuilds(count: number): GuildInfo[];
  /** Remove the bot from a guild: GUILD_DELETE to its shard. */
  removeGuild(guildId: string): GuildInfo;
  createChannel(guildId: string, name?: string): ChannelRecord;
  addMember(guildId: string, userId?: string): MemberRecord;
  close(): Promise<void>;
}

const OPS_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const o = resolveOptions(opts);
  const signer = createInteractionSigner(o.signingKey);
  const { clock } = o;
  const logger = o.logger;
  const world = new World(o.seed, o.shards, o.applicationId, o.messageCapacity, () => clock.wallNow());
  for (let i = 0; i < o.guilds; i++) world.createGuild();
  const log = new SimLog(o.logCapacity, o.logFile);
  const counters = createCounters();
  const tokens = new Tokens(o.invalidTokens);
  const identify = new IdentifyLimiter(clock, { windowMs: o.identifyWindowMs, maxConcurrency: o.maxConcurrency, total: o.dailyIdentifies });
  let base = '';
  const wsBase = () => base.replace(/^http/, 'ws');
  const gateway = new GatewayServer({ options: o, world, log, identify, tokens, counters, clock, logger, wsBase });
  const ids = new SnowflakeGenerator(clock, 1, 0);
  const messages = new Messages(world, gateway, ids, counters, clock);
  const tracker = new InteractionTracker(log, clock);
  const rnd = createRandom(deriveSeed(o.seed, 0));
  // Interactions without a guild go where the traffic goes: mostly to the busiest guilds.
  let sampler: ZipfSampler | undefined;
  const pickGuild = () => {
    const n = world.guildList.length;
    if (n === 0) return undefined;
    if (sampler?.n !== n) sampler = new ZipfSampler(n);
    for (let tries = 0; tries < 20; tries++) {
      const g = world.guildList[sampler.sample(rnd)];
      if (g && !g.removed) return g;
    }
    return world.guildList.find((g) => !g.removed);
  };
  const sender = new InteractionSender({ world, messages, log, tracker, signer, ids, counters, clock, logger, rnd, pickGuild, timeoutMs: o.interactionTimeoutMs });
  const limiter = new RestRateLimiter(clock, o.globalRateLimit, o.routeLimits);
  const nonces = new NonceStore<StoredMessage>(clock, o.nonceWindowMs);
  const gatewayUrl = () => `${wsBase()}/gateway`;
  const rest = createRestHandler({
    routes: restRoutes({ world, messages, gateway, tracker, identify, nonces, ids, clock, shards: o.shards, gatewayUrl }),
    limiter,
    tokens,
    counters,
    log,
    clock,
    logger,
  });
  const traffics = new Map<string, TrafficHandle>();
  let trafficRuns = 0;

  const dispatchGuildCreate = (g: ReturnType<World['createGuild']>) =>
    gateway.dispatchGuild(g, GatewayDispatchEvents.GuildCreate, guildCreatePayload(world, g, true), { intent: GatewayIntentBits.Guilds });

  let control: ReturnType<typeof createControlHandler> | undefined;
  const ops = createOpsApp().callback();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    const fail = (err: unknown) => {
      logger.error({ err, path }, 'sim request failed');
      if (!res.headersSent) sendJson(res, 500, { message: errorMessage(err), code: 0 });
      else res.destroy();
    };
    if (path === '/api' || path.startsWith('/api/')) rest(req, res, path.slice(4), url.searchParams).catch(fail);
    else if (control !== undefined && (path === '/control' || path.startsWith('/control/'))) control(req, res, path.slice(8), url.searchParams).catch(fail);
    else if (OPS_PATHS.has(path)) void ops(req, res);
    else sendJson(res, 404, { message: '404: Not Found', code: 0 });
  };

  const listening = await serve(handler, {
    host: o.host,
    port: o.port,
    advertiseAddr: o.advertiseAddr,
    logger,
    fields: ({ url }) => ({ restUrl: `${url}/api`, controlUrl: `${url}/control`, gatewayUrl: `${url.replace(/^http/, 'ws')}/gateway`, publicKey: signer.publicKey, applicationId: world.botUser.id, guilds: o.guilds, shards: o.shards }),
  });
  base = listening.url;
  listening.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (path === '/gateway' || path === '/gateway/resume') gateway.handleUpgrade(req, socket, head);
    else socket.destroy();
  });

  const sim: Sim = {
    restUrl: `${base}/api`,
    controlUrl: `${base}/control`,
    gatewayUrl: gatewayUrl(),
    publicKey: signer.publicKey,
    applicationId: world.botUser.id,
    state: createState(world, gateway, identify, counters),
    log,
    gateway: {
      setHeartbeatAcks: (enabled) => gateway.setHeartbeatAcks(enabled),
      drop: (shard) => gateway.drop(shard),
      reconnect: (shard) => gateway.reconnect(shard),
      invalidate: (resumable, shard) => gateway.invalidate(resumable, shard),
    },
    postMessage: (input) => messages.post(input),
    startTraffic: (t) => {
      trafficRuns += 1;
      const handle = runTraffic({ world, messages, clock, logger, sendInteraction: (i) => sender.send(i) }, t, deriveSeed(o.seed, trafficRuns));
      traffics.set(handle.id, handle);
      return handle;
    },
    traffic: (id) => traffics.get(id),
    sendInteraction: (input) => sender.send(input),
    createGuild: (input) => {
      const g = world.createGuild(input);
      dispatchGuildCreate(g);
      return guildInfo(g);
    },
    createGuilds: (count) => Array.from({ length: count }, () => sim.createGuild()),
    removeGuild: (guildId) => {
      const g = world.activeGuild(guildId);
      // Dispatched before the guild is marked removed, so it still routes to the guild's shard.
      gateway.dispatchGuild(g, GatewayDispatchEvents.GuildDelete, { id: g.id }, { intent: GatewayIntentBits.Guilds });
      g.removed = true;
      g.removals += 1;
      return guildInfo(g);
    },
    createChannel: (guildId, name) => {
      const g = world.activeGuild(guildId);
      const c = world.addChannel(g, name);
      gateway.dispatchGuild(g, GatewayDispatchEvents.ChannelCreate, channelPayload(c), { intent: GatewayIntentBits.Guilds });
      return { ...c };
    },
    addMember: (guildId, userId) => {
      const g = world.activeGuild(guildId);
      const m = world.addMember(g, userId);
      const u = world.users.get(m.userId);
      if (u) gateway.dispatchGuild(g, GatewayDispatchEvents.GuildMemberAdd, { ...memberPayload(m, u), guild_id: g.id }, { intent: GatewayIntentBits.GuildMembers });
      return { ...m };
    },
    close: async () => {
      for (const t of traffics.values()) t.stop();
      sender.abortAll();
      await gateway.close();
      await listening.close();
      await log.close();
    },
  };

  control = createControlHandler(sim);
  return sim;
}

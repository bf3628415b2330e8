// A gateway process: wires the Discord sessions, the ownership loop, the guild data, the event
// pipeline, the handoff protocol and the internal API together, and drains on shutdown.
import { join } from 'node:path';
import Koa from 'koa';
import { Redis } from 'ioredis';
import type { APIInteraction } from 'discord-api-types/v10';
import { systemClock, type Clock } from '../clock.js';
import type { GatewayConfig } from '../config.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import { createClusterClient, type ClusterClient } from '../cluster/client.js';
import { MemberClient } from '../cluster/members.js';
import { OwnershipLoop } from '../cluster/ownership-loop.js';
import { PendingInteractions } from '../cluster/pending-interactions.js';
import { SharedRateWindow, SlidingRateWindow, sleep } from '../cluster/rate-window.js';
import { checkEvictionPolicy, connectRedis } from '../cluster/redis.js';
import { ringParams } from '../cluster/ring.js';
import { createAssignmentStore, type AssignmentStore } from '../store/index.js';
import { activityStats, createGuildData, listReports, replicaTarget, type GuildData } from '../guild-data/index.js';
import { markLeft } from '../store/index.js';
import { createOpsRouter } from '../runtime/ops.js';
import { serve, type Listening } from '../runtime/serve.js';
import { DiscordSessions } from './discord.js';
import { EventPipeline } from './pipeline.js';
import { HandoffTarget, handOff } from './handoff.js';
import { HistoryLog } from './history-log.js';
import { createInternalRouter, internalErrors } from './internal-api.js';
import { ReplayBuffer } from './replay-buffer.js';
import { GLOBAL_WINDOW_MS, sharedMakeRequest } from './rest-limiter.js';
import { localFileEpoch } from './local-epoch.js';
import { dataSource } from './data-source.js';
import { registerCommands } from './commands.js';
import { restoreInPlace } from './restore-in-place.js';
import { RetentionJob } from './retention.js';

const VERSION = '0.1.0';

export class Gateway {
  private readonly clock: Clock = systemClock;
  private redis!: Redis;
  private streamRedis!: Redis;
  private cluster!: ClusterClient;
  private store!: AssignmentStore;
  private guildData!: GuildData;
  private discord!: DiscordSessions;
  private pipeline!: EventPipeline;
  private loop!: OwnershipLoop;
  private handoffTarget!: HandoffTarget;
  private history!: HistoryLog;
  private buffer!: ReplayBuffer;
  private retention: RetentionJob | undefined;
  private server: Listening | undefined;
  private draining = false;
  private addr = '';
  private readonly liveWaiters = new Map<string, (() => void)[]>();
  /** Guild → the epoch this process last stopped it at without handing it away (data-source.ts). */
  private readonly stoppedHere = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    const log = this.logger;
    this.redis = connectRedis(c.redisUrl, { name: `leasehold-${c.podId}` });
    this.streamRedis = new Redis(c.redisUrl, { connectionName: `leasehold-${c.podId}-stream` });
    await checkEvictionPolicy(this.redis, log, c.strictEvictionPolicy);
    this.cluster = createClusterClient(this.redis, c.keyPrefix, c.eventsMaxLen);
    // Claims, restores, data_epoch moves and the history all use Postgres at once after a failover.
    this.store = createAssignmentStore({ databaseUrl: c.databaseUrl, schema: c.databaseSchema, logger: log, maxConnections: 8 });
    await this.store.migrate();

    // A dead owner's guilds are claimed ~TTL after its last renew, then restored: keep more than that.
    this.buffer = new ReplayBuffer(this.clock, c.leaseTtlMs + 30_000, c.eventBufferMaxBytes);
    this.guildData = createGuildData({
      dataDir: c.dataDir,
      replicaUrl: c.replicaUrl,
      store: this.store,
      idleCloseMs: c.guildIdleCloseMs,
      restoreConcurrency: c.restoreConcurrency,
      restoreReadThreads: c.restoreReadThreads,
      replication: { monitorIntervalMs: c.litestreamMonitorIntervalMs, groupSize: c.litestreamGroupSize, nice: c.litestreamNice },
      // Lets a restore whose latest replica state is unreadable fall back to an earlier WAL index
      // when this buffer can replay everything after it (restore-fallback.ts).
      replayCoversSince: () => this.clock.wallNow() - (this.clock.now() - this.buffer.completeSince()),
      logger: log,
    });
    this.guildData.start();
    this.history = new HistoryLog(join(c.dataDir, 'history', `${c.podId}.jsonl`));
    const pending = new PendingInteractions(this.redis, this.cluster.scripts, c.keyPrefix);

    const scripts = this.cluster.scripts;
    const keys = this.cluster.keys;
    this.discord = new DiscordSessions({
      token: c.discordToken,
      apiUrl: c.discordApiUrl,
      shardCount: c.shardCount,
      podId: c.podId,
      logger: log,
      throttle: { scripts, keys, windowMs: c.identifyWindowMs, budgetFloor: c.identifyBudgetFloor },
      makeRequest: sharedMakeRequest({
        global: new SlidingRateWindow(scripts, keys, 'rest:global:sliding', c.discordGlobalRateLimit, GLOBAL_WINDOW_MS),
        invalid: new SharedRateWindow(scripts, keys, 'rest:invalid', 10_000, 600_000),
        invalidFloor: 500,
        logger: log,
      }),
      onDispatch: (p) => this.pipeline.onDispatch(p),
      onReadyChange: () => undefined,
    });
    metrics.identifyBudgetFloor.set(c.identifyBudgetFloor);

    this.pipeline = new EventPipeline({
      podId: c.podId,
      dbs: this.guildData.dbs,
      history: this.history,
      buffer: this.buffer,
      rest: this.discord.client.rest,
      pending,
      clock: this.clock,
      logger: log,
      holds: (g, e) => this.loop.holds(g, e),
      onFenced: (g, e) => this.loop.fenced(g, e),
      onGuildLeft: (g) => void this.guildLeft(g),
    });

    this.handoffTarget = new HandoffTarget({
      clock: this.clock,
      logger: log,
      timeoutMs: 30_000,
      adopt: (g, e, from) => this.loop.adopt(g, e, from),
      whenLive: (g, e) => this.whenLive(g, e),
    });

    // The internal API and ops endpoints serve before the loop starts, so the member address is real.
    const app = new Koa();
    app.on('error', (err: unknown) => log.warn({ err }, 'internal API error'));
    app.use(internalErrors);
    const internal = createInternalRouter({
      secrets: c.internalSecrets,
      podId: c.podId,
      servedEpoch: (g) => {
        const h = this.loop.heldLeases().get(g);
        return h && this.pipeline.isLive(g, h.epoch) && this.loop.holds(g, h.epoch) ? h.epoch : undefined;
      },
      knownOwner: (g) => {
        const l = this.loop.routing.lease(g);
        return { owner: l?.owner, epoch: l?.epoch };
      },
      interaction: (g, e, i) => this.pipeline.handleInteraction(g, e, i),
      dmInteraction: async (i: APIInteraction) => ({ type: 4, data: { content: `Hello${i.user ? ` <@${i.user.id}>` : ''}! My commands work inside servers.`, flags: 64 } }),
      stats: (g, e) => this.guildData.dbs.read(this.pipeline.fence(g, e), (db) => activityStats(db)),
      dashboard: async (g, e) => {
        const fence = this.pipeline.fence(g, e);
        const [stats, reports] = await Promise.all([this.guildData.dbs.read(fence, (db) => activityStats(db)), this.guildData.dbs.read(fence, (db) => listReports(db, { status: 'open', limit: 20 }))]);
        return { guildId: g, owner: c.podId, epoch: e, stats, openReports: reports };
      },
      restore: (g, e, at) =>
        restoreInPlace(
          {
            guildData: this.guildData,
            pipeline: this.pipeline,
            rollEpoch: (g2, e2) => this.loop.rollEpoch(g2, e2, 'restore'),
            giveUp: async (g2, e2) => {
              this.pipeline.stop(g2, e2);
              await this.cluster.leases.release(g2, c.podId, e2, 'restore_failed').catch(() => undefined);
            },
            clock: this.clock,
            logger: log,
          },
          g,
          e,
          at,
        ),
      handoff: {
        prepare: async (g, from, e) => this.handoffTarget.prepare(g, from, e),
        data: async (g, from, e, copy, sha) => this.handoffTarget.data(g, from, e, copy, sha),
        moved: (g, from, e) => this.handoffTarget.moved(g, from, e),
        abort: async (g, from, e) => this.handoffTarget.abort(g, from, e),
      },
    });
    const ops = createOpsRouter({
      redis: async () => void (await this.redis.ping()),
      postgres: () => this.store.ping(),
      discord: () => {
        if (!this.discord.ready) throw new Error('Discord sessions not all READY');
      },
      litestream: () => {
        const h = this.guildData.health();
        if (!h.ok) throw new Error(h.problems.join('; ') || 'replication unhealthy');
      },
    });
    app.use(ops.routes()).use(internal.routes()).use(internal.allowedMethods());
    this.server = await serve(app.callback(), { host: c.host, port: c.port, advertiseAddr: c.advertiseAddr, logger: log, fields: () => ({ pod: c.podId }) });
    this.addr = this.server.advertiseAddr;

    const members = new MemberClient(this.redis, scripts, keys, c.podId, c.leaseTtlMs, c.eventsMaxLen);
    await members.join({ addr: this.addr, role: 'gateway', version: VERSION, ring: '', ready: false, draining: false }, log, (ms) => sleep(ms));
    this.loop = new OwnershipLoop(
      {
        podId: c.podId,
        ttlMs: c.leaseTtlMs,
        renewEveryMs: c.renewEveryMs,
        marginMs: c.leaseMarginMs,
        reconcileEveryMs: c.reconcileEveryMs,
        ringParams: ringParams(c.ringVnodes),
        guilds: () => this.pipeline.knownGuilds,
        memberFields: () => ({ addr: this.addr, role: 'gateway', version: VERSION, ready: this.discord.ready, draining: this.draining }),
        autoAdopt: true,
      },
      {
        cluster: this.cluster,
        streamRedis: this.streamRedis,
        store: this.store,
        members,
        clock: this.clock,
        logger: log,
        hooks: {
          acquired: (g, e, how) => this.acquired(g, e, how),
          // Keep the events of guilds about to be claimed here until they are live (or not ours).
          claiming: (gs) => {
            for (const g of gs) this.buffer.pin(g);
          },
          claimEnded: (g) => this.buffer.unpin(g),
          lost: (g, e, reason) => {
            // Handed away: the next owner has the data. Otherwise our file may be the newest.
            if (reason === 'moved') this.stoppedHere.delete(g);
            else this.stoppedHere.set(g, e);
            this.pipeline.stop(g, e);
            void this.guildData.release(g).catch(() => undefined);
          },
          handoff: (g, e, to, floor) =>
            handOff(
              {
                podId: c.podId,
                secret: c.internalSecrets[0] as string,
                ttlMs: c.leaseTtlMs,
                leases: this.cluster.leases,
                guildData: this.guildData,
                pipeline: this.pipeline,
                clock: this.clock,
                logger: log,
                addrOf: (p) => this.loop.routing.clusterView.members.get(p)?.addr,
                onMoved: (g2, e2) => {
                  this.pipeline.stop(g2, e2);
                  void this.guildData.release(g2).catch(() => undefined);
                },
              },
              g,
              e,
              to,
              floor,
            ),
        },
      },
    );
    await this.loop.start();
    this.retention = new RetentionJob({
      db: this.store.db,
      schema: c.databaseSchema,
      target: replicaTarget(c.replicaUrl),
      dbs: this.guildData.dbs,
      retentionMs: c.guildRetentionMs,
      everyMs: c.retentionSweepEveryMs,
      holds: (g) => this.loop.heldLeases().has(g),
      botIsIn: (g) => this.pipeline.knownGuilds.has(g),
      logger: log,
    });
    this.retention.start();
    const leftovers = setInterval(() => void this.pipeline.completeLeftovers().catch((err: unknown) => log.warn({ err }, 'leftover interaction sweep failed')), 2000);
    leftovers.unref();
    this.timers.push(leftovers);
    const t = setInterval(() => {
      this.handoffTarget.tick();
      // A pin whose claim went to another pod after all (or never ended) stops keeping events.
      for (const g of this.buffer.pinnedGuilds()) {
        const owner = this.loop.routing.lease(g)?.owner;
        if (owner !== undefined && owner !== c.podId) this.buffer.unpin(g);
      }
      metrics.eventBufferBytes.set(this.buffer.stats().bytes);
      metrics.replicationLagSeconds.set(this.guildData.replicationLag());
      for (const s of ['ready', 'resuming', 'connecting', 'disconnected'] as const) metrics.gatewaySessions.set({ status: s }, [...this.discord.status().values()].filter((x) => x === s).length);
    }, 1000);
    t.unref();
    this.timers.push(t);
    await this.discord.login();
    await registerCommands({ redis: this.redis, keys, rest: this.discord.client.rest, applicationId: c.applicationId, logger: log }).catch((err: unknown) => log.warn({ err }, 'command registration failed; will retry at next start'));
  }

  /** The lease is ours and committed: put the data in place (copy or restore), then serve. */
  private async acquired(guildId: string, epoch: number, how: 'claim' | 'adopt'): Promise<void> {
    // Its events are kept from now until it is live, however long the restore queue is.
    this.buffer.pin(guildId);
    try {
      await this.putInPlace(guildId, epoch, how);
    } finally {
      this.buffer.unpin(guildId);
    }
  }

  private async putInPlace(guildId: string, epoch: number, how: 'claim' | 'adopt'): Promise<void> {
    const started = this.clock.now();
    const copy = this.handoffTarget.takeCopy(guildId);
    const source = dataSource({ epoch, hasCopy: copy !== undefined, localEpoch: copy ? undefined : await localFileEpoch(this.config.dataDir, guildId), stoppedHereAt: this.stoppedHere.get(guildId) });
    this.stoppedHere.delete(guildId);
    if (copy) await this.guildData.installGuild(guildId, copy, epoch);
    else if (source === 'local') await (await this.guildData.dbs.reserve(guildId)).adopt(epoch);
    else await this.guildData.restores.request(guildId, epoch, this.pipeline.knownGuilds.has(guildId) ? 1 : 0);
    const placedMs = Math.round(this.clock.now() - started);
    const { replayed } = await this.pipeline.goLive(guildId, epoch);
    const ms = Math.round(this.clock.now() - started);
    // Its deadline can pass while it is put in place (a stalled pod): the fence then refused the
    // replay and the lease was dropped; the mirror or a claim brings it back, replaying again.
    if (!this.pipeline.isLive(guildId, epoch)) this.logger.warn({ guild: guildId, epoch, how, source, ms }, 'guild stopped before it went live (its deadline passed)');
    else {
      if (how === 'claim') metrics.failoverSeconds.observe(ms / 1000);
      this.logger.info({ guild: guildId, epoch, how, source, replayed, placedMs, ms }, 'guild live');
    }
    for (const w of this.liveWaiters.get(`${guildId}@${epoch}`) ?? []) w();
    this.liveWaiters.delete(`${guildId}@${epoch}`);
  }

  private whenLive(guildId: string, epoch: number): Promise<void> {
    if (this.pipeline.isLive(guildId, epoch)) return Promise.resolve();
    return new Promise((resolve) => {
      const k = `${guildId}@${epoch}`;
      this.liveWaiters.set(k, [...(this.liveWaiters.get(k) ?? []), resolve]);
    });
  }

  /** The bot was removed from a guild: release it and mark it left (its data is kept). */
  private async guildLeft(guildId: string): Promise<void> {
    const h = this.loop.heldLeases().get(guildId);
    if (!h) {
      // Nobody holds it (its owner is down): no owner will record the leave, so start the
      // retention clock here. Every pod may do this; the first one wins.
      if (!this.loop.routing.lease(guildId)) this.store.queue.enqueue(`left ${guildId}`, async () => void (await markLeft(this.store.db, guildId)));
      return;
    }
    this.pipeline.stop(guildId, h.epoch);
    await this.guildData.release(guildId).catch(() => undefined);
    await this.cluster.leases.release(guildId, this.config.podId, h.epoch, 'left').catch(() => undefined);
    this.store.queue.enqueue(`left ${guildId}`, () => this.store.recordRelease(guildId, this.config.podId, h.epoch, 'left', 'guild_delete'));
    this.logger.info({ guild: guildId, epoch: h.epoch, retentionMs: this.config.guildRetentionMs }, 'bot removed from guild: released; data kept for retention');
  }

  /** SIGTERM: leave the ring, hand every guild off, then stop. Bounded by DRAIN_TIMEOUT_MS. */
  async drain(): Promise<void> {
    this.draining = true;
    this.logger.info({ guilds: this.loop.heldLeases().size }, 'draining: handing off every guild');
    const deadline = this.clock.now() + this.config.drainTimeoutMs;
    let last = -1;
    while (this.loop.heldLeases().size > 0 && this.clock.now() < deadline) {
      const n = this.loop.heldLeases().size;
      if (n !== last) this.logger.info({ remaining: n }, 'drain progress');
      last = n;
      await sleep(100);
      if (this.loop.routing.ringMembers.filter((m) => m !== this.config.podId).length === 0) {
        this.logger.warn('no other gateway on the ring: releasing the remaining guilds instead');
        break;
      }
    }
    await this.stop();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.retention?.stop();
    await this.loop?.stop({ release: true });
    await this.discord?.destroy().catch(() => undefined);
    await this.guildData?.stop();
    this.history?.close();
    await this.store?.queue.idle();
    await this.store?.close();
    await this.server?.close();
    this.streamRedis?.disconnect();
    await this.redis?.quit().catch(() => undefined);
  }
}

// The gateway's Discord sessions: one unmodified discord.js Client holding sessions for every
// shard of the bot (DESIGN §4: every pod sees every event; it acts only on guilds it leases),
// with the cluster-wide identify throttle and REST budgets plugged in as strategies. It hands raw
// dispatches to the pipeline and reports readiness (every shard READY) for ring membership.
import { Client, Events, GatewayIntentBits, Options, type ClientOptions } from 'discord.js';
import type { WebSocketManager } from '@discordjs/ws';
import type { ResponseLike } from '@discordjs/rest';
import { GatewayOpcodes, type GatewayDispatchPayload } from 'discord-api-types/v10';
import type { Logger } from '../log.js';
import { RedisIdentifyThrottler, type IdentifyThrottleOptions } from './identify-throttle.js';

export type SessionStatus = 'connecting' | 'ready' | 'resuming' | 'disconnected';

export interface DiscordSessionOptions {
  readonly token: string;
  readonly apiUrl: string;
  /** 0 = Discord's recommendation from /gateway/bot. */
  readonly shardCount: number;
  readonly podId: string;
  readonly logger: Logger;
  readonly throttle: Omit<IdentifyThrottleOptions, 'budget' | 'logger'>;
  readonly makeRequest: (url: string, init: RequestInit) => Promise<ResponseLike>;
  readonly onDispatch: (d: GatewayDispatchPayload, shardId: number) => void;
  readonly onReadyChange: (allReady: boolean) => void;
}

export const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent];

export class DiscordSessions {
  readonly client: Client;
  private readonly shards = new Map<number, SessionStatus>();
  private allReady = false;

  constructor(private readonly o: DiscordSessionOptions) {
    const options: ClientOptions = {
      intents: INTENTS,
      shards: 'auto',
      ...(o.shardCount > 0 ? { shardCount: o.shardCount, shards: Array.from({ length: o.shardCount }, (_, i) => i) } : {}),
      rest: { api: o.apiUrl, userAgentAppendix: `leasehold/${o.podId}`, makeRequest: o.makeRequest as never },
      ws: {
        buildIdentifyThrottler: (manager: WebSocketManager) =>
          new RedisIdentifyThrottler({
            ...o.throttle,
            logger: o.logger,
            budget: async () => {
              const info = await manager.fetchGatewayInformation(true);
              const l = info.session_start_limit;
              return { remaining: l.remaining, total: l.total, resetAfterMs: l.reset_after, maxConcurrency: l.max_concurrency };
            },
          }),
      },
      // The pipeline works from raw payloads; discord.js caches only what it needs to run.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0, GuildMemberManager: 0, UserManager: 0, PresenceManager: 0, ReactionManager: 0, GuildMessageManager: 0 }),
    };
    this.client = new Client(options);
    this.client.on(Events.Raw, (packet: { op: number; t?: string; d?: unknown }, shardId: number) => {
      if (packet.op === GatewayOpcodes.Dispatch && packet.t) o.onDispatch(packet as GatewayDispatchPayload, shardId);
    });
    this.client.on(Events.ShardReady, (id) => this.setStatus(id, 'ready'));
    this.client.on(Events.ShardResume, (id) => this.setStatus(id, 'ready'));
    this.client.on(Events.ShardReconnecting, (id) => this.setStatus(id, 'resuming'));
    this.client.on(Events.ShardDisconnect, (_e, id) => this.setStatus(id, 'disconnected'));
    this.client.on(Events.ShardError, (err, id) => o.logger.warn({ err, shard: id }, 'shard error'));
    this.client.on(Events.Warn, (msg) => o.logger.warn({ discord: msg }, 'discord.js warning'));
  }

  async login(): Promise<void> {
    await this.client.login(this.o.token);
    for (const id of this.client.ws.shards.keys()) if (!this.shards.has(id)) this.shards.set(id, 'connecting');
  }

  /** True once every shard's session is READY (the condition for joining the ring). */
  get ready(): boolean {
    return this.allReady;
  }

  status(): ReadonlyMap<number, SessionStatus> {
    return this.shards;
  }

  async destroy(): Promise<void> {
    await this.client.destroy();
  }

  private setStatus(id: number, s: SessionStatus): void {
    this.shards.set(id, s);
    const total = this.client.options.shardCount ?? this.shards.size;
    const ready = this.shards.size >= total && [...this.shards.values()].every((x) => x === 'ready');
    if (ready !== this.allReady) {
      this.allReady = ready;
      this.o.logger.info({ shards: Object.fromEntries(this.shards) }, ready ? 'all Discord sessions ready' : 'a Discord session is not ready');
      this.o.onReadyChange(ready);
    }
  }
}

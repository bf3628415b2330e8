// Read-only views of the stand-in's world for tests, the control API and the demo: guilds,
// channels, members, sessions and counters, as plain copies that cannot change the world.
import type { APIApplicationCommand, APIGatewaySessionStartLimit } from 'discord-api-types/v10';
import type { SimCounters } from './counters.js';
import type { GatewayServer } from './gateway/server.js';
import type { IdentifyLimiter } from './gateway/identify-limits.js';
import type { SessionInfo } from './gateway/session.js';
import { shardOf } from './snowflake.js';
import type { ChannelRecord, GuildRecord, MemberRecord, StoredMessage, World } from './world.js';

export interface GuildInfo {
  readonly id: string;
  readonly name: string;
  readonly shard: number;
  readonly rank: number;
  readonly channelIds: readonly string[];
  readonly memberIds: readonly string[];
  readonly removed: boolean;
}

export interface SimStateSnapshot {
  readonly applicationId: string;
  readonly shards: number;
  readonly guilds: GuildInfo[];
  readonly sessions: SessionInfo[];
  readonly connections: number;
  readonly sessionStartLimit: APIGatewaySessionStartLimit;
  readonly counters: SimCounters;
}

export interface SimState {
  guilds(): GuildInfo[];
  guild(id: string): GuildInfo | undefined;
  channels(guildId: string): ChannelRecord[];
  members(guildId: string): MemberRecord[];
  message(id: string): Readonly<StoredMessage> | undefined;
  commands(guildId?: string): APIApplicationCommand[];
  sessions(): SessionInfo[];
  counters(): SimCounters;
  /** The guild's shard under `shardCount` (default: the stand-in's). */
  shardOf(guildId: string, shardCount?: number): number;
  snapshot(): SimStateSnapshot;
}

export function guildInfo(g: GuildRecord): GuildInfo {
  return { id: g.id, name: g.name, shard: g.shard, rank: g.rank, channelIds: [...g.channelIds], memberIds: [...g.memberIds], removed: g.removed };
}

export function createState(world: World, gateway: GatewayServer, identify: IdentifyLimiter, counters: SimCounters): SimState {
  const state: SimState = {
    guilds: () => world.guildList.map(guildInfo),
    guild: (id) => {
      const g = world.guilds.get(id);
      return g ? guildInfo(g) : undefined;
    },
    channels: (guildId) => (world.guilds.get(guildId)?.channelIds ?? []).flatMap((id) => {
      const c = world.channels.get(id);
      return c ? [{ ...c }] : [];
    }),
    members: (guildId) => (world.guilds.get(guildId)?.memberIds ?? []).flatMap((id) => {
      const m = world.member(guildId, id);
      return m ? [{ ...m }] : [];
    }),
    message: (id) => {
      const m = world.messages.get(id);
      return m ? { ...m } : undefined;
    },
    commands: (guildId) => structuredClone(guildId === undefined ? world.globalCommands : (world.guildCommands.get(guildId) ?? [])),
    sessions: () => gateway.sessionInfos(),
    counters: () => structuredClone(counters),
    shardOf: (guildId, shardCount = world.shardCount) => shardOf(guildId, shardCount),
    snapshot: () => ({
      applicationId: world.botUser.id,
      shards: world.shardCount,
      guilds: state.guilds(),
      sessions: state.sessions(),
      connections: gateway.connectionCount(),
      sessionStartLimit: identify.sessionStartLimit(),
      counters: state.counters(),
    }),
  };
  return state;
}

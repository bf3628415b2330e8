// The stand-in's Discord world: guilds, channels, users, members, recent messages and registered
// commands. Plain data with deterministic generation from the seed; no I/O, no protocol.
import type { APIApplicationCommand } from 'discord-api-types/v10';
import { AppError } from '../errors.js';
import { Fifo } from './fifo.js';
import { createRandom, type Random } from './random.js';
import { snowflakeFrom, snowflakeTimestampPart } from './snowflake.js';

export interface GuildRecord {
  readonly id: string;
  name: string;
  /** Shard under the stand-in's configured shard count. */
  readonly shard: number;
  /** Popularity rank (0 = the busiest); traffic picks guilds by it. */
  readonly rank: number;
  /** `id >> 22`, kept so the shard under any shard count is one modulo. */
  readonly timestampPart: number;
  readonly ownerId: string;
  readonly channelIds: string[];
  readonly memberIds: string[];
  /** Members by user id (the bot's own membership is implicit). */
  readonly members: Map<string, MemberRecord>;
  removed: boolean;
  /** Wall-clock ms the bot (last) joined. */
  joinedAt: number;
  /** How many times the bot was removed (composite keys of GUILD_DELETE stay distinct). */
  removals: number;
}

export interface ChannelRecord {
  readonly id: string;
  readonly guildId: string;
  readonly name: string;
  readonly position: number;
}

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly bot: boolean;
}

export interface MemberRecord {
  readonly guildId: string;
  readonly userId: string;
  readonly joinedAt: string;
  communicationDisabledUntil: string | null;
}

export interface StoredMessage {
  readonly id: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly authorId: string;
  content: string;
  readonly timestamp: string;
  readonly nonce: string | undefined;
  readonly webhookId: string | undefined;
  editedTimestamp: string | null;
  deleted: boolean;
}

export interface CreateGuildInput {
  id?: string;
  name?: string;
  channels?: number;
  members?: number;
}

const CHANNEL_NAMES = ['general', 'random', 'mod-log', 'help', 'announcements', 'off-topic', 'media', 'bots'];
const WORDS = ['amber', 'basil', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'harbor', 'iris', 'juniper', 'kelp', 'lumen', 'maple', 'nova', 'onyx', 'pine', 'quartz', 'river', 'sage', 'tundra'];
/** Seeded ids start here: realistic snowflakes, far enough in the past never to meet live ids. */
const SEED_EPOCH_MS = Date.UTC(2019, 0, 1);

export class World {
  readonly guilds = new Map<string, GuildRecord>();
  /** Guilds in creation order (index = rank). */
  readonly guildList: GuildRecord[] = [];
  readonly channels = new Map<string, ChannelRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly messages = new Map<string, StoredMessage>();
  private readonly messageOrder = new Fifo<string>();
  readonly globalCommands: APIApplicationCommand[] = [];
  readonly guildCommands = new Map<string, APIApplicationCommand[]>();
  readonly botUser: UserRecord;
  private readonly rnd: Random;
  private readonly userPool: string[] = [];
  private seededAt = SEED_EPOCH_MS;
  private seededLow = 0;

  constructor(
    readonly seed: number,
    readonly shardCount: number,
    applicationId: string | undefined,
    private readonly messageCapacity: number,
    private readonly wallNow: () => number,
  ) {
    this.rnd = createRandom(seed);
    this.botUser = { id: applicationId ?? this.nextSeededId(), username: 'leasehold-sim-bot', bot: true };
    this.users.set(this.botUser.id, this.botUser);
  }

  /** Members of a guild are drawn from one pool of users, so users share guilds as on Discord. */
  ensureUserPool(size: number): void {
    while (this.userPool.length < size) {
      const id = this.nextSeededId();
      const user: UserRecord = { id, username: `${this.rnd.pick(WORDS)}-${this.userPool.length}`, bot: false };
      this.users.set(id, user);
      this.userPool.push(id);
    }
  }

  createGuild(input: CreateGuildInput = {}): GuildRecord {
    if (input.id !== undefined) {
      const existing = this.guilds.get(input.id);
      if (existing && !existing.removed) throw new AppError(409, 'GUILD_EXISTS', `guild ${input.id} exists and the bot is in it`);
      if (existing) {
        // The bot is added back: the same guild, a new join.
        existing.removed = false;
        existing.joinedAt = this.wallNow();
        if (input.name !== undefined) existing.name = input.name;
        return existing;
      }
    }
    const id = input.id ?? this.nextSeededId();
    if (!/^\d{17,20}$/.test(id)) throw new AppError(400, 'BAD_GUILD_ID', `guild id must be a snowflake, got ${id}`);
    const rank = this.guildList.length;
    const timestampPart = snowflakeTimestampPart(id);
    const memberCount = input.members ?? Math.max(3, Math.min(400, Math.round(400 / Math.pow(rank + 1, 0.7))));
    const channelCount = input.channels ?? (rank < 10 ? 5 : rank < 100 ? 3 : 1);
    this.ensureUserPool(Math.max(50, memberCount * 2, this.userPool.length));
    const chosen = new Set<string>();
    while (chosen.size < Math.min(memberCount, this.userPool.length)) chosen.add(this.rnd.pick(this.userPool));
    const memberIds = [...chosen];
    const guild: GuildRecord = {
      id,
      name: input.name ?? `${this.rnd.pick(WORDS)} ${this.rnd.pick(WORDS)} ${rank}`,
      shard: timestampPart % this.shardCount,
      rank,
      timestampPart,
      ownerId: memberIds[0] ?? this.botUser.id,
      channelIds: [],
      memberIds,
      members: new Map(),
      removed: false,
      joinedAt: this.wallNow(),
      removals: 0,
    };
    this.guilds.set(id, guild);
    this.guildList.push(guild);
    for (let i = 0; i < Math.max(1, channelCount); i++) this.addChannel(guild, CHANNEL_NAMES[i] ?? `channel-${i}`);
    const joinedAt = new Date(this.wallNow()).toISOString();
    for (const userId of memberIds) guild.members.set(userId, { guildId: id, userId, joinedAt, communicationDisabledUntil: null });
    return guild;
  }

  addChannel(guild: GuildRecord, name?: string): ChannelRecord {
    const channel: ChannelRecord = { id: this.nextSeededId(), guildId: guild.id, name: name ?? `channel-${guild.channelIds.length}`, position: guild.channelIds.length };
    this.channels.set(channel.id, channel);
    guild.channelIds.push(channel.id);
    return channel;
  }

  addMember(guild: GuildRecord, userId?: string): MemberRecord {
    let id = userId;
    if (id === undefined) {
      id = this.nextSeededId();
      this.users.set(id, { id, username: `${this.rnd.pick(WORDS)}-${this.users.size}`, bot: false });
    } else if (!this.users.has(id)) {
      this.users.set(id, { id, username: `user-${id.slice(-6)}`, bot: false });
    }
    const existing = guild.members.get(id);
    if (existing) return existing;
    const member: MemberRecord = { guildId: guild.id, userId: id, joinedAt: new Date(this.wallNow()).toISOString(), communicationDisabledUntil: null };
    guild.members.set(id, member);
    guild.memberIds.push(id);
    return member;
  }

  member(guildId: string, userId: string): MemberRecord | undefined {
    return this.guilds.get(guildId)?.members.get(userId);
  }

  /** Live guild or an AppError naming what is wrong (unknown, or the bot was removed). */
  activeGuild(guildId: string): GuildRecord {
    const guild = this.guilds.get(guildId);
    if (!guild) throw new AppError(404, 'UNKNOWN_GUILD', `unknown guild ${guildId}`);
    if (guild.removed) throw new AppError(409, 'GUILD_REMOVED', `the bot was removed from guild ${guildId}`);
    return guild;
  }

  rememberMessage(m: StoredMessage): void {
    if (!this.messages.has(m.id)) this.messageOrder.push(m.id);
    this.messages.set(m.id, m);
    while (this.messages.size > this.messageCapacity) {
      const oldest = this.messageOrder.shift();
      if (oldest === undefined) break;
      this.messages.delete(oldest);
    }
  }

  /** Deterministic ids for seeded objects: increasing, a few minutes apart, spread over shards. */
  private nextSeededId(): string {
    this.seededAt += 1 + this.rnd.int(600_000);
    this.seededLow = (this.seededLow + 1) & 0xfff;
    return snowflakeFrom(this.seededAt, this.seededLow);
  }

  /** A deterministic line of message text. */
  words(rnd: Random, n: number): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(rnd.pick(WORDS));
    return out.join(' ');
  }
}

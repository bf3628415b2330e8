// Messages in the stand-in's channels: users' messages (control API, traffic) and the bot's
// (REST), each stored, given a unique snowflake and dispatched as MESSAGE_CREATE to its shard.
import { GatewayDispatchEvents, GatewayIntentBits } from 'discord-api-types/v10';
import { AppError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { SimCounters } from './counters.js';
import type { GatewayServer } from './gateway/server.js';
import { messageCreatePayload, withoutContent } from './payloads.js';
import type { MessageRecord } from './records.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { ChannelRecord, GuildRecord, StoredMessage, World } from './world.js';

export interface PostMessageInput {
  guildId: string;
  channelId?: string;
  authorId?: string;
  content: string;
}

export class Messages {
  constructor(
    private readonly world: World,
    private readonly gateway: GatewayServer,
    private readonly ids: SnowflakeGenerator,
    private readonly counters: SimCounters,
    private readonly clock: Clock,
  ) {}

  /** A user posts in a guild (default: its first channel, a random-ish member). */
  post(input: PostMessageInput): MessageRecord {
    const guild = this.world.activeGuild(input.guildId);
    const channel = this.channelIn(guild, input.channelId ?? guild.channelIds[0]);
    const authorId = input.authorId ?? guild.memberIds[0];
    if (authorId === undefined) throw new AppError(409, 'NO_MEMBERS', `guild ${guild.id} has no members to post as`);
    if (!this.world.users.has(authorId)) this.world.addMember(guild, authorId);
    this.counters.messagesPosted += 1;
    return this.create(guild, channel, authorId, input.content, undefined, undefined);
  }

  /** The bot (or its interaction webhook) creates a message. */
  createByBot(channel: ChannelRecord, content: string, nonce: string | undefined, webhookId?: string): StoredMessage {
    const guild = this.world.activeGuild(channel.guildId);
    this.counters.messagesCreatedByBot += 1;
    const record = this.create(guild, channel, this.world.botUser.id, content, nonce, webhookId);
    return this.world.messages.get(record.id) as StoredMessage;
  }

  delete(m: StoredMessage): void {
    m.deleted = true;
    const guild = this.world.guilds.get(m.guildId);
    if (guild && !guild.removed) this.gateway.dispatchGuild(guild, GatewayDispatchEvents.MessageDelete, { id: m.id, channel_id: m.channelId, guild_id: m.guildId }, { intent: GatewayIntentBits.GuildMessages });
  }

  channelIn(guild: GuildRecord, channelId: string | undefined): ChannelRecord {
    const channel = channelId === undefined ? undefined : this.world.channels.get(channelId);
    if (!channel || channel.guildId !== guild.id) throw new AppError(404, 'UNKNOWN_CHANNEL', `unknown channel ${channelId ?? '(none)'} in guild ${guild.id}`);
    return channel;
  }

  private create(guild: GuildRecord, channel: ChannelRecord, authorId: string, content: string, nonce: string | undefined, webhookId: string | undefined): MessageRecord {
    const id = this.ids.next();
    const m: StoredMessage = { id, guildId: guild.id, channelId: channel.id, authorId, content, timestamp: new Date(this.clock.wallNow()).toISOString(), nonce, webhookId, editedTimestamp: null, deleted: false };
    this.world.rememberMessage(m);
    const data = messageCreatePayload(this.world, m);
    const botId = this.world.botUser.id;
    // Discord shows content without the MessageContent intent only for the bot's own messages and those that mention it.
    const visibleToAll = authorId === botId || content.includes(`<@${botId}>`);
    const r = this.gateway.dispatchGuild(guild, GatewayDispatchEvents.MessageCreate, data, { intent: GatewayIntentBits.GuildMessages, content: { visibleToAll, stripped: () => withoutContent(data) } });
    return { id, guildId: guild.id, channelId: channel.id, authorId, content, timestamp: m.timestamp, dispatchSeq: r.seq };
  }
}

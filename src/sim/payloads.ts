// Discord objects as the stand-in sends them (users, members, channels, guilds, messages), built
// from the world's records. Pure: typed with discord-api-types, no I/O.
import {
  ChannelType,
  GuildDefaultMessageNotifications,
  GuildExplicitContentFilter,
  GuildHubType,
  GuildMFALevel,
  GuildNSFWLevel,
  GuildPremiumTier,
  GuildSystemChannelFlags,
  GuildVerificationLevel,
  Locale,
  MessageType,
  PermissionFlagsBits,
  type APIGuildMember,
  type ChannelFlags,
  type GuildMemberFlags,
  type RoleFlags,
  type APIGuildTextChannel,
  type APIMessage,
  type APIRole,
  type APIUser,
  type GatewayGuildCreateDispatchData,
  type GatewayMessageCreateDispatchData,
} from 'discord-api-types/v10';
import type { ChannelRecord, GuildRecord, MemberRecord, StoredMessage, UserRecord, World } from './world.js';

/** Every permission: the bot is an administrator in the stand-in's guilds. */
const ALL_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((a, b) => a | b, 0n).toString();
const EVERYONE_PERMISSIONS = (PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.ReadMessageHistory | PermissionFlagsBits.UseApplicationCommands).toString();

const NO_MEMBER_FLAGS = 0 as GuildMemberFlags;

/** GUILD_CREATE carries members only up to this many (as Discord does for large guilds). */
export const LARGE_THRESHOLD = 250;

export function userPayload(u: UserRecord): APIUser {
  return { id: u.id, username: u.username, discriminator: '0', global_name: u.bot ? null : u.username, avatar: null, ...(u.bot ? { bot: true } : {}) };
}

export function memberPayload(m: MemberRecord, user: UserRecord): APIGuildMember {
  return {
    user: userPayload(user),
    nick: null,
    roles: [],
    joined_at: m.joinedAt,
    deaf: false,
    mute: false,
    flags: NO_MEMBER_FLAGS,
    communication_disabled_until: m.communicationDisabledUntil,
  };
}

export function channelPayload(c: ChannelRecord): APIGuildTextChannel<ChannelType.GuildText> {
  return {
    id: c.id,
    type: ChannelType.GuildText,
    guild_id: c.guildId,
    name: c.name,
    position: c.position,
    parent_id: null,
    topic: null,
    nsfw: false,
    permission_overwrites: [],
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0 as ChannelFlags,
  };
}

function rolePayload(id: string, name: string, permissions: string, position: number): APIRole {
  return { id, name, color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, icon: null, unicode_emoji: null, position, permissions, managed: false, mentionable: false, flags: 0 as RoleFlags };
}

export function guildCreatePayload(world: World, g: GuildRecord, withMembers: boolean): GatewayGuildCreateDispatchData {
  const bot = world.botUser;
  const botMember: APIGuildMember = { user: userPayload(bot), nick: null, roles: [], joined_at: new Date(g.joinedAt).toISOString(), deaf: false, mute: false, flags: NO_MEMBER_FLAGS };
  const members: APIGuildMember[] = [botMember];
  if (withMembers && g.memberIds.length <= LARGE_THRESHOLD) {
    for (const userId of g.memberIds) {
      const m = world.member(g.id, userId);
      const u = world.users.get(userId);
      if (m && u) members.push(memberPayload(m, u));
    }
  }
  const channels = g.channelIds.flatMap((id) => {
    const c = world.channels.get(id);
    return c ? [channelPayload(c)] : [];
  });
  return {
    id: g.id,
    name: g.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: g.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: GuildVerificationLevel.Low,
    default_message_notifications: GuildDefaultMessageNotifications.OnlyMentions,
    explicit_content_filter: GuildExplicitContentFilter.Disabled,
    roles: [rolePayload(g.id, '@everyone', EVERYONE_PERMISSIONS, 0), rolePayload(bot.id, 'leasehold', ALL_PERMISSIONS, 1)],
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: GuildMFALevel.None,
    application_id: null,
    system_channel_id: g.channelIds[0] ?? null,
    system_channel_flags: GuildSystemChannelFlags.SuppressJoinNotifications,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    vanity_url_code: null,
    premium_tier: GuildPremiumTier.None,
    premium_progress_bar_enabled: false,
    preferred_locale: Locale.EnglishUS,
    nsfw_level: GuildNSFWLevel.Default,
    hub_type: null satisfies GuildHubType | null,
    incidents_data: null,
    region: 'us-west',
    joined_at: new Date(g.joinedAt).toISOString(),
    large: g.memberIds.length > LARGE_THRESHOLD,
    unavailable: false,
    member_count: g.memberIds.length + 1,
    voice_states: [],
    members,
    channels,
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export function messagePayload(world: World, m: StoredMessage): APIMessage {
  const author = world.users.get(m.authorId) ?? { id: m.authorId, username: `user-${m.authorId.slice(-6)}`, bot: false };
  return {
    id: m.id,
    type: MessageType.Default,
    channel_id: m.channelId,
    author: userPayload(author),
    content: m.content,
    timestamp: m.timestamp,
    edited_timestamp: m.editedTimestamp,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    ...(m.nonce !== undefined ? { nonce: m.nonce } : {}),
    ...(m.webhookId !== undefined ? { webhook_id: m.webhookId, application_id: m.webhookId } : {}),
  };
}

/**
 * MESSAGE_CREATE: the message plus guild_id and the author's member, as Discord sends it in
 * guilds. Built as one object (this is the stand-in's hottest path).
 */
export function messageCreatePayload(world: World, m: StoredMessage): GatewayMessageCreateDispatchData {
  const author = world.users.get(m.authorId);
  const member = world.member(m.guildId, m.authorId);
  const d: GatewayMessageCreateDispatchData = {
    id: m.id,
    type: MessageType.Default,
    channel_id: m.channelId,
    guild_id: m.guildId,
    author: author ? cachedUserPayload(author) : userPayload({ id: m.authorId, username: `user-${m.authorId.slice(-6)}`, bot: false }),
    content: m.content,
    timestamp: m.timestamp,
    edited_timestamp: m.editedTimestamp,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
  };
  if (member) d.member = { roles: [], joined_at: member.joinedAt, deaf: false, mute: false, flags: NO_MEMBER_FLAGS, nick: null, communication_disabled_until: member.communicationDisabledUntil };
  if (m.nonce !== undefined) d.nonce = m.nonce;
  if (m.webhookId !== undefined) {
    d.webhook_id = m.webhookId;
    d.application_id = m.webhookId;
  }
  return d;
}

// Users never change in the stand-in, so their payloads are built once.
const userPayloads = new WeakMap<UserRecord, APIUser>();
function cachedUserPayload(u: UserRecord): APIUser {
  let p = userPayloads.get(u);
  if (p === undefined) {
    p = userPayload(u);
    userPayloads.set(u, p);
  }
  return p;
}

/** What a session without the MessageContent intent gets: the same message with its content emptied. */
export function withoutContent<T extends { content: string; embeds?: unknown[]; attachments?: unknown[] }>(d: T): T {
  return { ...d, content: '', embeds: [], attachments: [] };
}

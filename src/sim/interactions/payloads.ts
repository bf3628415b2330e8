// Interaction payloads as Discord sends them to an interactions endpoint: PING, slash command,
// message context command and button press. Pure builders over the world's records.
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  ChannelType,
  ComponentType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  Locale,
  PermissionFlagsBits,
  type APIApplicationCommandInteractionDataOption,
  type APIChatInputApplicationCommandGuildInteraction,
  type APIInteraction,
  type APIInteractionGuildMember,
  type APIMessage,
  type APIMessageApplicationCommandGuildInteraction,
  type APIMessageComponentButtonInteraction,
  type APIPingInteraction,
  type GuildMemberFlags,
} from 'discord-api-types/v10';
import type { InteractionKind } from '../records.js';
import { userPayload } from '../payloads.js';
import type { ChannelRecord, GuildRecord, MemberRecord, UserRecord } from '../world.js';

const APP_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((a, b) => a | b, 0n).toString();
const MEMBER_PERMISSIONS = (PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.UseApplicationCommands | PermissionFlagsBits.ManageGuild).toString();

export interface InteractionContext {
  readonly id: string;
  readonly token: string;
  readonly applicationId: string;
  readonly guild: GuildRecord | undefined;
  readonly channel: ChannelRecord | undefined;
  readonly user: UserRecord;
  readonly member: MemberRecord | undefined;
}

export interface InteractionSpec {
  readonly kind: InteractionKind;
  readonly name?: string;
  readonly commandId: string;
  readonly options?: APIApplicationCommandInteractionDataOption[];
  readonly customId?: string;
  /** The message a message command targets or a button sits on. */
  readonly message?: APIMessage;
}

/** The interaction types a response must fit, by kind (anything else is a failed interaction). */
export const VALID_RESPONSES: Readonly<Record<InteractionKind, readonly InteractionResponseType[]>> = {
  ping: [InteractionResponseType.Pong],
  command: [InteractionResponseType.ChannelMessageWithSource, InteractionResponseType.DeferredChannelMessageWithSource, InteractionResponseType.Modal],
  message_command: [InteractionResponseType.ChannelMessageWithSource, InteractionResponseType.DeferredChannelMessageWithSource, InteractionResponseType.Modal],
  component: [
    InteractionResponseType.ChannelMessageWithSource,
    InteractionResponseType.DeferredChannelMessageWithSource,
    InteractionResponseType.DeferredMessageUpdate,
    InteractionResponseType.UpdateMessage,
    InteractionResponseType.Modal,
  ],
};

export function buildInteraction(c: InteractionContext, spec: InteractionSpec): APIInteraction {
  const base = {
    id: c.id,
    application_id: c.applicationId,
    token: c.token,
    version: 1 as const,
    app_permissions: APP_PERMISSIONS,
    entitlements: [],
    authorizing_integration_owners: { [ApplicationIntegrationType.GuildInstall]: c.guild?.id ?? '0' },
    attachment_size_limit: 10 * 1024 * 1024,
  };
  if (spec.kind === 'ping') {
    const ping: APIPingInteraction = { ...base, type: InteractionType.Ping };
    return ping;
  }
  if (c.guild === undefined || c.channel === undefined) throw new Error(`a ${spec.kind} interaction needs a guild and a channel`);
  const member: APIInteractionGuildMember = {
    user: userPayload(c.user),
    roles: [],
    joined_at: c.member?.joinedAt ?? new Date(0).toISOString(),
    deaf: false,
    mute: false,
    flags: 0 as GuildMemberFlags,
    permissions: MEMBER_PERMISSIONS,
    communication_disabled_until: c.member?.communicationDisabledUntil ?? null,
  };
  const inGuild = {
    ...base,
    guild_id: c.guild.id,
    guild: { id: c.guild.id, locale: Locale.EnglishUS, features: [] },
    channel_id: c.channel.id,
    channel: { id: c.channel.id, type: ChannelType.GuildText as const, name: c.channel.name, guild_id: c.guild.id },
    member,
    locale: Locale.EnglishUS,
    guild_locale: Locale.EnglishUS,
    context: InteractionContextType.Guild,
  };
  if (spec.kind === 'command') {
    const i: APIChatInputApplicationCommandGuildInteraction = {
      ...inGuild,
      type: InteractionType.ApplicationCommand,
      data: { id: spec.commandId, name: spec.name ?? 'stats', type: ApplicationCommandType.ChatInput, guild_id: c.guild.id, ...(spec.options && spec.options.length > 0 ? { options: spec.options } : {}) },
    };
    return i;
  }
  if (spec.kind === 'message_command') {
    if (spec.message === undefined) throw new Error('a message command needs its target message');
    const i: APIMessageApplicationCommandGuildInteraction = {
      ...inGuild,
      type: InteractionType.ApplicationCommand,
      data: { id: spec.commandId, name: spec.name ?? 'Report message', type: ApplicationCommandType.Message, guild_id: c.guild.id, target_id: spec.message.id, resolved: { messages: { [spec.message.id]: spec.message } } },
    };
    return i;
  }
  if (spec.message === undefined) throw new Error('a component interaction needs the message its button is on');
  const i: APIMessageComponentButtonInteraction = {
    ...inGuild,
    type: InteractionType.MessageComponent,
    data: { custom_id: spec.customId ?? 'button', component_type: ComponentType.Button },
    message: spec.message,
  };
  return i;
}

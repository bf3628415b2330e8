// The bot's command registry, shared by gateways (which register it with Discord) and the http
// edge (which decides from it whether a deferred response is ephemeral). One list, one hash.
import { createHash } from 'node:crypto';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIApplicationCommandsJSONBody,
} from 'discord-api-types/v10';

export interface CommandOption {
  readonly type: ApplicationCommandOptionType.Role | ApplicationCommandOptionType.Channel | ApplicationCommandOptionType.String;
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  readonly channelTypes?: readonly ChannelType[];
  readonly maxLength?: number;
}

export interface CommandSpec {
  readonly name: string;
  readonly type: ApplicationCommandType.ChatInput | ApplicationCommandType.Message;
  /** Discord requires '' for context-menu commands. */
  readonly description: string;
  readonly options: readonly CommandOption[];
  /** Whether responses (and so a deferred response) are visible only to the invoking user. */
  readonly ephemeral: boolean;
  /** Permission bits a member needs by default (Discord hides the command from others). */
  readonly defaultMemberPermissions: bigint | undefined;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'setup',
    type: ApplicationCommandType.ChatInput,
    description: 'Configure moderation for this server: moderator role, log channel, alert keywords',
    options: [
      { type: ApplicationCommandOptionType.Role, name: 'moderator_role', description: 'Role whose members may see and close reports', required: false },
      { type: ApplicationCommandOptionType.Channel, name: 'log_channel', description: 'Channel where reports and keyword alerts are posted', required: false, channelTypes: [ChannelType.GuildText] },
      { type: ApplicationCommandOptionType.String, name: 'alert_keywords', description: 'Comma-separated words that raise an alert in the log channel', required: false, maxLength: 1000 },
    ],
    ephemeral: true,
    defaultMemberPermissions: PermissionFlagsBits.ManageGuild,
  },
  {
    name: 'stats',
    type: ApplicationCommandType.ChatInput,
    description: "This server's activity: messages per channel, user and day",
    options: [],
    ephemeral: false,
    defaultMemberPermissions: undefined,
  },
  {
    name: 'reports',
    type: ApplicationCommandType.ChatInput,
    description: 'List the open message reports',
    options: [],
    ephemeral: true,
    defaultMemberPermissions: PermissionFlagsBits.ManageMessages,
  },
  {
    name: 'Report message',
    type: ApplicationCommandType.Message,
    description: '',
    options: [],
    ephemeral: true,
    defaultMemberPermissions: undefined,
  },
];

/** The command an interaction names; context-menu and slash commands may share a name, so the type matters. */
export function findCommand(name: string, type: number): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name && c.type === type);
}

/** The JSON body of `PUT /applications/:app/commands` (bulk overwrite). */
export function registrationBody(commands: readonly CommandSpec[] = COMMANDS): RESTPostAPIApplicationCommandsJSONBody[] {
  return commands.map((c) => {
    const base = {
      name: c.name,
      // The bot is per-guild: none of its commands makes sense in a DM.
      contexts: [InteractionContextType.Guild],
      default_member_permissions: c.defaultMemberPermissions === undefined ? null : c.defaultMemberPermissions.toString(),
    };
    if (c.type === ApplicationCommandType.Message) return { ...base, type: ApplicationCommandType.Message };
    return {
      ...base,
      type: ApplicationCommandType.ChatInput,
      description: c.description,
      options: c.options.map((o) => {
        if (o.type === ApplicationCommandOptionType.Channel)
          return { type: o.type, name: o.name, description: o.description, required: o.required, ...(o.channelTypes ? { channel_types: [...o.channelTypes] as ChannelType.GuildText[] } : {}) };
        if (o.type === ApplicationCommandOptionType.String)
          return { type: o.type, name: o.name, description: o.description, required: o.required, ...(o.maxLength !== undefined ? { max_length: o.maxLength } : {}) };
        return { type: o.type, name: o.name, description: o.description, required: o.required };
      }),
    };
  });
}

/** A stable hash of the registration body: a pod registers only when the hash in Redis differs. */
export function commandSetHash(commands: readonly CommandSpec[] = COMMANDS): string {
  return createHash('sha256').update(JSON.stringify(registrationBody(commands))).digest('hex');
}

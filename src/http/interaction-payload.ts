// The part of Discord's interaction payload the edge reads, validated once (STYLE: edges
// validate), and the deferred response each kind gets (from the shared command registry).
import { z } from 'zod';
import { InteractionResponseType, InteractionType, MessageFlags } from 'discord-api-types/v10';
import { AppError } from '../errors.js';
import { isSnowflake } from '../cluster/ids.js';
import { findCommand } from '../shared/commands.js';

const snowflake = z.string().refine(isSnowflake, 'expected a Discord snowflake');

const schema = z.object({
  id: snowflake,
  application_id: snowflake,
  type: z.number().int().min(1).max(5),
  token: z.string().min(1).max(1000).optional(),
  guild_id: snowflake.optional(),
  data: z
    .object({
      name: z.string().max(100).optional(),
      type: z.number().int().optional(),
      custom_id: z.string().max(100).optional(),
    })
    .loose()
    .optional(),
}).loose();

export interface Interaction {
  readonly id: string;
  readonly applicationId: string;
  readonly type: InteractionType;
  readonly token: string;
  readonly guildId: string | undefined;
  readonly commandName: string | undefined;
  readonly commandType: number | undefined;
}

export function parseInteraction(body: unknown): Interaction {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AppError(400, 'BAD_INTERACTION', `not an interaction: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}`);
  }
  const d = r.data;
  if (d.type !== InteractionType.Ping && !d.token) throw new AppError(400, 'BAD_INTERACTION', 'not an interaction: token is required');
  return { id: d.id, applicationId: d.application_id, type: d.type as InteractionType, token: d.token ?? '', guildId: d.guild_id, commandName: d.data?.name, commandType: d.data?.type };
}

export interface DeferredResponse {
  readonly body: { readonly type: InteractionResponseType; readonly data?: { readonly flags?: number; readonly choices?: readonly never[] } };
  /** Whether the answer must come later as an edit of the original response. */
  readonly needsEdit: boolean;
  readonly flags: number;
}

/**
 * What the edge answers when the owner's reply is not in hand by the deadline. Commands and
 * modal submits: 5 (ephemeral as the registry says; unknown commands ephemeral, the safer
 * choice). Components: 6 (the message they sit on is updated later). Autocomplete cannot be
 * deferred: an empty list of choices is the only answer that keeps the deadline.
 */
export function deferredResponseFor(i: Interaction): DeferredResponse {
  switch (i.type) {
    case InteractionType.MessageComponent:
      return { body: { type: InteractionResponseType.DeferredMessageUpdate }, needsEdit: true, flags: 0 };
    case InteractionType.ApplicationCommandAutocomplete:
      return { body: { type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices: [] } }, needsEdit: false, flags: 0 };
    default: {
      const spec = i.type === InteractionType.ApplicationCommand && i.commandName !== undefined ? findCommand(i.commandName, i.commandType ?? 1) : undefined;
      const flags = spec?.ephemeral === false ? 0 : MessageFlags.Ephemeral;
      return { body: { type: InteractionResponseType.DeferredChannelMessageWithSource, ...(flags ? { data: { flags } } : {}) }, needsEdit: true, flags };
    }
  }
}

/** A reply a gateway sent for an interaction: `{type, data?}` with a response type Discord knows. */
export function parseInteractionReply(body: unknown): { type: number; data?: Record<string, unknown> } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b['type'] !== 'number' || !(b['type'] in InteractionResponseType)) return undefined;
  if (b['data'] !== undefined && (typeof b['data'] !== 'object' || b['data'] === null)) return undefined;
  return b['data'] === undefined ? { type: b['type'] } : { type: b['type'], data: b['data'] as Record<string, unknown> };
}

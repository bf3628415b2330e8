// Interaction responses the features return.
import { InteractionResponseType, MessageFlags, type APIInteractionResponse } from 'discord-api-types/v10';

export function reply(content: string, opts: { ephemeral?: boolean } = {}): APIInteractionResponse {
  return {
    type: InteractionResponseType.ChannelMessageWithSource,
    data: { content: content.slice(0, 2000), allowed_mentions: { parse: [] }, ...(opts.ephemeral ? { flags: MessageFlags.Ephemeral } : {}) },
  };
}

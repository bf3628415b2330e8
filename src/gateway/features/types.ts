// What a bot feature sees: the guild's database (inside the event's transaction), the event,
// and a way to ask for side effects. Never leases, epochs or pods — a feature is written as if
// the bot ran on one machine. A new feature is one file added to features/index.ts.
import type { APIInteraction, APIInteractionResponse, APIMessage } from 'discord-api-types/v10';
import type { GuildKysely } from '../../guild-data/guild-db.js';

export interface SendMessage {
  readonly channelId: string;
  readonly content: string;
}

export interface FeatureContext {
  readonly guildId: string;
  /** The guild's database inside the transaction that also records the event as applied. */
  readonly db: GuildKysely;
  /** Wall-clock ms of the event (from its snowflake when it has one). */
  readonly at: number;
  /** Post a message as a side effect: written to the outbox with this transaction, sent after. */
  send(m: SendMessage): void;
}

export interface Feature {
  readonly name: string;
  onMessage?(ctx: FeatureContext, message: APIMessage): Promise<void>;
  /** Application command and context-menu handlers by command name. */
  readonly commands?: Readonly<Record<string, (ctx: FeatureContext, interaction: APIInteraction) => Promise<APIInteractionResponse>>>;
}

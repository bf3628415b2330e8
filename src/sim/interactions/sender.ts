// Sends interactions to an endpoint the way Discord does: signed with Ed25519 over
// `timestamp + rawBody` (or deliberately mis-signed), timed, and recorded with the answer's
// status, response type and latency; Discord's 3 s deadline decides whether it failed.
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { ApplicationCommandType, type APIApplicationCommandInteractionDataOption, type APIMessage } from 'discord-api-types/v10';
import { AppError, errorMessage } from '../../errors.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import type { SimCounters } from '../counters.js';
import type { Messages } from '../messages.js';
import { messagePayload } from '../payloads.js';
import type { Random } from '../random.js';
import type { InteractionKind, InteractionRecord } from '../records.js';
import type { SimLog } from '../sim-log.js';
import type { SnowflakeGenerator } from '../snowflake.js';
import type { GuildRecord, World } from '../world.js';
import { buildInteraction, VALID_RESPONSES } from './payloads.js';
import { corruptSignature, type InteractionSigner } from './signing.js';
import { type InteractionTracker, type TrackedInteraction } from './tracker.js';

export interface InteractionInput {
  /** Default: a guild picked by the traffic spread (none for a ping). */
  guildId?: string;
  channelId?: string;
  /** The invoking user (default: a member of the guild). */
  userId?: string;
  kind: InteractionKind;
  /** Command name (default `stats` / `Report message`). */
  name?: string;
  options?: APIApplicationCommandInteractionDataOption[];
  /** Message a message command targets or a button sits on (default: a new user message / a bot message). */
  targetMessageId?: string;
  customId?: string;
  /** Send a signature that does not verify (the endpoint must answer 401). */
  badSignature?: boolean;
}

export interface SenderDeps {
  readonly world: World;
  readonly messages: Messages;
  readonly log: SimLog;
  readonly tracker: InteractionTracker;
  readonly signer: InteractionSigner;
  readonly ids: SnowflakeGenerator;
  readonly counters: SimCounters;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly rnd: Random;
  readonly pickGuild: () => GuildRecord | undefined;
  readonly timeoutMs: number;
}

export class InteractionSender {
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly d: SenderDeps) {}

  async send(input: InteractionInput & { url: string }): Promise<InteractionRecord> {
    const { world } = this.d;
    let guild: GuildRecord | undefined;
    if (input.kind !== 'ping') {
      guild = input.guildId !== undefined ? world.activeGuild(input.guildId) : this.d.pickGuild();
      if (guild === undefined) throw new AppError(409, 'NO_GUILDS', 'no guild to send an interaction in');
    }
    const channel = guild ? this.d.messages.channelIn(guild, input.channelId ?? guild.channelIds[0]) : undefined;
    const userId = input.userId ?? (guild && guild.memberIds.length > 0 ? this.d.rnd.pick(guild.memberIds) : undefined);
    const user = userId !== undefined ? (world.users.get(userId) ?? { id: userId, username: `user-${userId.slice(-6)}`, bot: false }) : { id: world.botUser.id, username: 'discord', bot: false };
    const message = guild && channel ? this.targetMessage(input, guild, channel.id) : undefined;
    const id = this.d.ids.next();
    const token = randomBytes(48).toString('base64url');
    const payload = buildInteraction(
      { id, token, applicationId: world.botUser.id, guild, channel, user, member: guild && userId ? world.member(guild.id, userId) : undefined },
      { kind: input.kind, name: input.name, commandId: this.commandId(input, guild), options: input.options, customId: input.customId, message },
    );
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(this.d.clock.wallNow() / 1000));
    const good = this.d.signer.sign(timestamp, body);
    const signature = input.badSignature === true ? corruptSignature(good) : good;

    const record: InteractionRecord = {
      n: this.d.log.nextInteractionN,
      id,
      guildId: guild?.id ?? null,
      channelId: channel?.id ?? null,
      kind: input.kind,
      name: input.kind === 'ping' || input.kind === 'component' ? null : (input.name ?? (input.kind === 'command' ? 'stats' : 'Report message')),
      url: input.url,
      sentAt: this.d.clock.wallNow(),
      badSignature: input.badSignature === true,
      status: 0,
      responseType: null,
      answer: null,
      latencyMs: null,
      failed: false,
      pending: true,
      deferred: false,
      followedUp: false,
      followUpAt: null,
      error: null,
    };
    const tracked: TrackedInteraction = { record, token, channelId: channel?.id ?? null, sentAtMono: this.d.clock.now(), acknowledgedAt: undefined, originalMessageId: undefined };
    this.d.counters.interactionsSent += 1;
    this.d.log.addInteraction(record);
    this.d.tracker.track(tracked);

    const abort = new AbortController();
    this.inFlight.add(abort);
    try {
      const res = await request(input.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Discord-Interactions/1.0 (+https://discord.com)', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
        body,
        headersTimeout: this.d.timeoutMs,
        bodyTimeout: this.d.timeoutMs,
        signal: abort.signal,
      });
      const text = await res.body.text();
      record.latencyMs = Math.round((this.d.clock.now() - tracked.sentAtMono) * 10) / 10;
      record.status = res.statusCode;
      if (res.statusCode === 200 && !record.badSignature) {
        const type = responseType(text);
        if (type !== undefined && VALID_RESPONSES[record.kind].includes(type)) {
          this.d.tracker.acknowledge(tracked, type);
          record.answer = answerContent(text);
        }
        else record.error = `not a valid ${record.kind} response: ${text.slice(0, 200)}`;
      }
    } catch (err) {
      record.latencyMs = Math.round(this.d.clock.now() - tracked.sentAtMono);
      record.error = errorMessage(err);
    } finally {
      this.inFlight.delete(abort);
    }
    record.pending = false;
    record.failed = record.badSignature ? record.status !== 401 : !this.d.tracker.acknowledgedInTime(tracked);
    if (record.failed) {
      this.d.counters.interactionsFailed += 1;
      this.d.logger.info({ interaction: id, kind: record.kind, status: record.status, latencyMs: record.latencyMs, error: record.error }, 'interaction failed');
    }
    this.d.log.interactionChanged(record);
    return { ...record };
  }

  /** Abort interactions still waiting for an answer (the stand-in is closing). */
  abortAll(): void {
    for (const a of this.inFlight) a.abort();
  }

  private targetMessage(input: InteractionInput, guild: GuildRecord, channelId: string): APIMessage | undefined {
    if (input.kind !== 'message_command' && input.kind !== 'component') return undefined;
    if (input.targetMessageId !== undefined) {
      const stored = this.d.world.messages.get(input.targetMessageId);
      if (!stored || stored.deleted || stored.guildId !== guild.id) throw new AppError(404, 'UNKNOWN_MESSAGE', `unknown message ${input.targetMessageId} in guild ${guild.id}`);
      return messagePayload(this.d.world, stored);
    }
    if (input.kind === 'message_command') {
      // Someone reports a message that really was posted (and dispatched) first.
      const posted = this.d.messages.post({ guildId: guild.id, channelId, content: this.d.world.words(this.d.rnd, 6) });
      const stored = this.d.world.messages.get(posted.id);
      if (stored === undefined) throw new Error(`message ${posted.id} was posted but is not stored`);
      return messagePayload(this.d.world, stored);
    }
    // A button on a message the bot sent earlier; not stored, as nothing else refers to it.
    const at = new Date(this.d.clock.wallNow()).toISOString();
    return messagePayload(this.d.world, { id: this.d.ids.next(), guildId: guild.id, channelId, authorId: this.d.world.botUser.id, content: 'press a button', timestamp: at, nonce: undefined, webhookId: undefined, editedTimestamp: null, deleted: false });
  }

  private commandId(input: InteractionInput, guild: GuildRecord | undefined): string {
    if (input.kind !== 'command' && input.kind !== 'message_command') return '0';
    const type = input.kind === 'command' ? ApplicationCommandType.ChatInput : ApplicationCommandType.Message;
    const name = input.name ?? (input.kind === 'command' ? 'stats' : 'Report message');
    const registered = [...((guild && this.d.world.guildCommands.get(guild.id)) ?? []), ...this.d.world.globalCommands].find((c) => c.name === name && c.type === type);
    return registered?.id ?? this.d.ids.next();
  }
}

function answerContent(text: string): string | null {
  try {
    const content = (JSON.parse(text) as { data?: { content?: unknown } }).data?.content;
    return typeof content === 'string' ? content : null;
  } catch {
    return null;
  }
}

function responseType(text: string): number | undefined {
  try {
    const parsed = JSON.parse(text) as { type?: unknown };
    return typeof parsed.type === 'number' ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}

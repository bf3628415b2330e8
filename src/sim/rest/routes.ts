// The Discord REST endpoints the bot uses, as handlers over the stand-in's world: gateway info,
// current user/application, command bulk overwrite, messages (with nonce dedupe), member
// timeouts, interaction callbacks and the interaction webhooks.
import {
  ApplicationCommandType,
  GatewayDispatchEvents,
  GatewayIntentBits,
  InteractionResponseType,
  type APIApplicationCommand,
  type APIMessage,
  type RESTGetAPIGatewayBotResult,
} from 'discord-api-types/v10';
import type { Clock } from '../../clock.js';
import type { GatewayServer } from '../gateway/server.js';
import type { IdentifyLimiter } from '../gateway/identify-limits.js';
import type { InteractionTracker, TrackedInteraction } from '../interactions/tracker.js';
import type { Messages } from '../messages.js';
import { channelPayload, memberPayload, messagePayload, userPayload } from '../payloads.js';
import type { SnowflakeGenerator } from '../snowflake.js';
import type { StoredMessage, World } from '../world.js';
import * as E from './errors.js';
import type { NonceStore } from './nonces.js';
import type { RouteName } from './rate-limits.js';

export interface RestContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly token: string | undefined;
}

/** What a side effect touched, filled in by the handler as it learns it (kept even when it fails). */
export interface EffectNote {
  guildId?: string;
  channelId?: string;
  nonce?: string;
  enforceNonce?: boolean;
  deduplicated?: boolean;
  messageId?: string;
  interactionId?: string;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
}

export interface RestRoute {
  readonly name: RouteName;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly pattern: string;
  /** Needs `Authorization: Bot <token>` and counts against the bot's global limit. */
  readonly auth: boolean;
  /** A side effect: every call is logged as an effect record. */
  readonly effect: boolean;
  /** The rate-limit bucket's major parameter. */
  major(p: Readonly<Record<string, string>>): string;
  handle(c: RestContext, note: EffectNote): Reply;
}

export interface RoutesDeps {
  readonly world: World;
  readonly messages: Messages;
  readonly gateway: GatewayServer;
  readonly tracker: InteractionTracker;
  readonly identify: IdentifyLimiter;
  readonly nonces: NonceStore<StoredMessage>;
  readonly ids: SnowflakeGenerator;
  readonly clock: Clock;
  readonly shards: number;
  readonly gatewayUrl: () => string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const MAX_TIMEOUT_MS = 28 * 86_400_000;

export function restRoutes(d: RoutesDeps): RestRoute[] {
  const { world } = d;
  const appId = world.botUser.id;
  const none = () => '';

  const channelOf = (id: string | undefined, note: EffectNote) => {
    const channel = id === undefined ? undefined : world.channels.get(id);
    if (!channel) throw E.unknownChannel();
    note.channelId = channel.id;
    note.guildId = channel.guildId;
    if (world.guilds.get(channel.guildId)?.removed !== false) throw E.missingAccess();
    return channel;
  };

  const messageContent = (body: unknown): { content: string; nonce?: string; enforceNonce: boolean } => {
    if (!isObj(body)) throw E.invalidFormBody('content', 'Expected an object');
    const content = body['content'];
    if (content !== undefined && typeof content !== 'string') throw E.invalidFormBody('content', 'Could not interpret the value as string.');
    if (typeof content === 'string' && content.length > 2000) throw E.invalidFormBody('content', 'Must be 2000 or fewer in length.', 'BASE_TYPE_MAX_LENGTH');
    const nonEmpty = (k: string) => Array.isArray(body[k]) && (body[k] as unknown[]).length > 0;
    const hasOther = nonEmpty('embeds') || nonEmpty('components') || nonEmpty('sticker_ids') || isObj(body['poll']);
    if ((content ?? '') === '' && !hasOther) throw E.emptyMessage();
    const rawNonce = body['nonce'];
    if (rawNonce !== undefined && typeof rawNonce !== 'string' && typeof rawNonce !== 'number') throw E.invalidFormBody('nonce', 'Could not interpret the value as string or integer.');
    const nonce = rawNonce === undefined ? undefined : String(rawNonce);
    if (nonce !== undefined && nonce.length > 25) throw E.invalidFormBody('nonce', 'Must be 25 or fewer in length.', 'BASE_TYPE_MAX_LENGTH');
    return { content: content ?? '', enforceNonce: body['enforce_nonce'] === true, ...(nonce !== undefined ? { nonce } : {}) };
  };

  const overwriteCommands = (existing: APIApplicationCommand[], body: unknown, guildId: string | undefined): APIApplicationCommand[] => {
    if (!Array.isArray(body)) throw E.invalidFormBody('_root', 'Expected an array of commands');
    if (body.length > 110) throw E.invalidFormBody('_root', 'Must be 110 or fewer in length.', 'BASE_TYPE_MAX_LENGTH');
    const next: APIApplicationCommand[] = body.map((raw, i) => {
      if (!isObj(raw) || typeof raw['name'] !== 'string' || raw['name'].length < 1 || raw['name'].length > 32) throw E.invalidFormBody(`${i}.name`, 'Must be between 1 and 32 in length.', 'BASE_TYPE_BAD_LENGTH');
      const type = typeof raw['type'] === 'number' ? (raw['type'] as ApplicationCommandType) : ApplicationCommandType.ChatInput;
      const description = typeof raw['description'] === 'string' ? raw['description'] : '';
      if (type === ApplicationCommandType.ChatInput && (description.length < 1 || description.length > 100)) throw E.invalidFormBody(`${i}.description`, 'Must be between 1 and 100 in length.', 'BASE_TYPE_BAD_LENGTH');
      // A bulk overwrite keeps the id of a command that keeps its name and type, as Discord does.
      const keep = existing.find((c) => c.name === raw['name'] && c.type === type);
      const perms = raw['default_member_permissions'];
      const cmd = {
        id: keep?.id ?? d.ids.next(),
        application_id: appId,
        ...(guildId !== undefined ? { guild_id: guildId } : {}),
        type,
        name: raw['name'],
        description,
        ...(Array.isArray(raw['options']) ? { options: raw['options'] } : {}),
        default_member_permissions: typeof perms === 'string' ? perms : null,
        nsfw: raw['nsfw'] === true,
        version: d.ids.next(),
        ...(Array.isArray(raw['contexts']) ? { contexts: raw['contexts'] } : {}),
        ...(Array.isArray(raw['integration_types']) ? { integration_types: raw['integration_types'] } : {}),
      } as APIApplicationCommand;
      return cmd;
    });
    existing.splice(0, existing.length, ...next);
    return next;
  };

  const webhookInteraction = (p: Readonly<Record<string, string>>, note: EffectNote): TrackedInteraction => {
    if (p['app'] !== appId) throw E.unknownWebhook();
    const t = d.tracker.byToken(p['token'] ?? '');
    if (!t) throw E.unknownWebhook();
    note.interactionId = t.record.id;
    if (t.record.guildId !== null) note.guildId = t.record.guildId;
    if (t.channelId !== null) note.channelId = t.channelId;
    if (d.tracker.tokenExpired(t)) throw E.invalidWebhookToken();
    return t;
  };

  /** The message a webhook edit or follow-up creates or changes (interaction responses are not dispatched). */
  const webhookMessage = (t: TrackedInteraction, content: string, existingId: string | undefined): StoredMessage => {
    const now = new Date(d.clock.wallNow()).toISOString();
    const existing = existingId === undefined ? undefined : world.messages.get(existingId);
    if (existing) {
      existing.content = content;
      existing.editedTimestamp = now;
      return existing;
    }
    const m: StoredMessage = { id: d.ids.next(), guildId: t.record.guildId ?? '', channelId: t.channelId ?? '', authorId: appId, content, timestamp: now, nonce: undefined, webhookId: appId, editedTimestamp: null, deleted: false };
    world.rememberMessage(m);
    return m;
  };

  const webhookBodyContent = (body: unknown): string => {
    if (!isObj(body)) return '';
    return typeof body['content'] === 'string' ? body['content'] : '';
  };

  const routes: RestRoute[] = [
    {
      name: 'getGateway', method: 'GET', pattern: '/gateway', auth: false, effect: false, major: none,
      handle: () => ({ status: 200, body: { url: d.gatewayUrl() } }),
    },
    {
      name: 'getGatewayBot', method: 'GET', pattern: '/gateway/bot', auth: true, effect: false, major: none,
      handle: () => {
        const body: RESTGetAPIGatewayBotResult = { url: d.gatewayUrl(), shards: d.shards, session_start_limit: d.identify.sessionStartLimit() };
        return { status: 200, body };
      },
    },
    {
      name: 'getCurrentUser', method: 'GET', pattern: '/users/@me', auth: true, effect: false, major: none,
      handle: () => ({ status: 200, body: { ...userPayload(world.botUser), verified: true, mfa_enabled: false, flags: 0 } }),
    },
    {
      name: 'getCurrentApplication', method: 'GET', pattern: '/applications/@me', auth: true, effect: false, major: none,
      handle: () => ({ status: 200, body: { id: appId, name: world.botUser.username, icon: null, description: 'leasehold Discord stand-in application', bot_public: true, bot_require_code_grant: false, verify_key: '', flags: 0, team: null, summary: '', bot: userPayload(world.botUser) } }),
    },
    {
      name: 'getGlobalCommands', method: 'GET', pattern: '/applications/:app/commands', auth: true, effect: false, major: (p) => p['app'] ?? '',
      handle: (c) => {
        if (c.params['app'] !== appId) throw E.missingAccess();
        return { status: 200, body: world.globalCommands };
      },
    },
    {
      name: 'putGlobalCommands', method: 'PUT', pattern: '/applications/:app/commands', auth: true, effect: true, major: (p) => p['app'] ?? '',
      handle: (c) => {
        if (c.params['app'] !== appId) throw E.missingAccess();
        return { status: 200, body: overwriteCommands(world.globalCommands, c.body, undefined) };
      },
    },
    {
      name: 'getGuildCommands', method: 'GET', pattern: '/applications/:app/guilds/:guild/commands', auth: true, effect: false, major: (p) => p['guild'] ?? '',
      handle: (c) => {
        if (c.params['app'] !== appId) throw E.missingAccess();
        return { status: 200, body: world.guildCommands.get(c.params['guild'] ?? '') ?? [] };
      },
    },
    {
      name: 'putGuildCommands', method: 'PUT', pattern: '/applications/:app/guilds/:guild/commands', auth: true, effect: true, major: (p) => p['guild'] ?? '',
      handle: (c, note) => {
        const guildId = c.params['guild'] ?? '';
        note.guildId = guildId;
        if (c.params['app'] !== appId) throw E.missingAccess();
        const guild = world.guilds.get(guildId);
        if (!guild) throw E.unknownGuild();
        if (guild.removed) throw E.missingAccess();
        let list = world.guildCommands.get(guildId);
        if (!list) world.guildCommands.set(guildId, (list = []));
        return { status: 200, body: overwriteCommands(list, c.body, guildId) };
      },
    },
    {
      name: 'getChannel', method: 'GET', pattern: '/channels/:channel', auth: true, effect: false, major: (p) => p['channel'] ?? '',
      handle: (c) => ({ status: 200, body: channelPayload(channelOf(c.params['channel'], {})) }),
    },
    {
      name: 'getMessage', method: 'GET', pattern: '/channels/:channel/messages/:message', auth: true, effect: false, major: (p) => p['channel'] ?? '',
      handle: (c) => {
        const channel = channelOf(c.params['channel'], {});
        const m = world.messages.get(c.params['message'] ?? '');
        if (!m || m.deleted || m.channelId !== channel.id) throw E.unknownMessage();
        return { status: 200, body: messagePayload(world, m) };
      },
    },
    {
      name: 'createMessage', method: 'POST', pattern: '/channels/:channel/messages', auth: true, effect: true, major: (p) => p['channel'] ?? '',
      handle: (c, note) => {
        const channel = channelOf(c.params['channel'], note);
        const { content, nonce, enforceNonce } = messageContent(c.body);
        if (nonce !== undefined) note.nonce = nonce;
        note.enforceNonce = enforceNonce;
        if (nonce !== undefined && enforceNonce) {
          const first = d.nonces.lookup(appId, nonce);
          if (first) {
            note.deduplicated = true;
            note.messageId = first.id;
            return { status: 200, body: messagePayload(world, first) };
          }
        }
        const m = d.messages.createByBot(channel, content, nonce);
        if (nonce !== undefined) d.nonces.remember(appId, nonce, m);
        note.messageId = m.id;
        return { status: 200, body: messagePayload(world, m) satisfies APIMessage };
      },
    },
    {
      name: 'deleteMessage', method: 'DELETE', pattern: '/channels/:channel/messages/:message', auth: true, effect: true, major: (p) => p['channel'] ?? '',
      handle: (c, note) => {
        const channel = channelOf(c.params['channel'], note);
        const m = world.messages.get(c.params['message'] ?? '');
        note.messageId = c.params['message'] ?? '';
        if (!m || m.deleted || m.channelId !== channel.id) throw E.unknownMessage();
        d.messages.delete(m);
        return { status: 204 };
      },
    },
    {
      name: 'getMember', method: 'GET', pattern: '/guilds/:guild/members/:user', auth: true, effect: false, major: (p) => p['guild'] ?? '',
      handle: (c) => {
        const guild = world.guilds.get(c.params['guild'] ?? '');
        if (!guild) throw E.unknownGuild();
        if (guild.removed) throw E.missingAccess();
        const m = world.member(guild.id, c.params['user'] ?? '');
        const u = world.users.get(c.params['user'] ?? '');
        if (!m || !u) throw E.unknownMember();
        return { status: 200, body: memberPayload(m, u) };
      },
    },
    {
      name: 'editMember', method: 'PATCH', pattern: '/guilds/:guild/members/:user', auth: true, effect: true, major: (p) => p['guild'] ?? '',
      handle: (c, note) => {
        const guildId = c.params['guild'] ?? '';
        note.guildId = guildId;
        const guild = world.guilds.get(guildId);
        if (!guild) throw E.unknownGuild();
        if (guild.removed) throw E.missingAccess();
        const m = world.member(guild.id, c.params['user'] ?? '');
        const u = world.users.get(c.params['user'] ?? '');
        if (!m || !u) throw E.unknownMember();
        if (!isObj(c.body)) throw E.invalidFormBody('_root', 'Expected an object');
        if ('communication_disabled_until' in c.body) {
          const until = c.body['communication_disabled_until'];
          if (until !== null) {
            const at = typeof until === 'string' ? Date.parse(until) : Number.NaN;
            if (Number.isNaN(at)) throw E.invalidFormBody('communication_disabled_until', 'Could not parse the value as an ISO8601 timestamp.', 'DATE_TIME_TYPE_PARSE');
            if (at - d.clock.wallNow() > MAX_TIMEOUT_MS) throw E.invalidFormBody('communication_disabled_until', 'A timeout can be at most 28 days long.', 'COMMUNICATION_DISABLED_TIMESTAMP_TOO_FAR');
            m.communicationDisabledUntil = new Date(at).toISOString();
          } else {
            m.communicationDisabledUntil = null;
          }
        }
        const payload = memberPayload(m, u);
        d.gateway.dispatchGuild(guild, GatewayDispatchEvents.GuildMemberUpdate, { ...payload, guild_id: guild.id }, { intent: GatewayIntentBits.GuildMembers });
        return { status: 200, body: payload };
      },
    },
    {
      name: 'interactionCallback', method: 'POST', pattern: '/interactions/:id/:token/callback', auth: false, effect: true, major: (p) => p['id'] ?? '',
      handle: (c, note) => {
        const t = d.tracker.byId(c.params['id'] ?? '');
        if (!t || t.token !== c.params['token']) throw E.unknownInteraction();
        note.interactionId = t.record.id;
        if (t.record.guildId !== null) note.guildId = t.record.guildId;
        if (t.channelId !== null) note.channelId = t.channelId;
        const type = isObj(c.body) && typeof c.body['type'] === 'number' ? c.body['type'] : undefined;
        if (type === undefined || !Object.values(InteractionResponseType).includes(type)) throw E.invalidFormBody('type', 'Value must be one of the interaction response types.', 'BASE_TYPE_CHOICES');
        if (!d.tracker.acknowledge(t, type)) throw E.alreadyAcknowledged();
        if (c.query.get('with_response') !== 'true') return { status: 204 };
        return { status: 200, body: { interaction: { id: t.record.id, type: t.record.kind === 'ping' ? 1 : t.record.kind === 'component' ? 3 : 2 }, resource: { type } } };
      },
    },
    {
      name: 'getOriginal', method: 'GET', pattern: '/webhooks/:app/:token/messages/@original', auth: false, effect: false, major: (p) => `${p['app']}:${p['token']}`,
      handle: (c) => {
        const t = webhookInteraction(c.params, {});
        const m = t.originalMessageId === undefined ? undefined : world.messages.get(t.originalMessageId);
        if (!m || m.deleted) throw E.unknownMessage();
        return { status: 200, body: messagePayload(world, m) };
      },
    },
    {
      name: 'editOriginal', method: 'PATCH', pattern: '/webhooks/:app/:token/messages/@original', auth: false, effect: true, major: (p) => `${p['app']}:${p['token']}`,
      handle: (c, note) => {
        const t = webhookInteraction(c.params, note);
        const m = webhookMessage(t, webhookBodyContent(c.body), t.originalMessageId);
        t.originalMessageId = m.id;
        note.messageId = m.id;
        d.tracker.followUp(t);
        return { status: 200, body: messagePayload(world, m) };
      },
    },
    {
      name: 'deleteOriginal', method: 'DELETE', pattern: '/webhooks/:app/:token/messages/@original', auth: false, effect: true, major: (p) => `${p['app']}:${p['token']}`,
      handle: (c, note) => {
        const t = webhookInteraction(c.params, note);
        const m = t.originalMessageId === undefined ? undefined : world.messages.get(t.originalMessageId);
        if (!m || m.deleted) throw E.unknownMessage();
        m.deleted = true;
        note.messageId = m.id;
        return { status: 204 };
      },
    },
    {
      name: 'createFollowup', method: 'POST', pattern: '/webhooks/:app/:token', auth: false, effect: true, major: (p) => `${p['app']}:${p['token']}`,
      handle: (c, note) => {
        const t = webhookInteraction(c.params, note);
        const content = webhookBodyContent(c.body);
        if (content === '' && !(isObj(c.body) && Array.isArray(c.body['embeds']) && c.body['embeds'].length > 0)) throw E.emptyMessage();
        const m = webhookMessage(t, content, undefined);
        note.messageId = m.id;
        d.tracker.followUp(t);
        return c.query.get('wait') === 'true' ? { status: 200, body: messagePayload(world, m) } : { status: 204 };
      },
    },
    {
      name: 'editFollowup', method: 'PATCH', pattern: '/webhooks/:app/:token/messages/:message', auth: false, effect: true, major: (p) => `${p['app']}:${p['token']}`,
      handle: (c, note) => {
        const t = webhookInteraction(c.params, note);
        const existing = world.messages.get(c.params['message'] ?? '');
        if (!existing || existing.deleted || existing.webhookId !== appId) throw E.unknownMessage();
        const m = webhookMessage(t, webhookBodyContent(c.body), existing.id);
        note.messageId = m.id;
        d.tracker.followUp(t);
        return { status: 200, body: messagePayload(world, m) };
      },
    },
  ];
  return routes;
}

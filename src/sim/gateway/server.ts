// The gateway WebSocket protocol as Discord speaks it: HELLO, heartbeats, IDENTIFY → READY +
// GUILD_CREATE, RESUME with replay, RECONNECT / INVALID_SESSION on request, close codes; each
// dispatch goes to every session holding the guild's shard.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  ApplicationFlags,
  type GatewayHello,
  type GatewayIdentifyData,
  type GatewayReadyDispatchData,
  type GatewayResumeData,
  type GatewayRequestGuildMembersData,
  type GatewayGuildMembersChunkDispatchData,
} from 'discord-api-types/v10';
import { dedupeKey } from '../../gateway/dedupe.js';
import type { Logger } from '../../log.js';
import type { Clock } from '../../clock.js';
import type { SimCounters } from '../counters.js';
import type { ResolvedSimOptions } from '../options.js';
import { PRIVILEGED_INTENTS } from '../options.js';
import { guildCreatePayload, memberPayload, userPayload } from '../payloads.js';
import type { DispatchRecord } from '../records.js';
import type { SimLog } from '../sim-log.js';
import type { Tokens } from '../tokens.js';
import { normaliseToken } from '../tokens.js';
import type { GuildRecord, World } from '../world.js';
import type { IdentifyLimiter } from './identify-limits.js';
import { GatewaySession, type Connection, type SessionInfo } from './session.js';
import { FrameWriter } from './frame-writer.js';

const ALL_INTENTS = Object.values(GatewayIntentBits)
  .filter((v): v is number => typeof v === 'number')
  .reduce((a, b) => a | b, 0);

/** Sessions that ended are kept this long in the state for inspection. */
const ENDED_SESSIONS_KEPT = 1000;
const COMMAND_WINDOW_MS = 60_000;

export interface GatewayDeps {
  readonly options: ResolvedSimOptions;
  readonly world: World;
  readonly log: SimLog;
  readonly identify: IdentifyLimiter;
  readonly tokens: Tokens;
  readonly counters: SimCounters;
  readonly clock: Clock;
  readonly logger: Logger;
  /** ws://host:port, known once the server listens. */
  readonly wsBase: () => string;
}

export interface DispatchOptions {
  /** Intent a session needs to receive it (0: every session). */
  readonly intent: number;
  /** The payload carries message content, which sessions without MessageContent get emptied. */
  readonly content?: { readonly visibleToAll: boolean; readonly stripped: () => object };
}

export class GatewayServer {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, GatewaySession>();
  private readonly ended: SessionInfo[] = [];
  /** shard count → shard id → sessions. Usually one shard count; sessions may use others, as on Discord. */
  private readonly groups = new Map<number, Set<GatewaySession>[]>();
  private nextConnectionId = 1;
  private readonly writer: FrameWriter;
  private readonly lastRecipients = new Map<number, (readonly string[])[]>();
  private heartbeatAcks = true;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly d: GatewayDeps) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 });
    this.writer = new FrameWriter(d.counters, d.logger);
    const every = Math.max(100, Math.min(1000, Math.floor(d.options.heartbeatIntervalMs / 2)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  get resumeUrl(): string {
    return `${this.d.wsBase()}/gateway/resume`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const version = url.searchParams.get('v');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: Connection = {
        id: this.nextConnectionId++,
        socket: ws,
        userAgent: req.headers['user-agent'] ?? '',
        path: url.pathname,
        session: undefined,
        lastHeartbeatAt: this.d.clock.now(),
        commandsInWindow: 0,
        windowStartedAt: this.d.clock.now(),
        open: true,
        corked: false,
      };
      this.connections.add(conn);
      this.d.counters.connections += 1;
      ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
      ws.on('close', (code) => this.onClose(conn, code));
      ws.on('error', (err) => this.d.logger.debug({ err, connection: conn.id }, 'gateway socket error'));
      if (version !== null && version !== '10' && version !== '9') {
        this.closeWith(conn, GatewayCloseCodes.InvalidAPIVersion, 'Invalid API version');
        return;
      }
      if (url.searchParams.get('encoding') === 'etf') {
        this.closeWith(conn, GatewayCloseCodes.DecodeError, 'The stand-in speaks JSON only');
        return;
      }
      const hello: GatewayHello = { op: GatewayOpcodes.Hello, t: null, s: null, d: { heartbeat_interval: this.d.options.heartbeatIntervalMs } };
      this.sendRaw(conn, JSON.stringify(hello));
    });
  }

  // ---- fan-out ------------------------------------------------------------------------------

  /** Send a guild event to every live session holding the guild's shard; returns its record. */
  dispatchGuild(guild: GuildRecord, t: GatewayDispatchEvents, data: object, o: DispatchOptions): DispatchRecord {
    const json = JSON.stringify(data);
    let strippedJson: string | undefined;
    const recipients: string[] = [];
    for (const [count, shards] of this.groups) {
      const set = shards[guild.timestampPart % count];
      if (set === undefined) continue;
      for (const s of set) {
        if (o.intent !== 0 && (s.intents & o.intent) === 0) continue;
        let body = json;
        if (o.content && !o.content.visibleToAll && (s.intents & GatewayIntentBits.MessageContent) === 0) body = strippedJson ??= JSON.stringify(o.content.stripped());
        this.deliver(s, t, body);
        recipients.push(s.id);
      }
    }
    return this.record(t, data, guild.id, guild.shard, this.shareRecipients(guild.shard, o.intent, recipients));
  }

  /**
   * The recipient list of a record, shared with the previous record of the same shard and intent
   * when it is the same list (it nearly always is): a million logged dispatches then hold a
   * handful of arrays, not a million, which keeps the garbage collector's work down.
   */
  private shareRecipients(shard: number, intent: number, recipients: string[]): readonly string[] {
    let byShard = this.lastRecipients.get(intent);
    if (byShard === undefined) this.lastRecipients.set(intent, (byShard = []));
    const last = byShard[shard];
    if (last !== undefined && last.length === recipients.length && last.every((id, i) => id === recipients[i])) return last;
    byShard[shard] = recipients;
    return recipients;
  }

  private record(t: string, data: object, guildId: string | null, shard: number | null, sessions: readonly string[]): DispatchRecord {
    const r: DispatchRecord = { seq: this.d.log.nextDispatchSeq, at: this.d.clock.wallNow(), shard, type: t, guildId, key: dedupeKey({ t, d: data }), sessions };
    this.d.counters.dispatches += 1;
    this.d.log.addDispatch(r);
    return r;
  }

  /** One session-only dispatch (READY, GUILD_CREATE after READY, RESUMED, member chunks). */
  private dispatchTo(s: GatewaySession, t: string, data: object, guildId: string | null): void {
    this.deliver(s, t, JSON.stringify(data));
    this.record(t, data, guildId, guildId === null ? s.shardId : (this.d.world.guilds.get(guildId)?.shard ?? null), [s.id]);
  }

  private deliver(s: GatewaySession, t: string, dataJson: string): void {
    const frame = s.nextFrame(t, dataJson);
    const conn = s.connection;
    if (conn !== undefined && conn.open) this.sendRaw(conn, frame);
  }

  private sendRaw(conn: Connection, frame: string): void {
    this.writer.send(conn, frame);
  }

  // ---- protocol -----------------------------------------------------------------------------

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (!conn.open) return;
    const now = this.d.clock.now();
    if (now - conn.windowStartedAt >= COMMAND_WINDOW_MS) {
      conn.windowStartedAt = now;
      conn.commandsInWindow = 0;
    }
    conn.commandsInWindow += 1;
    if (conn.commandsInWindow > this.d.options.commandsPerMinute) {
      this.closeWith(conn, GatewayCloseCodes.RateLimited, 'You are being rate limited.');
      return;
    }
    let payload: { op?: unknown; d?: unknown };
    try {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : (data as Buffer).toString('utf8');
      payload = JSON.parse(text) as { op?: unknown; d?: unknown };
      if (payload === null || typeof payload !== 'object') throw new Error('not an object');
    } catch {
      this.closeWith(conn, GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
      return;
    }
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        conn.lastHeartbeatAt = now;
        if (this.heartbeatAcks) this.sendRaw(conn, `{"op":${GatewayOpcodes.HeartbeatAck}}`);
        return;
      case GatewayOpcodes.Identify:
        this.onIdentify(conn, payload.d as GatewayIdentifyData);
        return;
      case GatewayOpcodes.Resume:
        this.onResume(conn, payload.d as GatewayResumeData);
        return;
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
      case GatewayOpcodes.RequestSoundboardSounds:
        if (conn.session === undefined) this.closeWith(conn, GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        return;
      case GatewayOpcodes.RequestGuildMembers:
        if (conn.session === undefined) this.closeWith(conn, GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        else this.onRequestMembers(conn.session, payload.d as GatewayRequestGuildMembersData);
        return;
      default:
        this.closeWith(conn, GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    }
  }

  private onIdentify(conn: Connection, d: GatewayIdentifyData | undefined): void {
    if (conn.session !== undefined) return this.closeWith(conn, GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
    if (d === undefined || d === null || typeof d !== 'object' || typeof d.token !== 'string') return this.closeWith(conn, GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    const token = normaliseToken(d.token);
    if (!this.d.tokens.isValid(token)) return this.closeWith(conn, GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    const shard = d.shard ?? [0, 1];
    const [shardId, shardCount] = Array.isArray(shard) ? shard : [Number.NaN, Number.NaN];
    if (!Number.isInteger(shardId) || !Number.isInteger(shardCount) || (shardCount as number) < 1 || (shardId as number) < 0 || (shardId as number) >= (shardCount as number)) {
      return this.closeWith(conn, GatewayCloseCodes.InvalidShard, 'Invalid shard.');
    }
    const intents = d.intents;
    if (!Number.isInteger(intents) || intents < 0 || (intents & ~ALL_INTENTS) !== 0) return this.closeWith(conn, GatewayCloseCodes.InvalidIntents, 'Invalid intent(s).');
    if ((intents & PRIVILEGED_INTENTS & ~this.d.options.privilegedIntents) !== 0) return this.closeWith(conn, GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s).');
    const guilds = this.guildsOfShard(shardId as number, shardCount as number);
    if (guilds.length > this.d.options.maxGuildsPerShard) return this.closeWith(conn, GatewayCloseCodes.ShardingRequired, 'Sharding required.');

    const decision = this.d.identify.tryIdentify(shardId as number);
    if (!decision.ok && decision.reason === 'concurrency') {
      // What Discord does with an identify over max_concurrency: op 9, not a close. The client
      // is expected to wait and identify again (the connection stays open).
      this.d.counters.identifiesRateLimited += 1;
      this.d.logger.info({ shard: [shardId, shardCount], bucket: decision.bucket, retryAfterMs: decision.retryAfterMs }, 'identify too fast for its bucket: op 9');
      this.sendRaw(conn, JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
      return;
    }
    if (!decision.ok) {
      // Discord's documented answer to the daily total: every session of the bot is ended and
      // its token reset, so the bot cannot log in again until someone intervenes.
      this.d.counters.identifiesOverDailyLimit += 1;
      this.d.logger.error({ shard: [shardId, shardCount] }, 'daily identify total spent: token reset, every session closed');
      this.d.tokens.revoke(token);
      for (const c of [...this.connections]) if (c.session?.token === token || c === conn) this.closeWith(c, GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
      return;
    }

    this.d.counters.identifies += 1;
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.properties ?? {})) if (typeof v === 'string') properties[k] = v.slice(0, 200);
    const s = new GatewaySession(randomBytes(16).toString('hex'), token, shardId as number, shardCount as number, intents, this.d.clock.wallNow(), conn.userAgent, properties['browser'] ?? '', properties, this.d.options.replayBufferSize);
    s.connection = conn;
    conn.session = s;
    this.sessions.set(s.id, s);
    this.register(s);
    const app = this.d.world.botUser;
    const ready: GatewayReadyDispatchData = {
      v: 10,
      user: userPayload(app),
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: s.id,
      resume_gateway_url: this.resumeUrl,
      shard: [shardId as number, shardCount as number],
      application: { id: app.id, flags: this.applicationFlags(), flags_new: String(this.applicationFlags()) },
    };
    this.dispatchTo(s, GatewayDispatchEvents.Ready, ready, null);
    const withMembers = (intents & GatewayIntentBits.GuildMembers) !== 0;
    for (const g of guilds) this.dispatchTo(s, GatewayDispatchEvents.GuildCreate, guildCreatePayload(this.d.world, g, withMembers), g.id);
    this.d.logger.info({ session: s.id, shard: [shardId, shardCount], guilds: guilds.length, remaining: decision.remaining }, 'session identified');
  }

  private onResume(conn: Connection, d: GatewayResumeData | undefined): void {
    if (d === undefined || d === null || typeof d !== 'object' || typeof d.token !== 'string' || typeof d.session_id !== 'string') return this.closeWith(conn, GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    const token = normaliseToken(d.token);
    if (!this.d.tokens.isValid(token)) return this.closeWith(conn, GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    const s = this.sessions.get(d.session_id);
    const refuse = (why: string) => {
      this.d.counters.resumesRefused += 1;
      this.d.logger.info({ session: d.session_id, seq: d.seq, why }, 'resume refused: op 9');
      this.sendRaw(conn, JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
    };
    if (s === undefined || !s.live || s.token !== token) return refuse(s === undefined ? 'unknown session' : s.live ? 'another token' : `session ${s.status}`);
    if (conn.session !== undefined && conn.session !== s) return this.closeWith(conn, GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    if (seq > s.seq) return this.closeWith(conn, GatewayCloseCodes.InvalidSeq, 'Invalid seq.');
    const missed = s.framesAfter(seq);
    if (missed === undefined) {
      this.endSession(s, 'invalidated');
      return refuse(`fell ${s.seq - seq} dispatches behind; the replay buffer holds ${this.d.options.replayBufferSize}`);
    }
    const old = s.connection;
    if (old !== undefined && old !== conn) {
      // Discord ends the old connection of a session that is resumed elsewhere.
      old.session = undefined;
      this.terminate(old);
    }
    s.connection = conn;
    conn.session = s;
    s.status = 'connected';
    s.disconnectedAt = undefined;
    s.resumes += 1;
    this.d.counters.resumes += 1;
    for (const frame of missed) this.sendRaw(conn, frame);
    this.dispatchTo(s, GatewayDispatchEvents.Resumed, {}, null);
    this.d.logger.info({ session: s.id, from: seq, replayed: missed.length }, 'session resumed');
  }

  private onRequestMembers(s: GatewaySession, d: GatewayRequestGuildMembersData | undefined): void {
    if (d === undefined || d === null || typeof d !== 'object') return;
    const ids = Array.isArray(d.guild_id) ? d.guild_id : [d.guild_id];
    for (const guildId of ids) {
      const g = this.d.world.guilds.get(guildId);
      if (!g || g.removed) continue;
      const wanted = 'user_ids' in d && d.user_ids !== undefined ? new Set(Array.isArray(d.user_ids) ? d.user_ids : [d.user_ids]) : undefined;
      const query = 'query' in d && typeof d.query === 'string' ? d.query.toLowerCase() : '';
      const members = g.memberIds
        .filter((id) => (wanted ? wanted.has(id) : (this.d.world.users.get(id)?.username ?? '').toLowerCase().startsWith(query)))
        .slice(0, 'limit' in d && typeof d.limit === 'number' && d.limit > 0 ? d.limit : 1000)
        .flatMap((id) => {
          const m = this.d.world.member(g.id, id);
          const u = this.d.world.users.get(id);
          return m && u ? [memberPayload(m, u)] : [];
        });
      const chunk: GatewayGuildMembersChunkDispatchData = { guild_id: g.id, members, chunk_index: 0, chunk_count: 1, ...(d.nonce !== undefined ? { nonce: d.nonce } : {}) };
      this.dispatchTo(s, GatewayDispatchEvents.GuildMembersChunk, chunk, g.id);
    }
  }

  private onClose(conn: Connection, code: number): void {
    conn.open = false;
    this.connections.delete(conn);
    const s = conn.session;
    if (s === undefined || s.connection !== conn) return;
    s.connection = undefined;
    if (code === 1000 || code === 1001) {
      // A normal close ends the session on Discord (the bot goes offline); it cannot be resumed.
      this.endSession(s, 'closed');
      return;
    }
    s.status = 'disconnected';
    s.disconnectedAt = this.d.clock.now();
  }

  // ---- control ------------------------------------------------------------------------------

  setHeartbeatAcks(enabled: boolean): void {
    this.heartbeatAcks = enabled;
  }

  /** Cut connections without a close frame (clients see 1006 and resume). */
  drop(shard?: number): number {
    let n = 0;
    for (const c of [...this.connections]) {
      if (shard !== undefined && c.session?.shardId !== shard) continue;
      this.terminate(c);
      n += 1;
    }
    return n;
  }

  /** Op 7: the client should reconnect and resume. */
  reconnect(shard?: number): number {
    return this.broadcastOp(shard, JSON.stringify({ op: GatewayOpcodes.Reconnect, d: null }), () => undefined);
  }

  /** Op 9: the session is invalid; resumable says whether the client may RESUME it. */
  invalidate(resumable: boolean, shard?: number): number {
    return this.broadcastOp(shard, JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: resumable }), (c) => {
      if (resumable || c.session === undefined) return;
      this.endSession(c.session, 'invalidated');
    });
  }

  private broadcastOp(shard: number | undefined, frame: string, after: (c: Connection) => void): number {
    let n = 0;
    for (const c of [...this.connections]) {
      if (c.session === undefined || (shard !== undefined && c.session.shardId !== shard)) continue;
      this.sendRaw(c, frame);
      after(c);
      n += 1;
    }
    return n;
  }

  sessionInfos(): SessionInfo[] {
    return [...[...this.sessions.values()].map((s) => s.info()), ...this.ended];
  }

  connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const c of [...this.connections]) this.terminate(c);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ---- internals ----------------------------------------------------------------------------

  private guildsOfShard(shardId: number, shardCount: number): GuildRecord[] {
    const out: GuildRecord[] = [];
    for (const g of this.d.world.guildList) if (!g.removed && g.timestampPart % shardCount === shardId) out.push(g);
    return out;
  }

  private applicationFlags(): number {
    const p = this.d.options.privilegedIntents;
    let flags = 0;
    if (p & GatewayIntentBits.GuildMembers) flags |= ApplicationFlags.GatewayGuildMembers;
    if (p & GatewayIntentBits.GuildPresences) flags |= ApplicationFlags.GatewayPresence;
    if (p & GatewayIntentBits.MessageContent) flags |= ApplicationFlags.GatewayMessageContent;
    return flags;
  }

  private register(s: GatewaySession): void {
    let shards = this.groups.get(s.shardCount);
    if (shards === undefined) {
      shards = Array.from({ length: s.shardCount }, () => new Set<GatewaySession>());
      this.groups.set(s.shardCount, shards);
    }
    shards[s.shardId]?.add(s);
  }

  private endSession(s: GatewaySession, status: 'invalidated' | 'expired' | 'closed'): void {
    const shards = this.groups.get(s.shardCount);
    shards?.[s.shardId]?.delete(s);
    if (shards !== undefined && shards.every((set) => set.size === 0)) this.groups.delete(s.shardCount);
    const conn = s.connection;
    if (conn !== undefined) conn.session = undefined;
    s.end(status);
    this.sessions.delete(s.id);
    this.ended.push(s.info());
    if (this.ended.length > ENDED_SESSIONS_KEPT) this.ended.splice(0, this.ended.length - ENDED_SESSIONS_KEPT);
  }

  private closeWith(conn: Connection, code: number, reason: string): void {
    if (!conn.open) return;
    conn.open = false;
    this.d.counters.closeCodes[code] = (this.d.counters.closeCodes[code] ?? 0) + 1;
    this.d.logger.info({ connection: conn.id, session: conn.session?.id, code, reason }, 'closing gateway connection');
    // Closing with a 4xxx code ends the session on Discord's side too, except the codes a client may resume after.
    const s = conn.session;
    if (s !== undefined && code !== GatewayCloseCodes.UnknownError && code !== GatewayCloseCodes.SessionTimedOut) this.endSession(s, 'invalidated');
    conn.socket.close(code, reason);
  }

  private terminate(conn: Connection): void {
    conn.open = false;
    conn.socket.terminate();
  }

  private sweep(): void {
    const now = this.d.clock.now();
    const heartbeatDeadline = this.d.options.heartbeatIntervalMs * 1.5 + 1000;
    for (const c of [...this.connections]) {
      if (c.open && now - c.lastHeartbeatAt > heartbeatDeadline) this.closeWith(c, GatewayCloseCodes.SessionTimedOut, 'Session timed out.');
    }
    for (const s of [...this.sessions.values()]) {
      if (s.status === 'disconnected' && s.disconnectedAt !== undefined && now - s.disconnectedAt > this.d.options.resumeWindowMs) this.endSession(s, 'expired');
    }
  }
}

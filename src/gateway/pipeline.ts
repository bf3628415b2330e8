// The event pipeline: every dispatch for a guild this pod serves is applied once, in order, on
// the guild's own serial queue, through the guild database's fenced applyOnce (dedupe + outbox in
// one transaction), logged to the history, and its side effects sent from the outbox with
// nonces. Every guild dispatch also goes into the replay buffer, whoever owns the guild.
import { Routes, type APIInteraction, type APIInteractionResponse, type APIMessage, type GatewayDispatchPayload } from 'discord-api-types/v10';
import type { REST } from '@discordjs/rest';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import { FencedError } from '../cluster/errors.js';
import { snowflakeTime } from '../cluster/ids.js';
import type { PendingInteractions } from '../cluster/pending-interactions.js';
import type { GuildDatabases } from '../guild-data/guild-databases.js';
import type { GuildFence } from '../guild-data/fence.js';
import type { OutboxDraft, OutboxRow } from '../guild-data/outbox.js';
import { outboxFor, pendingOutbox } from '../guild-data/outbox.js';
import { FEATURES, type FeatureContext, type SendMessage } from './features/index.js';
import { dedupeKey, guildOf, nonceFor } from './dedupe.js';
import type { HistoryLog } from './history-log.js';
import type { ReplayBuffer } from './replay-buffer.js';

export interface PipelineDeps {
  readonly podId: string;
  readonly dbs: GuildDatabases;
  readonly history: HistoryLog;
  readonly buffer: ReplayBuffer;
  readonly rest: REST;
  readonly pending: PendingInteractions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The fence: this pod holds (guild, epoch) and the local deadline has not passed. */
  readonly holds: (guildId: string, epoch: number) => boolean;
  /** Discord told us the bot left a guild (GUILD_DELETE, not an outage). */
  readonly onGuildLeft: (guildId: string) => void;
  /**
   * The fence refused a write at `epoch`: the pipeline has stopped the guild, so the lease must
   * not stay held at that epoch (it would be renewed but never served). The ownership loop drops it.
   */
  readonly onFenced?: (guildId: string, epoch: number) => void;
}

interface LiveGuild {
  readonly epoch: number;
  /** Tail of the guild's serial queue. */
  tail: Promise<void>;
  /** While paused (a handoff or restore in progress) dispatches are only buffered. */
  paused: boolean;
  /** Monotonic ms the current pause began: what arrived since is replayed from the buffer. */
  pausedAt?: number;
}

const INTERACTION_RESPONSE = 'interaction_response';

export class EventPipeline {
  /** Guilds the bot is in (GUILD_CREATE minus GUILD_DELETE): the ownership loop claims from these. */
  readonly knownGuilds = new Set<string>();
  private readonly live = new Map<string, LiveGuild>();

  constructor(private readonly d: PipelineDeps) {}

  fence(guildId: string, epoch: number): GuildFence {
    return {
      guildId,
      epoch,
      assertValid: () => {
        if (!this.d.holds(guildId, epoch)) throw new FencedError(guildId, epoch, 'deadline', `guild ${guildId} at epoch ${epoch}: lease no longer held or its deadline passed`);
      },
    };
  }

  isLive(guildId: string, epoch?: number): boolean {
    const g = this.live.get(guildId);
    return g !== undefined && !g.paused && (epoch === undefined || g.epoch === epoch);
  }

  /** A raw dispatch from any shard's session. */
  onDispatch(p: GatewayDispatchPayload): void {
    const e = { t: p.t as string, d: p.d as unknown };
    const guildId = guildOf(e);
    if (!guildId) return;
    if (e.t === 'GUILD_CREATE') this.knownGuilds.add(guildId);
    this.d.buffer.add(guildId, e.t, e.d, approxBytes(e.d));
    const g = this.live.get(guildId);
    if (!g || g.paused) {
      metrics.events.inc({ outcome: g ? 'buffered' : 'not_owner' });
    } else {
      this.enqueue(guildId, g, () => this.apply(guildId, g.epoch, e, 'applied'));
    }
    if (e.t === 'GUILD_DELETE' && (e.d as { unavailable?: boolean }).unavailable !== true) {
      this.knownGuilds.delete(guildId);
      this.d.onGuildLeft(guildId);
    }
  }

  /**
   * Start serving a guild whose data is in place for `epoch`: replay what the buffer holds for
   * it (dedupe skips what the data already has), then apply new dispatches as they come.
   */
  async goLive(guildId: string, epoch: number, opts: { replayFromMs?: number } = {}): Promise<{ replayed: number }> {
    const g: LiveGuild = { epoch, tail: Promise.resolve(), paused: false };
    this.live.set(guildId, g);
    const from = opts.replayFromMs ?? Number.NEGATIVE_INFINITY;
    const backlog = this.d.buffer.forGuild(guildId).filter((b) => b.at >= from);
    for (const b of backlog) this.enqueue(guildId, g, () => this.apply(guildId, epoch, { t: b.t, d: b.d }, 'replayed'));
    this.enqueue(guildId, g, () => this.flushOutbox(guildId, epoch));
    await g.tail;
    return { replayed: backlog.length };
  }

  /**
   * Stop applying for a guild (handoff, restore): dispatches are only buffered from now on.
   * Resolves, once in-flight work is done, with the monotonic time the pause began.
   */
  async pause(guildId: string): Promise<number> {
    const now = this.d.clock.now();
    const g = this.live.get(guildId);
    if (!g) return now;
    if (!g.paused) {
      g.paused = true;
      g.pausedAt = now;
    }
    await g.tail;
    return g.pausedAt ?? now;
  }

  /**
   * Carry on after a pause that led nowhere (an aborted handoff): apply what arrived meanwhile
   * from the buffer, in order, before anything newer (dedupe skips what was applied already).
   */
  resume(guildId: string): void {
    const g = this.live.get(guildId);
    if (!g || !g.paused) return;
    const since = g.pausedAt ?? Number.NEGATIVE_INFINITY;
    const missed = this.d.buffer.forGuild(guildId).filter((b) => b.at >= since);
    g.paused = false;
    g.pausedAt = undefined;
    for (const b of missed) this.enqueue(guildId, g, () => this.apply(guildId, g.epoch, { t: b.t, d: b.d }, 'replayed'));
  }

  /** The lease is gone: stop at once. Queued work fails its fence and does nothing. */
  stop(guildId: string, epoch: number): void {
    const g = this.live.get(guildId);
    if (g && g.epoch === epoch) this.live.delete(guildId);
  }

  liveGuilds(): string[] {
    return [...this.live.keys()];
  }

  /** An interaction forwarded by the edge for a guild this pod serves at `epoch`. */
  async handleInteraction(guildId: string, epoch: number, i: APIInteraction): Promise<APIInteractionResponse> {
    const response = await this.answer(guildId, epoch, i);
    await this.deliver(guildId, i, response);
    return response;
  }

  /** Apply an interaction on the guild's queue (once: dedupe) and return its response. */
  async answer(guildId: string, epoch: number, i: APIInteraction): Promise<APIInteractionResponse> {
    const g = this.live.get(guildId);
    if (!g || g.epoch !== epoch) throw new FencedError(guildId, epoch, 'epoch', `guild ${guildId} is not served here at epoch ${epoch}`);
    let response: APIInteractionResponse | undefined;
    await this.enqueue(guildId, g, async () => {
      response = await this.applyInteraction(guildId, epoch, i);
    });
    if (!response) throw new FencedError(guildId, epoch, 'deadline', `guild ${guildId}: interaction ${i.id} not applied (lease lost)`);
    return response;
  }

  /**
   * Deferred interactions nobody completed (their owner died with the request): for the guilds
   * served here, take each, answer it from its recorded payload and edit the original response.
   */
  async completeLeftovers(): Promise<number> {
    const live = new Map([...this.live].filter(([, g]) => !g.paused).map(([id, g]) => [id, g.epoch]));
    if (live.size === 0) return 0;
    const list = await this.d.pending.leftovers({ guild: (g) => g !== undefined && live.has(g), olderThanMs: 3000 });
    let done = 0;
    for (const p of list) {
      const epoch = p.guildId ? live.get(p.guildId) : undefined;
      if (!p.guildId || epoch === undefined || !p.payload) continue;
      const taken = await this.d.pending.take(p.interactionId, this.d.podId);
      if (taken.kind !== 'complete') continue;
      try {
        const response = await this.answer(p.guildId, epoch, JSON.parse(p.payload) as APIInteraction);
        const data = (response as { data?: Record<string, unknown> }).data ?? {};
        await this.d.rest.patch(Routes.webhookMessage(taken.ticket.applicationId, taken.ticket.token, '@original'), { body: data, auth: false });
        await this.d.pending.complete(p.interactionId, this.d.podId);
        done++;
      } catch (err) {
        this.d.logger.warn({ err, guild: p.guildId, interaction: p.interactionId }, 'completing a leftover interaction failed; it stays for a retry');
      }
    }
    if (done > 0) this.d.logger.info({ completed: done }, 'completed deferred interactions left by a previous owner');
    return done;
  }

  private enqueue(guildId: string, g: LiveGuild, fn: () => Promise<void>): Promise<void> {
    const run = g.tail.then(fn, fn).catch((err: unknown) => this.onApplyError(guildId, g.epoch, err));
    g.tail = run;
    return run;
  }

  private onApplyError(guildId: string, epoch: number, err: unknown): void {
    if (err instanceof FencedError) {
      metrics.events.inc({ outcome: 'fenced' });
      if (this.live.get(guildId)?.epoch === epoch) this.d.logger.warn({ guild: guildId, epoch, reason: err.message }, 'guild stopped: the fence refused a write');
      this.stop(guildId, epoch);
      this.d.onFenced?.(guildId, epoch);
      return;
    }
    metrics.events.inc({ outcome: 'failed' });
    this.d.logger.error({ err, guild: guildId, epoch }, 'applying an event failed');
  }

  private async apply(guildId: string, epoch: number, e: { t: string; d: unknown }, outcome: 'applied' | 'replayed'): Promise<void> {
    if (e.t !== 'MESSAGE_CREATE' && e.t !== 'GUILD_DELETE') return; // the features react to these only
    const key = dedupeKey(e);
    const drafts: OutboxDraft[] = [];
    const at = e.t === 'MESSAGE_CREATE' ? snowflakeTime((e.d as APIMessage).id) : this.d.clock.wallNow();
    const r = await this.d.dbs.applyOnce(this.fence(guildId, epoch), key, async (trx) => {
      const ctx = this.context(guildId, trx, at, key, drafts);
      if (e.t === 'MESSAGE_CREATE') for (const f of FEATURES) if (f.onMessage) await f.onMessage(ctx, e.d as APIMessage);
      return drafts;
    });
    // `at` is when the fence last held (just before COMMIT), not now: see ApplyResult.
    this.d.history.write({ guild: guildId, key, pod: this.d.podId, epoch, at: r.fencedAt, t: e.t, outcome: r.duplicate ? 'duplicate' : outcome, effects: r.duplicate ? [] : messageNonces(r.outbox) });
    metrics.events.inc({ outcome: r.duplicate ? 'duplicate' : outcome });
    if (!r.duplicate && r.outbox.length > 0) await this.send(guildId, epoch, r.outbox);
  }

  private async applyInteraction(guildId: string, epoch: number, i: APIInteraction): Promise<APIInteractionResponse> {
    const key = `int:${i.id}`;
    const name = (i as { data?: { name?: string } }).data?.name ?? '';
    const handler = FEATURES.map((f) => f.commands?.[name]).find((h) => h !== undefined);
    const drafts: OutboxDraft[] = [];
    let response: APIInteractionResponse | undefined;
    const r = await this.d.dbs.applyOnce(this.fence(guildId, epoch), key, async (trx) => {
      const ctx = this.context(guildId, trx, snowflakeTime(i.id), key, drafts);
      response = handler ? await handler(ctx, i) : { type: 4, data: { content: `Unknown command "${name}".`, flags: 64 } };
      return [...drafts, { kind: INTERACTION_RESPONSE, payload: response, nonce: key }];
    });
    this.d.history.write({ guild: guildId, key, pod: this.d.podId, epoch, at: r.fencedAt, t: 'INTERACTION_CREATE', outcome: r.duplicate ? 'duplicate' : 'applied', effects: r.duplicate ? [] : messageNonces(r.outbox) });
    metrics.events.inc({ outcome: r.duplicate ? 'duplicate' : 'applied' });
    if (r.duplicate) {
      // Applied before (a retry, or a replay after failover): answer with the recorded response.
      const rows = await this.d.dbs.read(this.fence(guildId, epoch), (db) => outboxFor(db, key));
      const recorded = rows.find((row) => row.kind === INTERACTION_RESPONSE);
      return (recorded?.payload as APIInteractionResponse | undefined) ?? { type: 4, data: { content: 'Already handled.', flags: 64 } };
    }
    await this.send(guildId, epoch, r.outbox.filter((row) => row.kind !== INTERACTION_RESPONSE));
    for (const row of r.outbox) if (row.kind === INTERACTION_RESPONSE) await this.d.dbs.use(this.fence(guildId, epoch), (db) => db.markSent(this.fence(guildId, epoch), row.id));
    return response as APIInteractionResponse;
  }

  /** Answer over HTTP, or — when the edge already deferred — edit the original response. */
  private async deliver(guildId: string, i: APIInteraction, response: APIInteractionResponse): Promise<void> {
    const res = await this.d.pending.resolve(i.id, this.d.podId, guildId);
    if (res.kind !== 'complete') return;
    const data = (response as { data?: Record<string, unknown> }).data ?? {};
    await this.d.rest.patch(Routes.webhookMessage(res.ticket.applicationId, res.ticket.token, '@original'), { body: data, auth: false });
    await this.d.pending.complete(i.id, this.d.podId);
  }

  private context(guildId: string, db: FeatureContext['db'], at: number, key: string, drafts: OutboxDraft[]): FeatureContext {
    return {
      guildId,
      db,
      at,
      send: (m: SendMessage) => drafts.push({ kind: 'message', payload: m, nonce: nonceFor(key, drafts.length) }),
    };
  }

  /** Send outbox rows, each only while the fence holds; a failure stays pending for the next flush. */
  private async send(guildId: string, epoch: number, rows: readonly OutboxRow[]): Promise<void> {
    const fence = this.fence(guildId, epoch);
    for (const row of rows) {
      if (row.kind !== 'message') continue;
      const m = row.payload as SendMessage;
      fence.assertValid();
      try {
        await this.d.rest.post(Routes.channelMessages(m.channelId), { body: { content: m.content, nonce: row.nonce, enforce_nonce: true, allowed_mentions: { parse: [] } } });
        await this.d.dbs.use(fence, (db) => db.markSent(fence, row.id));
      } catch (err) {
        if (err instanceof FencedError) throw err;
        this.d.logger.warn({ err, guild: guildId, outbox: row.id }, 'side effect failed; it stays in the outbox');
        await this.d.dbs.use(fence, (db) => db.markFailed(fence, row.id, String(err))).catch(() => undefined);
      }
    }
  }

  /** Send whatever the outbox still holds (after a restore, an install, or a failed send). */
  async flushOutbox(guildId: string, epoch: number): Promise<void> {
    const fence = this.fence(guildId, epoch);
    const rows = await this.d.dbs.read(fence, (db) => pendingOutbox(db, 100));
    await this.send(guildId, epoch, rows);
    for (const row of rows) if (row.kind === INTERACTION_RESPONSE) await this.d.dbs.use(fence, (db) => db.markSent(fence, row.id));
  }
}

/** Nonces of the messages an application put in the outbox: the history checker expects each posted once. */
function messageNonces(rows: readonly OutboxRow[]): string[] {
  return rows.filter((row) => row.kind === 'message').map((row) => row.nonce);
}

function approxBytes(d: unknown): number {
  // JSON length is a fair estimate of the memory a parsed payload holds, within a small factor.
  try {
    return JSON.stringify(d)?.length ?? 0;
  } catch {
    return 0;
  }
}

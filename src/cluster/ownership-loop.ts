// The ownership driver: does the I/O that the pure decide() asks for. It renews every held
// lease on its own timer (chunked), claims guilds whose desired owner is this pod (committing
// the epoch to Postgres before anything is applied under it), adopts leases handed to it,
// hands guilds off, and stops a guild at once when its lease is lost or its local deadline
// passes. It is driven by lh:events, membership changes and a periodic full reconcile.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { AssignmentStore } from '../store/index.js';
import type { ClusterClient } from './client.js';
import { LeaseNotHeldError, StaleEpochError, ScriptErrorCode } from './errors.js';
import { EventStreamReader } from './events.js';
import { agreeRingParams, readMembers, type MemberClient, type MemberFields } from './members.js';
import { decide, MissingLeaseTracker, type Action, type HeldLease } from './ownership.js';
import { RoutingTable } from './routing.js';
import { Backoffs } from './backoff.js';
import { ringParamsId, type Ring } from './ring.js';
import type { ClusterEvent, ClusterView, RingParams } from './types.js';

export interface OwnershipHooks {
  /**
   * The lease is this pod's and its epoch is committed in Postgres: start serving the guild
   * (restore its data first). Throwing refuses the guild: the lease is released and the claim
   * is retried later with backoff.
   */
  acquired(guildId: string, epoch: number, how: 'claim' | 'adopt'): Promise<void>;
  /** Stop all work on the guild now (LeaseLostError semantics). Must not throw. */
  lost(guildId: string, epoch: number, reason: 'deadline' | 'lost' | 'moved' | 'released'): void;
  /**
   * Planned move to `to`. The default (no hook) moves only the lease: stop, then compare-and-set.
   * A gateway's hook sends the guild's database first. Resolves once the lease has moved.
   */
  handoff?(guildId: string, epoch: number, to: string, floor: number): Promise<void>;
  /**
   * About to claim these guilds (their leases ran out and this pod is their desired owner);
   * `claimEnded` follows for each, with whether it became ours. Claims of a thousand guilds take
   * a while: a gateway keeps their events from here on.
   */
  claiming?(guildIds: readonly string[]): void;
  /** Not called when a claim round waits for Postgres (it is retried). */
  claimEnded?(guildId: string, ours: boolean): void;
}

export interface OwnershipOptions {
  readonly podId: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly marginMs: number;
  readonly reconcileEveryMs: number;
  readonly ringParams: RingParams;
  /** The guilds the bot is in (from Discord): only these are claimed. */
  readonly guilds: () => Iterable<string>;
  readonly memberFields: () => Omit<MemberFields, 'ring'>;
  /** Concurrent claims and handoffs in flight (default 16 and 4). */
  readonly claimConcurrency?: number;
  readonly handoffConcurrency?: number;
  /** Adopt leases handed to this pod that no protocol announced (default true). */
  readonly autoAdopt?: boolean;
  /** Minimum time between two runs of decide() (default 100 ms). */
  readonly decideMinIntervalMs?: number;
}

export interface OwnershipDeps {
  readonly cluster: ClusterClient;
  /** A second connection for the blocking XREAD of lh:events. */
  readonly streamRedis: ClusterClient['redis'];
  readonly store: AssignmentStore;
  readonly members: MemberClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hooks: OwnershipHooks;
}

type Status = 'idle' | 'running' | 'stopping' | 'stopped';

export class OwnershipLoop {
  readonly routing = new RoutingTable();
  private readonly held = new Map<string, HeldLease>();
  private readonly busy = new Set<string>();
  /** Guilds whose epoch this pod is moving itself (rollEpoch): their own handoff entry is not a loss. */
  private readonly rolling = new Set<string>();
  private readonly adopting = new Map<string, Promise<void>>();
  /** Guilds this pod is handing off now: a renew that finds the lease moved is the handoff's own doing. */
  private readonly handingOff = new Set<string>();
  /** Guild → the epoch this pod handed away: the mirror can show it as ours a while longer; not to be adopted. */
  private readonly movedAway = new Map<string, number>();
  /** guild@epoch → when the mirror may make us try adopting it again, after a failure. */
  private readonly adoptRetryAt = new Backoffs(500, 10_000);
  private readonly tracker: MissingLeaseTracker;
  /** Guilds whose claimed data could not be put in place: their next claim waits. */
  private readonly retryAfter = new Backoffs(1000, 60_000);
  private view: ClusterView;
  private status: Status = 'idle';
  private stream: EventStreamReader | undefined;
  private timers: NodeJS.Timeout[] = [];
  private decideScheduled = false;
  private lastDecideAt = -Infinity;
  /** How long the last decision took (ms). */
  private lastDecideMs = 0;
  /** The ring's share of the guilds, for claims (claimCandidates). */
  private candidates: { ring: Ring; source: Iterable<string>; size: number; at: number; list: string[] } | undefined;
  /**
   * The ring's share without a lease in the mirror, pruned at every decision (a claimed guild
   * leaves it); worked out again from the share when leases can have gone away: a reconcile
   * (expired leases leave no stream entry), a release, a new share.
   */
  private unleased: string[] | undefined;
  private decideTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private lastReconcileAt = -Infinity;
  /** Redis time (ms) this process joined: leases since then can be adopted. */
  private joinedAtRedisMs = Number.POSITIVE_INFINITY;
  private claimsPausedUntil = 0;
  private readonly opts: Required<OwnershipOptions>;

  constructor(
    opts: OwnershipOptions,
    private readonly deps: OwnershipDeps,
  ) {
    this.opts = { claimConcurrency: 16, handoffConcurrency: 4, autoAdopt: true, decideMinIntervalMs: 100, ...opts };
    this.tracker = new MissingLeaseTracker(deps.clock, opts.ttlMs);
    this.view = { members: new Map(), cordons: new Set(), pins: new Map(), ringParams: opts.ringParams };
  }

  /** Leases this pod holds now, with their local deadlines. */
  heldLeases(): ReadonlyMap<string, HeldLease> {
    return this.held;
  }

  /** True while the lease is held and its local deadline has not passed: the fence. */
  holds(guildId: string, epoch: number): boolean {
    const h = this.held.get(guildId);
    return h !== undefined && h.epoch === epoch && this.deps.clock.now() < h.deadline;
  }

  /**
   * The guild's writes at `epoch` were fenced out (its deadline passed): stop holding it there.
   * A fence only fails past the deadline or once the lease is gone, and neither comes back.
   */
  fenced(guildId: string, epoch: number): void {
    const h = this.held.get(guildId);
    if (h && h.epoch === epoch && this.deps.clock.now() >= h.deadline) this.drop(guildId, epoch, 'deadline');
  }

  get running(): boolean {
    return this.status === 'running';
  }

  async start(): Promise<void> {
    const { cluster, logger } = this.deps;
    await agreeRingParams(cluster.scripts, cluster.keys, this.opts.ringParams, cluster.maxLen);
    const hb = await this.deps.members.heartbeat(this.memberFields());
    this.joinedAtRedisMs = hb.nowMs;
    // Heartbeats start now, not after the first reconcile: a SCAN of 100k leases on a busy Redis
    // can outlast the TTL, and a member key that expires meanwhile makes every other pod reconcile.
    this.every(this.opts.renewEveryMs, () => this.heartbeat(), { whileStarting: true });
    this.stream = new EventStreamReader(this.deps.streamRedis, cluster.keys.events, { onEvents: (e) => this.onEvents(e), onGap: () => this.reconcile('stream_gap') }, logger);
    try {
      const from = await this.stream.position();
      await this.reconcile('start');
      this.stream.start(from);
    } catch (err) {
      // A start that failed must not leave its heartbeat running (a member nobody serves).
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      throw err;
    }
    this.status = 'running';
    this.every(this.opts.renewEveryMs, () => this.renewAll());
    // A full reconcile SCANs every lease key: the periodic one is skipped when another (a member
    // gone, a stream gap) ran within the interval.
    this.every(this.opts.reconcileEveryMs, () => (this.deps.clock.now() - this.lastReconcileAt >= this.opts.reconcileEveryMs / 2 ? this.reconcile('periodic') : undefined));
    // Deadlines are checked at least this often even when nothing else happens.
    this.every(Math.max(20, Math.floor(this.opts.marginMs / 2)), () => this.scheduleDecide());
    this.scheduleDecide();
  }

  /**
   * Stop the loops. With release, hand every held lease back (claimable at once by others);
   * without it (a crash stand-in), leases simply expire.
   */
  async stop(opts: { release: boolean } = { release: true }): Promise<void> {
    if (this.status === 'stopped') return;
    this.status = 'stopping';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.decideTimer) clearTimeout(this.decideTimer);
    await this.stream?.stop();
    if (opts.release) {
      for (const [guildId, h] of [...this.held]) {
        this.drop(guildId, h.epoch, 'released');
        await this.deps.cluster.leases.release(guildId, this.opts.podId, h.epoch, 'shutdown').catch((err: unknown) => this.deps.logger.warn({ err, guild: guildId }, 'release at shutdown failed; the lease will expire'));
        this.deps.store.queue.enqueue(`release ${guildId}`, () => this.deps.store.recordRelease(guildId, this.opts.podId, h.epoch, 'released', 'shutdown'));
      }
      await this.deps.members.leave().catch((err: unknown) => this.deps.logger.warn({ err }, 'leave failed; the member key will expire'));
    }
    this.status = 'stopped';
  }

  /** Re-read everything now (also run on a stream gap and on a timer). */
  reconcile(reason: 'start' | 'periodic' | 'stream_gap' | 'member_gone' | 'rejoined'): Promise<void> {
    if (this.reconciling) return this.reconciling;
    metrics.reconciles.inc({ reason });
    this.reconciling = this.doReconcile().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  /**
   * A target of a planned move takes the lease it was handed (epoch already moved in Redis).
   * Single-flight per guild: the handoff's own call and the lh:events entry both ask for it.
   */
  adopt(guildId: string, epoch: number, from: string | undefined): Promise<void> {
    if (this.held.get(guildId)?.epoch === epoch) return Promise.resolve();
    const key = `${guildId}@${epoch}`;
    let p = this.adopting.get(key);
    if (!p) {
      p = this.doAdopt(guildId, epoch, from).finally(() => this.adopting.delete(key));
      this.adopting.set(key, p);
    }
    return p;
  }

  /**
   * Move a lease this pod holds at `epoch` to a new epoch of its own (compare-and-set, then
   * committed to Postgres as `kind`), without the lost/adopt hooks firing: the caller replaces
   * the guild's data and goes live at the returned epoch itself (admin restore). Anything still
   * fenced by the old epoch stops at once. The guild is busy meanwhile, so no handoff starts.
   */
  async rollEpoch(guildId: string, epoch: number, kind: 'restore'): Promise<number> {
    const h = this.held.get(guildId);
    if (!h || h.epoch !== epoch) throw new LeaseNotHeldError(guildId, epoch);
    if (this.busy.has(guildId)) throw new LeaseNotHeldError(guildId, epoch, 'the guild is being claimed, adopted or handed off');
    this.busy.add(guildId);
    this.rolling.add(guildId);
    try {
      const { cluster, store, clock } = this.deps;
      const floor = (await store.getAssignment(guildId))?.epoch ?? epoch;
      const sent = clock.now();
      const r = await cluster.leases.handoff(guildId, { owner: this.opts.podId, epoch }, this.opts.podId, { floor, ttlMs: this.opts.ttlMs });
      if (!r.ok) {
        this.drop(guildId, epoch, 'lost');
        throw new LeaseNotHeldError(guildId, epoch, `the lease is now ${r.owner ?? 'nobody'}@${r.epoch ?? '-'}`);
      }
      // The old epoch is over the moment the script ran: fence it out before anything else.
      this.held.set(guildId, { guildId, epoch: r.epoch, deadline: sent + this.opts.ttlMs - this.opts.marginMs });
      try {
        await store.commitEpoch(guildId, this.opts.podId, r.epoch, kind, this.opts.podId);
      } catch (err) {
        this.drop(guildId, r.epoch, 'lost');
        await cluster.leases.release(guildId, this.opts.podId, r.epoch, 'commit_failed').catch(() => undefined);
        throw err;
      }
      return r.epoch;
    } finally {
      this.rolling.delete(guildId);
      this.busy.delete(guildId);
    }
  }

  private async doAdopt(guildId: string, epoch: number, from: string | undefined): Promise<void> {
    this.busy.add(guildId);
    try {
      const sent = this.deps.clock.now();
      const r = await this.deps.cluster.leases.renew(this.opts.podId, this.opts.ttlMs, [{ guildId, epoch }]);
      if (r.lost.length > 0) throw new Error(`lease ${guildId}@${epoch} is not this pod's`);
      const renewedAt = this.deps.clock.now();
      await this.deps.store.commitEpoch(guildId, this.opts.podId, epoch, 'handoff', from);
      const committedAt = this.deps.clock.now();
      this.deps.logger.info({ guild: guildId, epoch, from, renewMs: Math.round(renewedAt - sent), commitMs: Math.round(committedAt - renewedAt) }, 'handed-over lease adopted');
      this.held.set(guildId, { guildId, epoch, deadline: sent + this.opts.ttlMs - this.opts.marginMs });
      this.updateOwnedGauge();
      await this.deps.hooks.acquired(guildId, epoch, 'adopt');
      this.adoptRetryAt.succeeded(`${guildId}@${epoch}`);
    } catch (err) {
      const backoffMs = this.adoptRetryAt.failed(`${guildId}@${epoch}`, this.deps.clock.now());
      this.deps.logger.warn({ err, guild: guildId, epoch, retryInMs: backoffMs }, 'adopting a handed-over lease failed');
      const h = this.held.get(guildId);
      if (h?.epoch === epoch) {
        this.drop(guildId, epoch, 'lost');
        await this.deps.cluster.leases.release(guildId, this.opts.podId, epoch, 'adopt_failed').catch(() => undefined);
      }
      throw err;
    } finally {
      this.busy.delete(guildId);
    }
  }

  private memberFields(): MemberFields {
    return { ...this.opts.memberFields(), ring: ringParamsId(this.opts.ringParams) };
  }

  private every(ms: number, fn: () => Promise<void> | void, o: { whileStarting?: boolean } = {}): void {
    const t = setInterval(() => {
      if (this.status !== 'running' && !(o.whileStarting && this.status === 'idle')) return;
      Promise.resolve(fn()).catch((err: unknown) => this.deps.logger.warn({ err }, 'ownership loop step failed'));
    }, ms);
    this.timers.push(t);
  }

  private async heartbeat(): Promise<void> {
    const sent = this.deps.clock.now();
    const r = await this.deps.members.heartbeat(this.memberFields());
    const tookMs = this.deps.clock.now() - sent;
    // Three slow ones in a row and the member key expires: the others reconcile and claim.
    if (tookMs > this.opts.ttlMs / 3) this.deps.logger.warn({ tookMs, ttlMs: this.opts.ttlMs }, 'member heartbeat slow');
    if (r.joined) {
      // Our member key had vanished (expired while paused, or a wiped Redis): look at everything.
      this.deps.logger.warn('member key was missing; rejoined the cluster');
      await this.reconcile('rejoined');
    }
  }

  private async doReconcile(): Promise<void> {
    const { cluster, logger } = this.deps;
    const [members, scan, pins, cordons] = await Promise.all([
      readMembers(cluster.redis, cluster.keys),
      cluster.leases.scanAll(),
      cluster.controls.readPins(),
      cluster.controls.readCordons(),
    ]);
    const garbage = [...members.garbage, ...scan.garbage, ...pins.garbage];
    if (garbage.length > 0) logger.warn({ keys: garbage.slice(0, 20), count: garbage.length }, 'keys holding garbage are treated as absent');
    this.routing.replaceLeases(scan.leases);
    this.unleased = undefined;
    this.tracker.sync(this.routing.leases());
    this.setView({ members: members.members, cordons: new Set(cordons.keys()), pins: pins.pins, ringParams: this.opts.ringParams });
    this.lastReconcileAt = this.deps.clock.now();
    await this.syncPinsAndCordons(pins.pins, cordons).catch((err: unknown) => logger.warn({ err }, 'pin/cordon sync with Postgres failed; retrying next reconcile'));
    this.scheduleDecide();
  }

  /**
   * Redis is the live copy of pins and cordons, Postgres the durable one. When lh:ring had to be
   * re-created, Redis was wiped: restore from Postgres. Otherwise copy Redis's state to Postgres
   * (a pin set with redis-cli reaches Postgres here).
   */
  private async syncPinsAndCordons(pins: ReadonlyMap<string, string>, cordons: ReadonlyMap<string, string>): Promise<void> {
    const { cluster, store, logger } = this.deps;
    const created = await cluster.redis.exists(cluster.keys.ring).then((n) => n === 0);
    if (created) {
      await agreeRingParams(cluster.scripts, cluster.keys, this.opts.ringParams, cluster.maxLen);
      const [pgPins, pgCordons] = await Promise.all([store.listPins(), store.listCordons()]);
      for (const [g, p] of pgPins) if (!pins.has(g)) await cluster.controls.setPin(g, p);
      for (const [p, why] of pgCordons) if (!cordons.has(p)) await cluster.controls.setCordon(p, why);
      if (pgPins.size + pgCordons.size > 0) logger.warn({ pins: pgPins.size, cordons: pgCordons.size }, 'lh:ring was missing (Redis wiped?): restored pins and cordons from Postgres');
      return;
    }
    const [pgPins, pgCordons] = await Promise.all([store.listPins(), store.listCordons()]);
    for (const [g, p] of pins) if (pgPins.get(g) !== p) await store.setPin(g, p);
    for (const g of pgPins.keys()) if (!pins.has(g)) await store.setPin(g, null);
    for (const [p, why] of cordons) if (pgCordons.get(p) !== why) await store.setCordon(p, why);
    for (const p of pgCordons.keys()) if (!cordons.has(p)) await store.setCordon(p, null);
  }

  private setView(view: ClusterView): void {
    this.view = view;
    this.routing.setView(view);
  }

  private async onEvents(events: ClusterEvent[]): Promise<void> {
    let membership = false;
    let memberGone = false;
    // Whether any entry can change what this pod should do. Claims and handoffs between other
    // pods cannot (at 100k guilds they are most of the stream, and 32 loops in one process each
    // deciding on every burst was most of the bench's CPU): the periodic decision covers the rest.
    let relevant = false;
    for (const e of events) {
      if (e.type === 'member_expire' || e.type === 'member_leave') memberGone = true;
      this.routing.applyEvent(e);
      if ((e.type !== 'claim' && e.type !== 'handoff') || e.owner === this.opts.podId || this.held.has(e.guild)) relevant = true;
      // A guild without a lease again may be ours to claim.
      if (e.type === 'release' || e.type === 'force_release') this.unleased = undefined;
      if (e.type.startsWith('member_') || e.type === 'pin' || e.type === 'unpin' || e.type === 'cordon' || e.type === 'uncordon' || e.type === 'ring') membership = true;
      // A newer epoch for a guild we hold (someone else's claim or handoff), or a release of our
      // own epoch: stop now, before any renew says so. Stream entries can trail our own script
      // calls, so an entry about an older epoch says nothing about the lease we hold now.
      const h = this.held.get(e.guild);
      if (h && e.epoch !== undefined && !this.rolling.has(e.guild)) {
        const newer = (e.type === 'claim' || e.type === 'handoff') && e.epoch > h.epoch;
        const released = (e.type === 'release' || e.type === 'force_release') && e.epoch === h.epoch;
        if (newer || released) this.drop(e.guild, h.epoch, e.type === 'handoff' ? 'moved' : 'lost');
      }
    }
    // A member that died leaves leases that expire without a stream entry: re-read them now
    // rather than at the next periodic reconcile, so its guilds are claimed about one TTL after
    // it stopped renewing.
    if (memberGone) {
      await this.reconcile('member_gone');
      // Its last lease renew may have come after its last heartbeat: look once more.
      const t = setTimeout(() => void this.reconcile('member_gone').catch(() => undefined), this.opts.renewEveryMs);
      t.unref();
    } else if (membership) await this.refreshView();
    if (relevant || memberGone || membership) this.scheduleDecide();
  }

  private async refreshView(): Promise<void> {
    const { cluster } = this.deps;
    const [members, pins, cordons] = await Promise.all([readMembers(cluster.redis, cluster.keys), cluster.controls.readPins(), cluster.controls.readCordons()]);
    this.setView({ members: members.members, cordons: new Set(cordons.keys()), pins: pins.pins, ringParams: this.opts.ringParams });
  }

  /**
   * Run decide() soon. It costs one map lookup per known guild (~10 ms at 100k), so it runs at
   * most every `decideMinIntervalMs`; fencing does not wait for it (holds() checks the deadline
   * on every write), decide() only does the bookkeeping.
   */
  private scheduleDecide(): void {
    if (this.decideScheduled || this.status === 'stopped') return;
    this.decideScheduled = true;
    // At least four times the last decision's own duration apart: a decision over 100k
    // unleased guilds (a cold start, a mass failover) takes tens of ms, and one per stream
    // event burst would otherwise use the whole core.
    const gap = Math.max(this.opts.decideMinIntervalMs, 4 * this.lastDecideMs);
    const wait = Math.max(0, this.lastDecideAt + gap - this.deps.clock.now());
    const run = () => {
      this.decideScheduled = false;
      this.decideTimer = undefined;
      if (this.status !== 'running' && this.status !== 'idle') return;
      this.lastDecideAt = this.deps.clock.now();
      try {
        this.runDecide();
      } catch (err) {
        this.deps.logger.error({ err }, 'ownership decision failed');
      }
      this.lastDecideMs = this.deps.clock.now() - this.lastDecideAt;
    };
    if (wait === 0) queueMicrotask(run);
    else this.decideTimer = setTimeout(run, wait);
  }

  /**
   * The guilds decide() may claim: those the ring gives this pod, plus those pinned to it. It
   * would find the same among every guild, but walking 100k guilds per decision (a cold start,
   * a mass failover: one decision per burst of stream events) cost most of a core; the ring's
   * share is worked out again only when the ring, the guild collection or its size changes, and
   * at least every reconcile interval.
   */
  private claimCandidates(): Iterable<string> {
    const source = this.opts.guilds();
    // The routing table's ring: it applies member departures from the stream before the view
    // is re-read, so its share is a superset of what decide() (on the view) may claim.
    const ring = this.routing.ring;
    const size = source instanceof Set || source instanceof Map ? source.size : Array.isArray(source) ? source.length : -1;
    const now = this.deps.clock.now();
    const c = this.candidates;
    if (!c || c.ring !== ring || c.source !== source || c.size !== size || size < 0 || now - c.at > Math.min(this.opts.reconcileEveryMs, 5000)) {
      const list: string[] = [];
      for (const g of source) if (ring.lookup(g) === this.opts.podId) list.push(g);
      this.candidates = { ring, source, size, at: now, list };
      this.unleased = undefined;
    }
    // In a settled cluster every guild of the share has a lease: a decision then walks none.
    const leases = this.routing.leases();
    const mine = (this.unleased ?? (this.candidates as { list: string[] }).list).filter((g) => !leases.has(g));
    this.unleased = mine;
    const pinned: string[] = [];
    for (const [g, pod] of this.view.pins) if (pod === this.opts.podId && (!(source instanceof Set) || source.has(g))) pinned.push(g);
    return pinned.length > 0 ? [...mine, ...pinned] : mine;
  }

  private selfState(): { ready: boolean; draining: boolean; cordoned: boolean } {
    const f = this.opts.memberFields();
    return { ready: f.ready, draining: f.draining, cordoned: this.view.cordons.has(this.opts.podId) };
  }

  private runDecide(): void {
    const now = this.deps.clock.now();
    const actions = decide({
      self: this.opts.podId,
      selfState: this.selfState(),
      view: this.view,
      guilds: this.claimCandidates(),
      leases: this.routing.leases(),
      untilMissing: this.tracker.missing(),
      held: this.held,
      busy: this.busy,
      now,
      ttlMs: this.opts.ttlMs,
      renew: false, // renewAll runs on its own timer
    });
    const claims: Action[] = [];
    const handoffs: Action[] = [];
    for (const a of actions) {
      if (a.kind === 'stop') this.drop(a.guildId, a.epoch, a.reason);
      else if (a.kind === 'claim') claims.push(a);
      else if (a.kind === 'handoff') handoffs.push(a);
    }
    if (this.opts.autoAdopt) this.adoptAnnounced();
    void this.runClaims(claims, now);
    void this.runHandoffs(handoffs);
  }

  /** Leases the mirror shows as ours (handed to us since we joined) that we do not hold yet. */
  private adoptAnnounced(): void {
    if (this.adoptRetryAt.size > 1000) this.adoptRetryAt.prune(this.deps.clock.now() - 60_000);
    for (const lease of this.routing.leasesOf(this.opts.podId)) {
      const guildId = lease.guildId;
      if (this.busy.has(guildId) || this.held.get(guildId)?.epoch === lease.epoch) continue;
      if (lease.since < this.joinedAtRedisMs) continue; // a previous incarnation's lease: let it expire
      if ((this.movedAway.get(guildId) ?? 0) >= lease.epoch) continue; // handed away; the mirror has not seen it yet
      // A failed adopt (Postgres busy, or the mirror behind a lease that already expired) waits
      // before the mirror may ask again: retrying at every decide turned a slow Postgres into a storm.
      if (this.adoptRetryAt.waiting(`${guildId}@${lease.epoch}`, this.deps.clock.now())) continue;
      void this.adopt(guildId, lease.epoch, undefined).catch(() => undefined);
    }
  }

  private drop(guildId: string, epoch: number, reason: 'deadline' | 'lost' | 'moved' | 'released'): void {
    const h = this.held.get(guildId);
    if (!h || h.epoch !== epoch) return;
    this.held.delete(guildId);
    if (reason === 'moved') this.movedAway.set(guildId, epoch);
    metrics.leaseLost.inc({ reason });
    this.updateOwnedGauge();
    // A planned move is routine; anything else means the lease went away under us.
    if (reason === 'moved') this.deps.logger.info({ guild: guildId, epoch }, 'guild moved away');
    else if (reason !== 'released') this.deps.logger.warn({ guild: guildId, epoch, reason }, 'lease lost: guild stopped');
    try {
      this.deps.hooks.lost(guildId, epoch, reason);
    } catch (err) {
      this.deps.logger.error({ err, guild: guildId }, 'lost hook threw');
    }
  }

  private updateOwnedGauge(): void {
    metrics.guildsOwned.set({ pod: this.opts.podId }, this.held.size);
  }

  private async renewAll(): Promise<void> {
    const list = [...this.held.values()];
    if (list.length === 0) return;
    const sent = this.deps.clock.now();
    const end = metrics.leaseRenewSeconds.startTimer();
    const r = await this.deps.cluster.leases.renew(this.opts.podId, this.opts.ttlMs, list);
    end();
    const lost = new Set(r.lost);
    const now = this.deps.clock.now();
    for (const h of list) {
      const cur = this.held.get(h.guildId);
      if (!cur || cur.epoch !== h.epoch) continue;
      // A reply that comes after the local deadline (a stalled event loop) does not revive the
      // lease here: the fence has been refusing its writes since the deadline, and a guild the
      // pipeline stopped for that would stay held but never served. Drop it; the mirror adopts
      // it again (or its lease expires and it is claimed), and the replay buffer fills the gap.
      if (now >= cur.deadline) {
        this.drop(h.guildId, h.epoch, 'deadline');
        continue;
      }
      if (lost.has(h.guildId)) {
        // The handoff's compare-and-set ran before its hook returned: the handoff drops it as moved.
        if (!this.handingOff.has(h.guildId)) this.drop(h.guildId, h.epoch, 'lost');
      }
      // The deadline counts from when the renew was sent, never from when its reply arrived.
      else this.held.set(h.guildId, { ...cur, deadline: Math.max(cur.deadline, sent + this.opts.ttlMs - this.opts.marginMs) });
    }
  }

  private async runClaims(claims: Action[], now: number): Promise<void> {
    if (claims.length === 0 || now < this.claimsPausedUntil) return;
    const todo = claims.filter((a): a is Extract<Action, { kind: 'claim' }> => a.kind === 'claim' && !this.retryAfter.waiting(a.guildId, now));
    if (todo.length === 0) return;
    for (const a of todo) this.busy.add(a.guildId);
    this.deps.hooks.claiming?.(todo.map((a) => a.guildId));
    const ended = (guildId: string, ours: boolean) => {
      this.busy.delete(guildId);
      this.deps.hooks.claimEnded?.(guildId, ours);
    };
    let floors: Map<string, number>;
    try {
      floors = await this.deps.store.floors(todo.map((a) => a.guildId));
    } catch (err) {
      // Postgres is down: existing leases keep renewing, new claims wait (DESIGN §4). The
      // claims are retried, so they have not ended: a gateway keeps their events meanwhile.
      for (const a of todo) this.busy.delete(a.guildId);
      this.claimsPausedUntil = this.deps.clock.now() + 1000;
      metrics.leaseClaims.inc({ result: 'postgres_down' }, todo.length);
      this.deps.logger.warn({ err, waiting: todo.length }, 'Postgres unreachable: claims wait');
      return;
    }
    let next = 0;
    // A worker moves on once the lease is claimed and committed: putting the data in place
    // (restores queue with their own concurrency) runs on, so every orphaned guild is claimed
    // within moments of its lease expiring and its events are kept for it from then on, however
    // long the restores take. The guild stays busy until it is in place.
    const worker = async () => {
      while (next < todo.length && this.status === 'running') {
        const a = todo[next++] as Extract<Action, { kind: 'claim' }>;
        let acquiring: Promise<void> | undefined;
        try {
          acquiring = (await this.claimOne(a.guildId, floors.get(a.guildId) ?? 0, a.waitedFullTtl))?.acquiring;
        } catch (err) {
          this.deps.logger.warn({ err, guild: a.guildId }, 'claim failed');
        }
        // Once in place the guild is no longer busy; the next periodic decision sees whether it
        // must move (one decision per acquire was most of a 32-loop process's CPU at 30k guilds).
        if (!acquiring) ended(a.guildId, false);
        else void acquiring.finally(() => ended(a.guildId, true));
      }
      for (; next < todo.length; next++) ended((todo[next] as { guildId: string }).guildId, false);
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.claimConcurrency, todo.length) }, worker));
    this.scheduleDecide();
  }

  /**
   * Claim and commit; when the guild is ours, resolves with the acquire still running (data in
   * place, then live), wrapped so that awaiting the claim does not wait for it.
   */
  private async claimOne(guildId: string, floor: number, waitedFullTtl: boolean): Promise<{ acquiring: Promise<void> } | undefined> {
    const { cluster, store, clock, hooks, logger } = this.deps;
    const sent = clock.now();
    const r = await cluster.leases.claim(guildId, this.opts.podId, { floor, ttlMs: this.opts.ttlMs, waitedFullTtl });
    if (!r.ok) {
      metrics.leaseClaims.inc({ result: ScriptErrorCode[r.code] ?? String(r.code) });
      if (r.code === ScriptErrorCode.UntilUnknown) this.tracker.noteMissing(guildId);
      // `until` exists again: a later disappearance must start its own full-TTL wait.
      else if (r.code === ScriptErrorCode.LeaseNotExpired) this.tracker.clear(guildId);
      // The mirror is behind (its stream entry is still on the way): note the owner the script
      // named, so the next decisions do not claim it again and again.
      else if (r.code === ScriptErrorCode.LeaseHeld) this.routing.noteOwner(guildId, r.owner, r.epoch);
      return undefined;
    }
    this.tracker.clear(guildId);
    let epoch = r.epoch;
    // Commit before acting; a higher epoch in Postgres means re-claim above it.
    for (let attempt = 0; ; attempt++) {
      try {
        await store.commitEpoch(guildId, this.opts.podId, epoch, 'claim');
        break;
      } catch (err) {
        if (err instanceof StaleEpochError && attempt < 3) {
          const moved = await cluster.leases.handoff(guildId, { owner: this.opts.podId, epoch }, this.opts.podId, { floor: err.current, ttlMs: this.opts.ttlMs });
          if (!moved.ok) return undefined;
          epoch = moved.epoch;
          continue;
        }
        metrics.leaseClaims.inc({ result: 'commit_failed' });
        logger.warn({ err, guild: guildId, epoch }, 'epoch commit failed; releasing the claim');
        await cluster.leases.release(guildId, this.opts.podId, epoch, 'commit_failed').catch(() => undefined);
        if (!(err instanceof StaleEpochError)) this.claimsPausedUntil = clock.now() + 1000;
        return undefined;
      }
    }
    this.held.set(guildId, { guildId, epoch, deadline: sent + this.opts.ttlMs - this.opts.marginMs });
    this.updateOwnedGauge();
    metrics.leaseClaims.inc({ result: 'claimed' });
    return { acquiring: this.acquireClaimed(guildId, epoch) };
  }

  private async acquireClaimed(guildId: string, epoch: number): Promise<void> {
    const { cluster, clock, hooks, logger } = this.deps;
    try {
      await hooks.acquired(guildId, epoch, 'claim');
      this.retryAfter.succeeded(guildId);
    } catch (err) {
      const backoffMs = this.retryAfter.failed(guildId, clock.now());
      logger.error({ err, guild: guildId, epoch, retryInMs: backoffMs }, 'guild refused after claim (restore failed?); releasing and retrying later');
      this.drop(guildId, epoch, 'released');
      await cluster.leases.release(guildId, this.opts.podId, epoch, 'acquire_failed').catch(() => undefined);
    }
  }

  private async runHandoffs(handoffs: Action[]): Promise<void> {
    const todo = handoffs.filter((a): a is Extract<Action, { kind: 'handoff' }> => a.kind === 'handoff').slice(0, this.opts.handoffConcurrency);
    await Promise.all(todo.map((a) => this.handoffOne(a.guildId, a.epoch, a.to)));
  }

  private async handoffOne(guildId: string, epoch: number, to: string): Promise<void> {
    const { cluster, hooks, logger } = this.deps;
    this.busy.add(guildId);
    this.handingOff.add(guildId);
    try {
      // The target must commit the new epoch before it may act, so a move started while Postgres
      // is away would leave the guild unowned: read the floor first, and keep the guild if it fails.
      const floor = (await this.deps.store.floors([guildId])).get(guildId) ?? epoch;
      if (hooks.handoff) {
        await hooks.handoff(guildId, epoch, to, floor);
        this.movedAway.set(guildId, epoch);
        this.drop(guildId, epoch, 'moved');
      } else {
        // Lease-only move: stop first, so nothing is applied while the lease changes hands.
        this.drop(guildId, epoch, 'moved');
        const r = await cluster.leases.handoff(guildId, { owner: this.opts.podId, epoch }, to, { floor, ttlMs: this.opts.ttlMs });
        if (!r.ok) logger.warn({ guild: guildId, epoch, to, owner: r.owner }, 'handoff refused: the lease had already moved');
      }
      metrics.handoffs.inc({ result: 'ok' });
    } catch (err) {
      metrics.handoffs.inc({ result: 'failed' });
      logger.warn({ err, guild: guildId, to }, 'handoff failed');
    } finally {
      this.handingOff.delete(guildId);
      this.busy.delete(guildId);
      this.scheduleDecide();
    }
  }
}

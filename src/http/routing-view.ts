// The edge's routing view kept in memory (DESIGN §6): a full reconcile on start and on a stream
// gap, then lh:events from the last id. Routes with no I/O; remembers recent moves for the portal.
import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { ClusterClient } from '../cluster/client.js';
import { EventStreamReader, parseEvent } from '../cluster/events.js';
import { readMembers } from '../cluster/members.js';
import { RoutingTable, emptyClusterView } from '../cluster/routing.js';
import type { ClusterEvent, RingParams } from '../cluster/types.js';
import { computeStatus, readRingParams, type ClusterSnapshot, type ClusterStatus } from '../admin/operations.js';
import type { Assignment, AssignmentStore } from '../store/index.js';
import type { ForwardTarget, RouteSource } from './forwarder.js';

/** Lease changes shown as "recent moves". */
const MOVE_TYPES = new Set(['claim', 'handoff', 'release', 'force_release']);
const RECENT_MOVES = 30;
/** Postgres's assignment list (for "unowned guilds") is re-read at most this often. */
const ASSIGNMENTS_MAX_AGE_MS = 15_000;
/**
 * The status (guild counts, overrides, unowned) is O(guilds) — tens of ms of event loop at 100k
 * guilds, time every interaction in flight waits — so it is recomputed at most this often.
 */
const STATUS_MIN_INTERVAL_MS = 1000;

export interface MoveRecord {
  readonly id: string;
  /** Redis ms (from the stream id). */
  readonly at: number;
  readonly type: string;
  readonly guildId: string;
  readonly owner: string;
  readonly from: string | undefined;
  readonly epoch: number | undefined;
}

export interface RoutingViewDeps {
  readonly cluster: ClusterClient;
  /** A second connection for the blocking XREAD. */
  readonly streamRedis: Redis;
  readonly store: AssignmentStore | undefined;
  /** Used when lh:ring is missing (no gateway has started yet). */
  readonly ringParams: RingParams;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reconcileEveryMs: number;
}

export class RoutingView implements RouteSource {
  readonly table: RoutingTable;
  private readonly cordonReasons = new Map<string, string>();
  private moves: MoveRecord[] = [];
  private garbage: readonly string[] = [];
  private stream: EventStreamReader | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private hasView = false;
  private ringParams: RingParams;
  private assignments: { at: number; rows: readonly Assignment[]; loading?: Promise<void> } = { at: -Infinity, rows: [] };
  private readonly listeners: (() => void)[] = [];
  /** Bumped on every change of the view; the cached status knows which version it saw. */
  private version = 0;
  private statusCache: { version: number; at: number; status: ClusterStatus } | undefined;

  constructor(private readonly deps: RoutingViewDeps) {
    this.ringParams = deps.ringParams;
    this.table = new RoutingTable(emptyClusterView(deps.ringParams));
  }

  /** True once a full reconcile has succeeded: /readyz waits for this. */
  get ready(): boolean {
    return this.hasView;
  }

  async start(): Promise<void> {
    const { cluster, logger } = this.deps;
    this.stream = new EventStreamReader(this.deps.streamRedis, cluster.keys.events, { onEvents: (e) => this.onEvents(e), onGap: () => this.reconcile() }, logger);
    // Take the stream position first: whatever changes during the reconcile is replayed after it.
    const from = await this.stream.position();
    await this.reconcile();
    this.stream.start(from);
    this.timer = setInterval(() => {
      this.reconcile().catch((err: unknown) => this.deps.logger.warn({ err }, 'routing reconcile failed; keeping the last view'));
    }, this.deps.reconcileEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stream?.stop();
  }

  /** Called after every change of the view (pool pruning, tests waiting for a state). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  reconcile(): Promise<void> {
    this.reconciling ??= this.doReconcile().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  // ---- RouteSource ----

  route(guildId: string): ForwardTarget | undefined {
    const r = this.table.route(guildId);
    return r.owner === undefined ? undefined : { owner: r.owner, epoch: r.epoch, addr: r.addr };
  }

  addrOf(podId: string): string | undefined {
    return this.table.clusterView.members.get(podId)?.addr;
  }

  noteOwner(guildId: string, owner: string, epoch: number): void {
    if (!this.table.noteOwner(guildId, owner, epoch)) return;
    this.version++;
    this.deps.logger.debug({ guild: guildId, owner, epoch }, 'mirror updated from a 421');
  }

  readyGateways(): { podId: string; addr: string }[] {
    const members = this.table.clusterView.members;
    const out: { podId: string; addr: string }[] = [];
    for (const id of this.table.ringMembers) {
      const m = members.get(id);
      if (m) out.push({ podId: id, addr: m.addr });
    }
    return out;
  }

  async readLease(guildId: string): Promise<ForwardTarget | undefined> {
    const s = await this.deps.cluster.leases.read(guildId);
    if (!s.lease) return undefined;
    // Redis is newer than the mirror when the stream lags: let the mirror catch up.
    if (this.table.noteOwner(guildId, s.lease.owner, s.lease.epoch, s.lease.since)) this.version++;
    return { owner: s.lease.owner, epoch: s.lease.epoch, addr: this.addrOf(s.lease.owner) };
  }

  // ---- what the portal and the APIs read ----

  recentMoves(): readonly MoveRecord[] {
    return this.moves;
  }

  cordons(): ReadonlyMap<string, string> {
    return this.cordonReasons;
  }

  /** The cluster as an admin snapshot, from memory (Postgres's assignment list may be ≤ 15 s old). */
  snapshot(): ClusterSnapshot {
    const v = this.table.clusterView;
    this.refreshAssignments();
    return {
      members: v.members,
      leases: [...this.table.leases().values()],
      pins: v.pins,
      cordons: new Map([...v.cordons].map((p) => [p, this.cordonReasons.get(p) ?? ''])),
      ringParams: v.ringParams,
      assignments: this.assignments.rows,
      garbage: this.garbage,
    };
  }

  /** computeStatus over snapshot(), recomputed at most once a second and only after a change. */
  status(): ClusterStatus {
    const now = this.deps.clock.now();
    const c = this.statusCache;
    if (c && (c.version === this.version || now - c.at < STATUS_MIN_INTERVAL_MS)) return c.status;
    const status = computeStatus(this.snapshot());
    this.statusCache = { version: this.version, at: now, status };
    return status;
  }

  /** Wait for Postgres's assignment list once (the first portal view after start). */
  async loadAssignments(): Promise<void> {
    this.refreshAssignments();
    await this.assignments.loading;
  }

  private refreshAssignments(): void {
    const store = this.deps.store;
    if (!store || this.assignments.loading || this.deps.clock.now() - this.assignments.at < ASSIGNMENTS_MAX_AGE_MS) return;
    this.assignments.loading = store.listAssignments().then(
      (rows) => {
        this.assignments = { at: this.deps.clock.now(), rows };
        this.version++;
      },
      (err: unknown) => {
        // Postgres down: keep the last list and try again later; routing does not need it.
        this.deps.logger.warn({ err }, 'reading assignments from Postgres failed');
        this.assignments = { at: this.deps.clock.now(), rows: this.assignments.rows };
      },
    );
  }

  private async doReconcile(): Promise<void> {
    const { cluster, logger } = this.deps;
    const [members, scan, pins, cordons, ringParams, moves] = await Promise.all([
      readMembers(cluster.redis, cluster.keys),
      cluster.leases.scanAll(),
      cluster.controls.readPins(),
      cluster.controls.readCordons(),
      readRingParams(cluster, this.deps.ringParams),
      this.readRecentMoves(),
    ]);
    this.garbage = [...members.garbage, ...scan.garbage, ...pins.garbage];
    if (this.garbage.length > 0) logger.warn({ keys: this.garbage.slice(0, 20), count: this.garbage.length }, 'keys holding garbage are treated as absent');
    this.ringParams = ringParams;
    this.table.replaceLeases(scan.leases);
    this.table.setView({ members: members.members, cordons: new Set(cordons.keys()), pins: pins.pins, ringParams });
    this.cordonReasons.clear();
    for (const [p, why] of cordons) this.cordonReasons.set(p, why);
    this.moves = moves;
    this.hasView = true;
    // Counting every lease is O(guilds): done per reconcile, not per event batch.
    this.updateGauges();
    this.changed();
  }

  private async readRecentMoves(): Promise<MoveRecord[]> {
    const entries = (await this.deps.cluster.redis.xrevrange(this.deps.cluster.keys.events, '+', '-', 'COUNT', 500).catch(() => [])) as [string, string[]][];
    const out: MoveRecord[] = [];
    for (const [id, fields] of entries) {
      const e = parseEvent(id, fields);
      if (e && MOVE_TYPES.has(e.type)) out.push(toMove(e));
      if (out.length >= RECENT_MOVES) break;
    }
    return out;
  }

  private async onEvents(events: ClusterEvent[]): Promise<void> {
    let refresh = false;
    for (const e of events) {
      if (this.table.applyEvent(e) === 'refresh_view') refresh = true;
      if (e.type === 'cordon') this.cordonReasons.set(e.owner, this.cordonReasons.get(e.owner) ?? '');
      if (e.type === 'uncordon') this.cordonReasons.delete(e.owner);
      if (MOVE_TYPES.has(e.type)) this.moves = [toMove(e), ...this.moves].slice(0, RECENT_MOVES);
    }
    if (refresh || events.some((e) => e.type === 'cordon')) await this.refreshMembers();
    this.changed();
  }

  /** A member joined or changed (its fields are not in the event), or a cordon's reason is new. */
  private async refreshMembers(): Promise<void> {
    const { cluster } = this.deps;
    const [members, pins, cordons, ringParams] = await Promise.all([readMembers(cluster.redis, cluster.keys), cluster.controls.readPins(), cluster.controls.readCordons(), readRingParams(cluster, this.ringParams)]);
    this.table.setView({ members: members.members, cordons: new Set(cordons.keys()), pins: pins.pins, ringParams });
    this.cordonReasons.clear();
    for (const [p, why] of cordons) this.cordonReasons.set(p, why);
  }

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.deps.logger.error({ err }, 'routing view listener threw');
      }
    }
  }

  private updateGauges(): void {
    metrics.guildsOwned.reset();
    for (const [owner, n] of this.table.countsByOwner()) metrics.guildsOwned.set({ pod: owner }, n);
    metrics.ringMembers.set(this.table.ringMembers.length);
    // Unowned guilds (known to Postgres, no lease in Redis) and ignored pins, as admin status
    // shows them: what the "unowned for a minute" alert and the dashboard's stats read. Computed
    // afresh (reconciles are already spaced by RECONCILE_EVERY_MS), and not left in the portal's
    // cache: a cache filled here would serve this view to requests after later events for a while.
    const st = computeStatus(this.snapshot());
    metrics.guildsUnowned.set(st.guilds.unowned.length);
    metrics.pinsIgnored.set(st.pins.filter((p) => !p.honoured).length);
  }
}

function toMove(e: ClusterEvent): MoveRecord {
  return { id: e.id, at: Number.parseInt(e.id, 10) || 0, type: e.type, guildId: e.guild, owner: e.owner, from: e.from, epoch: e.epoch };
}

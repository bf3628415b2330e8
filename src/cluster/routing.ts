// The routing view (DESIGN §6): a mirror of every guild's lease (owner, epoch) fed by lh:events
// and full reconciles, plus the ring. route(g) = lease owner (the override) ?? desired owner.
import { Placement, type DesiredOwner } from './placement.js';
import { DEFAULT_RING_PARAMS } from './ring.js';
import type { ClusterEvent, ClusterView, Lease, Member } from './types.js';

export interface Route {
  readonly owner: string | undefined;
  /** The lease's epoch; undefined when routed by the ring (nobody holds the guild yet). */
  readonly epoch: number | undefined;
  /** The owner's ADVERTISE_ADDR; undefined when the owner is not a live member. */
  readonly addr: string | undefined;
  readonly source: 'lease' | 'ring' | 'none';
}

/** A guild whose lease owner is not its desired owner (what `rebalance` would move). */
export interface Override {
  readonly guildId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly desired: string | undefined;
}

/**
 * What applyEvent did. `stale`: the event is about an epoch older than the mirror knows (out of
 * order, or replayed after a reconcile). `refresh_view`: the event says a member or the ring
 * changed but carries no fields: the caller re-reads the members and calls setView.
 */
export type EventOutcome = 'applied' | 'stale' | 'ignored' | 'refresh_view';

export function emptyClusterView(ringParams = DEFAULT_RING_PARAMS): ClusterView {
  return { members: new Map(), cordons: new Set(), pins: new Map(), ringParams };
}

export class RoutingTable {
  private readonly mirror = new Map<string, Lease>();
  /** The mirror's guilds per owner: a pod's own leases without walking every guild's (100k). */
  private readonly byOwner = new Map<string, Set<string>>();
  /**
   * The highest epoch seen per guild, kept after a release: a claim event for an older epoch
   * that arrives after the release (stream replay after a reconcile, a 421 that overtook the
   * stream) must not bring the old lease back.
   */
  private readonly highest = new Map<string, number>();
  // Own mutable copies, so events update them without copying the whole view each time.
  private readonly members = new Map<string, Member>();
  private readonly cordons = new Set<string>();
  private readonly pins = new Map<string, string>();
  private view: ClusterView;
  private readonly placement: Placement;

  constructor(view: ClusterView = emptyClusterView()) {
    this.view = this.adopt(view);
    this.placement = new Placement(this.view);
  }

  /** Number of mirrored leases. */
  get size(): number {
    return this.mirror.size;
  }

  get clusterView(): ClusterView {
    return this.view;
  }

  get ringMembers(): readonly string[] {
    return this.placement.ringMembers;
  }

  /** The mirror itself (read-only): what the ownership decision reads as "valid leases". */
  leases(): ReadonlyMap<string, Lease> {
    return this.mirror;
  }

  lease(guildId: string): Lease | undefined {
    return this.mirror.get(guildId);
  }

  /** The mirrored leases held by one owner. */
  *leasesOf(owner: string): IterableIterator<Lease> {
    for (const g of this.byOwner.get(owner) ?? []) {
      const l = this.mirror.get(g);
      if (l) yield l;
    }
  }

  /** The consistent-hash ring of the current ring members (cached; the same object until they change). */
  get ring(): Placement['ring'] {
    return this.placement.ring;
  }

  /** Members, cordons, pins and ring parameters re-read in full. */
  setView(view: ClusterView): void {
    this.view = this.adopt(view);
    this.placement.setView(this.view);
  }

  /**
   * Full reconcile: the mirror becomes exactly these leases (a SCAN of Redis). Their epochs are
   * authoritative; remembered epochs of guilds without a lease are kept as tombstones.
   */
  replaceLeases(leases: Iterable<Lease>): void {
    this.mirror.clear();
    this.byOwner.clear();
    for (const l of leases) {
      this.setLease(l);
      this.highest.set(l.guildId, l.epoch);
    }
  }

  applyEvent(e: ClusterEvent): EventOutcome {
    switch (e.type) {
      case 'claim':
      case 'handoff':
        return this.applyLease(e);
      case 'release':
      case 'force_release':
        return this.applyRelease(e);
      case 'pin':
        if (!e.guild || !e.owner) return 'ignored';
        this.pins.set(e.guild, e.owner);
        return 'applied';
      case 'unpin':
        if (!e.guild) return 'ignored';
        this.pins.delete(e.guild);
        return 'applied';
      case 'cordon':
      case 'uncordon':
        if (!e.owner) return 'ignored';
        if (e.type === 'cordon') this.cordons.add(e.owner);
        else this.cordons.delete(e.owner);
        this.placement.setView(this.view);
        return 'applied';
      case 'member_leave':
      case 'member_expire':
        if (!e.owner) return 'ignored';
        this.members.delete(e.owner);
        this.placement.setView(this.view);
        return 'applied';
      case 'member_join':
      case 'member_update':
      case 'ring':
        return 'refresh_view';
    }
  }

  /** Where to send work for this guild now. No I/O. */
  route(guildId: string): Route {
    const lease = this.mirror.get(guildId);
    if (lease) return { owner: lease.owner, epoch: lease.epoch, addr: this.members.get(lease.owner)?.addr, source: 'lease' };
    const pin = this.pins.get(guildId);
    const owner = pin !== undefined && this.placement.isRingMember(pin) ? pin : this.placement.ringOwner(guildId);
    if (owner === undefined) return { owner: undefined, epoch: undefined, addr: undefined, source: 'none' };
    return { owner, epoch: undefined, addr: this.members.get(owner)?.addr, source: 'ring' };
  }

  /** The desired owner (live pin ?? ring), ignoring any lease. */
  desiredOwner(guildId: string): DesiredOwner {
    return this.placement.desiredOwner(guildId);
  }

  /**
   * A gateway answered 421 naming the owner and epoch it knows. Taken only when newer than
   * what the mirror has seen, so a reply from a stale pod cannot roll the mirror back.
   */
  noteOwner(guildId: string, owner: string, epoch: number, since = 0): boolean {
    if (!(epoch > (this.highest.get(guildId) ?? 0))) return false;
    this.setLease({ guildId, owner, epoch, since });
    this.highest.set(guildId, epoch);
    return true;
  }

  /** Guilds whose lease owner differs from their desired owner, sorted by guild id. */
  overrides(): Override[] {
    const out: Override[] = [];
    for (const l of this.mirror.values()) {
      const desired = this.placement.desiredOwner(l.guildId).owner;
      if (desired !== l.owner) out.push({ guildId: l.guildId, owner: l.owner, epoch: l.epoch, desired });
    }
    return out.sort((a, b) => (a.guildId < b.guildId ? -1 : a.guildId > b.guildId ? 1 : 0));
  }

  /** Mirrored leases per owner, owners sorted. */
  countsByOwner(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const l of this.mirror.values()) counts.set(l.owner, (counts.get(l.owner) ?? 0) + 1);
    return new Map([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private applyLease(e: ClusterEvent): EventOutcome {
    if (!e.guild || !e.owner || e.epoch === undefined) return 'ignored';
    const seen = this.highest.get(e.guild) ?? 0;
    const cur = this.mirror.get(e.guild);
    // The same epoch again is a duplicate of what we have, or of a lease released since.
    if (e.epoch < seen || (e.epoch === seen && cur?.epoch !== e.epoch)) return 'stale';
    const since = cur?.epoch === e.epoch ? cur.since : streamIdMs(e.id);
    this.setLease({ guildId: e.guild, owner: e.owner, epoch: e.epoch, since });
    this.highest.set(e.guild, e.epoch);
    return 'applied';
  }

  private applyRelease(e: ClusterEvent): EventOutcome {
    // No epoch: the script found no valid lease to release, which says nothing about ours.
    if (!e.guild || e.epoch === undefined) return 'ignored';
    const seen = this.highest.get(e.guild) ?? 0;
    if (e.epoch < seen) return 'stale';
    const cur = this.mirror.get(e.guild);
    if (cur && cur.epoch <= e.epoch) this.deleteLease(cur);
    this.highest.set(e.guild, e.epoch);
    return 'applied';
  }

  private setLease(l: Lease): void {
    const prev = this.mirror.get(l.guildId);
    if (prev && prev.owner !== l.owner) this.byOwner.get(prev.owner)?.delete(l.guildId);
    this.mirror.set(l.guildId, l);
    let own = this.byOwner.get(l.owner);
    if (!own) this.byOwner.set(l.owner, (own = new Set()));
    own.add(l.guildId);
  }

  private deleteLease(l: Lease): void {
    this.mirror.delete(l.guildId);
    const own = this.byOwner.get(l.owner);
    own?.delete(l.guildId);
    if (own?.size === 0) this.byOwner.delete(l.owner);
  }

  private adopt(view: ClusterView): ClusterView {
    replaceMap(this.members, view.members);
    replaceMap(this.pins, view.pins);
    if (view.cordons !== this.cordons) {
      this.cordons.clear();
      for (const c of view.cordons) this.cordons.add(c);
    }
    return { members: this.members, cordons: this.cordons, pins: this.pins, ringParams: view.ringParams };
  }
}

function replaceMap<K, V>(target: Map<K, V>, from: ReadonlyMap<K, V>): void {
  if (target === from) return;
  target.clear();
  for (const [k, v] of from) target.set(k, v);
}

/** A stream id "ms-seq" carries the Redis time it was added: the lease's `since`. */
function streamIdMs(id: string): number {
  const ms = Number.parseInt(id, 10);
  return Number.isFinite(ms) ? ms : 0;
}

// What this pod should do about its guilds now — stop, claim, hand off, renew — decided in pure
// code from the cluster view, the lease mirror and the local deadlines. The driver does the I/O.
import type { Clock } from '../clock.js';
import { Placement } from './placement.js';
import type { ClusterView, Lease } from './types.js';

export interface HeldLease {
  readonly guildId: string;
  readonly epoch: number;
  /** Monotonic ms: send time of the last successful renew + TTL − safety margin. */
  readonly deadline: number;
}

export interface SelfState {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly cordoned: boolean;
}

export interface OwnershipInput {
  /** This pod's id. */
  readonly self: string;
  readonly selfState: SelfState;
  /** Members, cordons, pins, ring parameters. */
  readonly view: ClusterView;
  /** Guilds the bot is in (from Discord): only these are claimed. */
  readonly guilds: Iterable<string>;
  /** Valid leases in Redis (the mirror); absent = no valid lease. */
  readonly leases: ReadonlyMap<string, Lease>;
  /**
   * Guilds seen with neither lease nor `until` (a wiped Redis), with the monotonic ms each was
   * first seen so: MissingLeaseTracker.missing(). A map rather than a set, because the claim
   * must wait one full TTL from that moment.
   */
  readonly untilMissing: ReadonlyMap<string, number>;
  /** Leases this pod holds, with their local deadlines. */
  readonly held: ReadonlyMap<string, HeldLease>;
  /** Guilds with a claim, handoff or restore in flight: no claim or handoff is started for them. */
  readonly busy: ReadonlySet<string>;
  /** clock.now() (monotonic ms). */
  readonly now: number;
  readonly ttlMs: number;
  /**
   * Whether to end with the renew action (default true). A driver that renews on its own timer
   * says false: sorting every held lease at every decision is wasted on it.
   */
  readonly renew?: boolean;
}

export type StopReason = 'deadline' | 'lost' | 'moved';
export type HandoffReason = 'rebalance' | 'pin' | 'drain';

export type Action =
  /** Stop the guild at once (LeaseLostError semantics); do not renew or release it. */
  | { readonly kind: 'stop'; readonly guildId: string; readonly epoch: number; readonly reason: StopReason }
  | { readonly kind: 'claim'; readonly guildId: string; readonly waitedFullTtl: boolean }
  | { readonly kind: 'handoff'; readonly guildId: string; readonly epoch: number; readonly to: string; readonly reason: HandoffReason }
  /** Every held lease still within its deadline; the driver chunks them (≤ 1000 per script call). */
  | { readonly kind: 'renew'; readonly guilds: HeldLease[] };

const KIND_ORDER: Record<Action['kind'], number> = { stop: 0, handoff: 1, claim: 2, renew: 3 };

/**
 * The decision, deterministic for a given input: stops first, then handoffs, then claims (each
 * sorted by guild id), then one renew of every lease that is kept.
 *
 * Busy guilds get no claim and no handoff, but they are still stopped when their deadline passes
 * or the mirror shows them lost (fencing comes before any work in flight), and still renewed
 * (a slow restore must not let its own lease lapse).
 */
export function decide(input: OwnershipInput): Action[] {
  const { self, selfState, view, leases, held, busy, now, ttlMs } = input;
  // A draining, cordoned or not-ready pod decides as the others will once its member key says
  // so: without itself on the ring. Everyone else's view decides where its guilds go.
  const eligible = selfState.ready && !selfState.draining && !selfState.cordoned;
  const placement = new Placement(view, eligible ? {} : { exclude: self });
  const leaving = selfState.draining || selfState.cordoned;

  const actions: Action[] = [];
  const keep: HeldLease[] = [];
  for (const h of held.values()) {
    // Past the deadline the old lease may already be someone else's: stop whether or not Redis
    // answered, and never renew it (a renew sent now could not extend what was already lost).
    if (now >= h.deadline) {
      actions.push({ kind: 'stop', guildId: h.guildId, epoch: h.epoch, reason: 'deadline' });
      continue;
    }
    const m = leases.get(h.guildId);
    // A mirror entry with an older epoch is only the stream lagging behind our own claim.
    if (m && (m.epoch > h.epoch || (m.epoch === h.epoch && m.owner !== self))) {
      actions.push({ kind: 'stop', guildId: h.guildId, epoch: h.epoch, reason: m.owner !== self && m.epoch > h.epoch ? 'moved' : 'lost' });
      continue;
    }
    keep.push(h);
    if (busy.has(h.guildId)) continue;
    const desired = placement.desiredOwner(h.guildId);
    // No other ring member (owner undefined, or us): keep holding; never drop a guild.
    if (desired.owner === undefined || desired.owner === self) continue;
    const reason: HandoffReason = desired.pin?.honoured ? 'pin' : leaving ? 'drain' : 'rebalance';
    actions.push({ kind: 'handoff', guildId: h.guildId, epoch: h.epoch, to: desired.owner, reason });
  }

  if (eligible) {
    // Guild ids repeated in the input are claimed once: only the (few) claims are checked for
    // it; a set of every guild seen cost most of a decision at 100k guilds.
    const claiming = new Set<string>();
    for (const g of input.guilds) {
      // Cheapest test first: in a settled cluster nearly every guild has a lease.
      if (leases.has(g) || held.has(g) || busy.has(g)) continue;
      if (placement.desiredOwner(g).owner !== self || claiming.has(g)) continue;
      claiming.add(g);
      const missingSince = input.untilMissing.get(g);
      // With `until` gone the last owner's deadline is unknown: wait one full TTL from when the
      // lease was first seen missing. Otherwise the claim script enforces `until` itself.
      if (missingSince === undefined) actions.push({ kind: 'claim', guildId: g, waitedFullTtl: false });
      else if (now - missingSince >= ttlMs) actions.push({ kind: 'claim', guildId: g, waitedFullTtl: true });
    }
  }

  actions.sort(compareActions);
  if (keep.length > 0 && input.renew !== false) actions.push({ kind: 'renew', guilds: keep.sort((a, b) => compareIds(a.guildId, b.guildId)) });
  return actions;
}

function compareActions(a: Action, b: Action): number {
  const k = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (k !== 0 || a.kind === 'renew' || b.kind === 'renew') return k;
  return compareIds(a.guildId, b.guildId);
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Remembers when each guild was first seen with neither lease nor `until` (the claim script
 * answered ERR_UNTIL_UNKNOWN), so a claim waits one full TTL from then (DESIGN §3). An entry is
 * forgotten once the guild has a lease again: a later disappearance starts a new wait.
 */
export class MissingLeaseTracker {
  private readonly firstSeen = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** The guild has neither lease nor `until`; the first call starts its wait. */
  noteMissing(guildId: string): void {
    if (!this.firstSeen.has(guildId)) this.firstSeen.set(guildId, this.clock.now());
  }

  /** The guild was claimed, or its `until` was seen again. */
  clear(guildId: string): void {
    this.firstSeen.delete(guildId);
  }

  /** Forget every guild that has a valid lease now (call after each mirror update). */
  sync(leases: { has(guildId: string): boolean }): void {
    for (const g of this.firstSeen.keys()) if (leases.has(g)) this.firstSeen.delete(g);
  }

  /** True once one full TTL has passed since the guild was first seen missing. */
  waitedFullTtl(guildId: string): boolean {
    const since = this.firstSeen.get(guildId);
    return since !== undefined && this.clock.now() - since >= this.ttlMs;
  }

  /** Ms left until the guild may be claimed with waitedFullTtl; undefined when not tracked. */
  remainingMs(guildId: string): number | undefined {
    const since = this.firstSeen.get(guildId);
    return since === undefined ? undefined : Math.max(0, since + this.ttlMs - this.clock.now());
  }

  /** Guild → monotonic ms first seen missing: OwnershipInput.untilMissing. */
  missing(): ReadonlyMap<string, number> {
    return this.firstSeen;
  }

  get size(): number {
    return this.firstSeen.size;
  }
}

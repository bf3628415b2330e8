// Who should own a guild: the ring's members (derived from the cluster view) and the desired
// owner of a guild = its live pin ?? the ring's choice. Pure; rings are cached by their inputs.
import { Ring, ringParamsId, sameRingParams } from './ring.js';
import type { ClusterView, RingParams } from './types.js';

/**
 * Why a pod is not on the ring (a pin to it is ignored for this reason). `leaving`: the deciding
 * pod left itself out (it is draining, cordoned or not ready before its member key says so).
 */
export type RingExclusion = 'unknown' | 'not_gateway' | 'not_ready' | 'draining' | 'cordoned' | 'ring_mismatch' | 'leaving';

/** Undefined when the pod is a ring member; else the first reason it is not. */
export function ringExclusion(view: ClusterView, podId: string, ringId: string = ringParamsId(view.ringParams)): RingExclusion | undefined {
  const m = view.members.get(podId);
  if (!m) return 'unknown';
  if (m.role !== 'gateway') return 'not_gateway';
  if (view.cordons.has(podId)) return 'cordoned';
  if (m.draining) return 'draining';
  if (!m.ready) return 'not_ready';
  if (m.ring !== ringId) return 'ring_mismatch';
  return undefined;
}

/** Gateways that are live, ready, not draining, not cordoned and on our ring parameters; sorted. */
export function ringMembers(view: ClusterView): string[] {
  const ringId = ringParamsId(view.ringParams);
  const out: string[] = [];
  for (const podId of view.members.keys()) if (ringExclusion(view, podId, ringId) === undefined) out.push(podId);
  return out.sort();
}

export interface PinDecision {
  readonly pod: string;
  readonly honoured: boolean;
  readonly reason?: 'not_a_ring_member';
  /** Why the pinned pod is not a ring member (only from Placement, which knows the view). */
  readonly detail?: RingExclusion;
}

export interface DesiredOwner {
  /** Undefined only when the ring is empty and no live pin applies. */
  readonly owner: string | undefined;
  readonly pin?: PinDecision;
}

/** desiredOwner(g) = livePin(g) ?? ring(g); a pin counts only while its pod is a ring member. */
export function desiredOwner(guildId: string, pins: ReadonlyMap<string, string>, ring: Ring, ringMemberSet: ReadonlySet<string>): DesiredOwner {
  const pod = pins.get(guildId);
  if (pod === undefined) return { owner: ring.lookup(guildId) };
  if (ringMemberSet.has(pod)) return { owner: pod, pin: { pod, honoured: true } };
  return { owner: ring.lookup(guildId), pin: { pod, honoured: false, reason: 'not_a_ring_member' } };
}

// Every pod rebuilds its view often but its ring rarely: keep the last few rings by their inputs
// so a decision or a view update never pays the build (tens of ms at 32 pods × 2000 points).
const RING_CACHE_SIZE = 8;
const ringCache = new Map<string, Ring>();

/** The Ring over these members and parameters, built once and reused. */
export function ringFor(members: readonly string[], params: RingParams): Ring {
  const key = `${ringParamsId(params)}|${[...members].sort().join(',')}`;
  let ring = ringCache.get(key);
  if (ring) {
    // Refresh its place in the insertion order (least recently used is evicted first).
    ringCache.delete(key);
  } else {
    ring = new Ring(members, params);
    if (ringCache.size >= RING_CACHE_SIZE) ringCache.delete(ringCache.keys().next().value as string);
  }
  ringCache.set(key, ring);
  return ring;
}

/**
 * Placement for one cluster view: the ring members, their Ring and the pins. `setView` keeps
 * the Ring when the ring members and parameters are unchanged (the common case: a pin, a
 * lease or a non-ring member changed) and rebuilds it otherwise.
 */
export class Placement {
  private view: ClusterView;
  private members: readonly string[];
  private memberSet: ReadonlySet<string>;
  private currentRing: Ring;
  private exclude: string | undefined;

  constructor(view: ClusterView, opts: { exclude?: string } = {}) {
    this.view = view;
    this.exclude = opts.exclude;
    this.members = eligible(view, opts.exclude);
    this.memberSet = new Set(this.members);
    this.currentRing = ringFor(this.members, view.ringParams);
  }

  /** Take a new view; returns true when the ring itself changed. */
  setView(view: ClusterView, opts: { exclude?: string } = {}): boolean {
    this.view = view;
    this.exclude = opts.exclude;
    const members = eligible(view, opts.exclude);
    if (sameRingParams(view.ringParams, this.currentRing.params) && sameList(members, this.members)) return false;
    this.members = members;
    this.memberSet = new Set(members);
    this.currentRing = ringFor(members, view.ringParams);
    return true;
  }

  get ringMembers(): readonly string[] {
    return this.members;
  }

  get ring(): Ring {
    return this.currentRing;
  }

  get clusterView(): ClusterView {
    return this.view;
  }

  isRingMember(podId: string): boolean {
    return this.memberSet.has(podId);
  }

  /** The ring's choice alone, ignoring pins. */
  ringOwner(guildId: string): string | undefined {
    return this.currentRing.lookup(guildId);
  }

  desiredOwner(guildId: string): DesiredOwner {
    const d = desiredOwner(guildId, this.view.pins, this.currentRing, this.memberSet);
    if (!d.pin || d.pin.honoured) return d;
    const detail = ringExclusion(this.view, d.pin.pod) ?? (d.pin.pod === this.exclude ? 'leaving' : 'unknown');
    return { owner: d.owner, pin: { ...d.pin, detail } };
  }
}

/** Ring members, minus `exclude` (a pod deciding as if it had already left: drain, cordon). */
function eligible(view: ClusterView, exclude: string | undefined): string[] {
  const members = ringMembers(view);
  return exclude === undefined ? members : members.filter((m) => m !== exclude);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// What an operator can do, as plain functions over the cluster's Redis state and the
// Postgres store. The admin CLI and the http edge's admin API both call these, so the two can
// never disagree. Inputs are validated here (ids), outputs are plain data; formatting is elsewhere.
import type { ClusterClient } from '../cluster/client.js';
import type { AssignmentStore, Assignment } from '../store/index.js';
import type { GuildLeaseState } from '../cluster/leases.js';
import type { Lease, Member, RingParams } from '../cluster/types.js';
import { readMembers } from '../cluster/members.js';
import { isPodId, isSnowflake } from '../cluster/ids.js';
import { AppError } from '../errors.js';
import { Placement } from '../cluster/placement.js';

export class AdminError extends AppError {}

const badGuild = (g: string) => new AdminError(400, 'BAD_GUILD_ID', `"${g}" is not a guild id (a Discord snowflake: 17–20 digits)`);
const badPod = (p: string) => new AdminError(400, 'BAD_POD_ID', `"${p}" is not a pod id (1–63 characters: letters, digits, ".", "_", "-")`);

export interface AdminDeps {
  readonly cluster: ClusterClient;
  readonly store: AssignmentStore;
  /** This build's ring parameters (used when lh:ring is missing). */
  readonly ringParams: RingParams;
}

export interface ClusterSnapshot {
  readonly members: ReadonlyMap<string, Member>;
  readonly leases: readonly Lease[];
  readonly pins: ReadonlyMap<string, string>;
  readonly cordons: ReadonlyMap<string, string>;
  readonly ringParams: RingParams;
  readonly assignments: readonly Assignment[];
  readonly garbage: readonly string[];
}

export async function readRingParams(cluster: ClusterClient, fallback: RingParams): Promise<RingParams> {
  if ((await cluster.redis.type(cluster.keys.ring)) !== 'hash') return fallback;
  const h = await cluster.redis.hgetall(cluster.keys.ring);
  const vnodes = Number(h['vnodes']);
  if (!h['version'] || !h['hash'] || !Number.isInteger(vnodes) || vnodes < 1) return fallback;
  return { version: h['version'], vnodes, hash: h['hash'] };
}

export async function snapshot(d: AdminDeps): Promise<ClusterSnapshot> {
  const [m, l, p, cordons, ringParams, assignments] = await Promise.all([
    readMembers(d.cluster.redis, d.cluster.keys),
    d.cluster.leases.scanAll(),
    d.cluster.controls.readPins(),
    d.cluster.controls.readCordons(),
    readRingParams(d.cluster, d.ringParams),
    d.store.listAssignments(),
  ]);
  return { members: m.members, leases: l.leases, pins: p.pins, cordons, ringParams, assignments, garbage: [...m.garbage, ...l.garbage, ...p.garbage] };
}

export interface PodStatus {
  readonly id: string;
  readonly role: string;
  readonly addr: string;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly cordoned: string | undefined;
  readonly onRing: boolean;
  readonly guilds: number;
}

export interface ClusterStatus {
  readonly members: PodStatus[];
  readonly ringMembers: string[];
  readonly ringParams: RingParams;
  readonly guilds: { readonly known: number; readonly owned: number; readonly unowned: string[] };
  readonly pins: { guildId: string; pod: string; honoured: boolean }[];
  readonly cordons: { pod: string; reason: string; live: boolean }[];
  /** Guilds whose lease owner differs from the desired owner (a move is pending or stuck). */
  readonly overrides: { guildId: string; owner: string; desired: string | undefined }[];
  /** Leases owned by pods that are not live members (they will expire). */
  readonly orphaned: { guildId: string; owner: string }[];
  readonly garbage: readonly string[];
}

/** Pure: the status an operator sees, from one snapshot. */
export function computeStatus(s: ClusterSnapshot): ClusterStatus {
  const placement = new Placement({ members: s.members, cordons: new Set(s.cordons.keys()), pins: s.pins, ringParams: s.ringParams });
  const ring = new Set(placement.ringMembers);
  const counts = new Map<string, number>();
  const overrides: ClusterStatus['overrides'] = [];
  const orphaned: ClusterStatus['orphaned'] = [];
  const leased = new Set<string>();
  for (const l of s.leases) {
    leased.add(l.guildId);
    counts.set(l.owner, (counts.get(l.owner) ?? 0) + 1);
    const desired = placement.desiredOwner(l.guildId).owner;
    if (desired !== l.owner) overrides.push({ guildId: l.guildId, owner: l.owner, desired });
    if (!s.members.has(l.owner)) orphaned.push({ guildId: l.guildId, owner: l.owner });
  }
  const known = new Set([...leased, ...s.assignments.filter((a) => a.state === 'active' && a.epoch > 0).map((a) => a.guildId)]);
  const unowned = [...known].filter((g) => !leased.has(g)).sort();
  const members = [...s.members.values()]
    .map((m) => ({ id: m.podId, role: m.role, addr: m.addr, ready: m.ready, draining: m.draining, cordoned: s.cordons.get(m.podId), onRing: ring.has(m.podId), guilds: counts.get(m.podId) ?? 0 }))
    .sort((a, b) => (a.role === b.role ? a.id.localeCompare(b.id) : a.role.localeCompare(b.role)));
  return {
    members,
    ringMembers: [...ring].sort(),
    ringParams: s.ringParams,
    guilds: { known: known.size, owned: s.leases.length, unowned },
    pins: [...s.pins].map(([guildId, pod]) => ({ guildId, pod, honoured: ring.has(pod) })).sort((a, b) => a.guildId.localeCompare(b.guildId)),
    cordons: [...s.cordons].map(([pod, reason]) => ({ pod, reason, live: s.members.has(pod) })).sort((a, b) => a.pod.localeCompare(b.pod)),
    overrides: overrides.sort((a, b) => a.guildId.localeCompare(b.guildId)),
    orphaned: orphaned.sort((a, b) => a.guildId.localeCompare(b.guildId)),
    garbage: s.garbage,
  };
}

export async function status(d: AdminDeps): Promise<ClusterStatus> {
  return computeStatus(await snapshot(d));
}

export interface GuildLeaseReport {
  readonly guildId: string;
  readonly redis: GuildLeaseState;
  readonly ttlMs: number | undefined;
  readonly postgres: Assignment | undefined;
  readonly desiredOwner: string | undefined;
  readonly pin: { pod: string; honoured: boolean } | undefined;
}

export async function lease(d: AdminDeps, guildId: string): Promise<GuildLeaseReport> {
  if (!isSnowflake(guildId)) throw badGuild(guildId);
  const [redis, postgres, s] = await Promise.all([d.cluster.leases.read(guildId), d.store.getAssignment(guildId), snapshot(d)]);
  if (!redis.lease && !postgres && redis.epochIssued === undefined && redis.pin === undefined) {
    throw new AdminError(404, 'UNKNOWN_GUILD', `guild ${guildId} has no lease, no history in Postgres and no pin: leasehold has never seen it`);
  }
  const placement = new Placement({ members: s.members, cordons: new Set(s.cordons.keys()), pins: s.pins, ringParams: s.ringParams });
  const desired = placement.desiredOwner(guildId);
  return {
    guildId,
    redis,
    ttlMs: redis.lease ? redis.leasePttlMs : undefined,
    postgres,
    desiredOwner: desired.owner,
    pin: desired.pin ? { pod: desired.pin.pod, honoured: desired.pin.honoured } : undefined,
  };
}

async function assertKnownPod(d: AdminDeps, podId: string, force: boolean): Promise<{ live: boolean }> {
  if (!isPodId(podId)) throw badPod(podId);
  const { members } = await readMembers(d.cluster.redis, d.cluster.keys);
  if (members.has(podId)) return { live: true };
  if (force || (await d.store.knownPods()).has(podId)) return { live: false };
  throw new AdminError(404, 'UNKNOWN_POD', `pod "${podId}" is not a live member and Postgres has never seen it (use --force to pin to it anyway)`);
}

export async function pin(d: AdminDeps, guildId: string, podId: string, opts: { force?: boolean } = {}): Promise<{ previous: string | undefined; live: boolean }> {
  if (!isSnowflake(guildId)) throw badGuild(guildId);
  const { live } = await assertKnownPod(d, podId, opts.force ?? false);
  const previous = await d.cluster.controls.setPin(guildId, podId);
  await d.store.setPin(guildId, podId);
  return { previous, live };
}

export async function unpin(d: AdminDeps, guildId: string): Promise<{ previous: string | undefined }> {
  if (!isSnowflake(guildId)) throw badGuild(guildId);
  const previous = await d.cluster.controls.setPin(guildId, undefined);
  await d.store.setPin(guildId, null);
  return { previous };
}

export async function release(d: AdminDeps, guildId: string): Promise<{ owner: string | undefined; epoch: number | undefined; claimableAtMs: number | undefined }> {
  if (!isSnowflake(guildId)) throw badGuild(guildId);
  const before = await d.cluster.leases.read(guildId);
  if (!before.lease) throw new AdminError(404, 'NO_LEASE', `guild ${guildId} has no valid lease to release${before.garbage.length ? ` (garbage: ${before.garbage.join('; ')})` : ''}`);
  const r = await d.cluster.leases.forceRelease(guildId, 'admin');
  if (r.owner) await d.store.appendLog({ guildId, kind: 'force_release', owner: r.owner, epoch: r.epoch ?? null, detail: { by: 'admin' } });
  return { ...r, claimableAtMs: before.untilMs };
}

export async function cordon(d: AdminDeps, podId: string, reason: string, opts: { force?: boolean } = {}): Promise<{ wasCordoned: boolean; live: boolean }> {
  const { live } = await assertKnownPod(d, podId, opts.force ?? false);
  const wasCordoned = await d.cluster.controls.setCordon(podId, reason || 'cordoned by admin');
  await d.store.setCordon(podId, reason || 'cordoned by admin');
  return { wasCordoned, live };
}

export async function uncordon(d: AdminDeps, podId: string): Promise<{ wasCordoned: boolean }> {
  if (!isPodId(podId)) throw badPod(podId);
  const wasCordoned = await d.cluster.controls.setCordon(podId, undefined);
  await d.store.setCordon(podId, null);
  return { wasCordoned };
}

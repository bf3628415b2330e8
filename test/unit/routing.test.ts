// The routing view: lease owners override the ring, stale news never rolls the mirror back, and a
// reconcile replaces what the stream built.
import { describe, expect, it } from 'vitest';
import { RoutingTable } from '../../src/cluster/routing.js';
import { DEFAULT_RING_PARAMS } from '../../src/cluster/ring.js';
import type { ClusterEvent, ClusterEventType } from '../../src/cluster/types.js';
import { clusterViewOf, gatewayMember, realisticGuildIds } from '../../bench/ring.js';

const P = DEFAULT_RING_PARAMS;
const guilds = realisticGuildIds(500, 9);
const pods = ['gw-a', 'gw-b', 'gw-c'];

let seq = 0;
function event(type: ClusterEventType, fields: Partial<ClusterEvent> = {}): ClusterEvent {
  seq += 1;
  return { id: `${1_700_000_000_000 + seq}-0`, type, guild: '', owner: '', epoch: undefined, from: undefined, ...fields };
}

function table(): RoutingTable {
  return new RoutingTable(clusterViewOf(pods.map((p) => gatewayMember(p, P)), P));
}

/** A guild and a pod that is not its ring owner: a lease there is an override. */
function guildAndStranger(t: RoutingTable): { guild: string; ringOwner: string; stranger: string } {
  const guild = guilds[0] as string;
  const ringOwner = t.route(guild).owner as string;
  return { guild, ringOwner, stranger: pods.find((p) => p !== ringOwner) as string };
}

describe('routing a guild', () => {
  it('goes to the ring owner, with its address, while nobody holds a lease', () => {
    const t = table();
    const r = t.route(guilds[0] as string);
    expect(r.source).toBe('ring');
    expect(pods).toContain(r.owner);
    expect(r.epoch).toBeUndefined();
    expect(r.addr).toBe(`${r.owner}.internal:8080`);
  });

  it('goes to the lease owner when there is a lease: the override beats the ring', () => {
    const t = table();
    const { guild, stranger } = guildAndStranger(t);
    expect(t.applyEvent(event('claim', { guild, owner: stranger, epoch: 3 }))).toBe('applied');
    expect(t.route(guild)).toEqual({ owner: stranger, epoch: 3, addr: `${stranger}.internal:8080`, source: 'lease' });
    expect(t.overrides()).toEqual([{ guildId: guild, owner: stranger, epoch: 3, desired: t.desiredOwner(guild).owner }]);
  });

  it('falls back to the ring once the lease is released', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 3 }));
    expect(t.applyEvent(event('release', { guild, epoch: 3, from: stranger }))).toBe('applied');
    expect(t.route(guild)).toMatchObject({ owner: ringOwner, source: 'ring', epoch: undefined });
    expect(t.size).toBe(0);
  });

  it('follows a handoff to the new owner and epoch', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 3 }));
    t.applyEvent(event('handoff', { guild, owner: ringOwner, epoch: 4, from: stranger }));
    expect(t.route(guild)).toMatchObject({ owner: ringOwner, epoch: 4, source: 'lease' });
    expect(t.overrides()).toEqual([]);
  });

  it('goes nowhere when there is neither lease nor ring member', () => {
    const t = new RoutingTable();
    expect(t.route(guilds[0] as string)).toEqual({ owner: undefined, epoch: undefined, addr: undefined, source: 'none' });
  });

  it('follows a live pin for a guild without a lease, and not a pin to a pod off the ring', () => {
    const t = table();
    const { guild, stranger } = guildAndStranger(t);
    t.applyEvent(event('pin', { guild, owner: stranger }));
    expect(t.route(guild)).toMatchObject({ owner: stranger, source: 'ring' });
    t.applyEvent(event('pin', { guild, owner: 'gw-unknown' }));
    expect(t.route(guild).owner).not.toBe('gw-unknown');
    t.applyEvent(event('unpin', { guild }));
    expect(t.route(guild).owner).toBe(t.desiredOwner(guild).owner);
    expect(t.desiredOwner(guild).pin).toBeUndefined();
  });
});

describe('stale and out-of-order events', () => {
  it('a claim for an older epoch than the mirrored one is ignored', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 5 }));
    expect(t.applyEvent(event('claim', { guild, owner: ringOwner, epoch: 4 }))).toBe('stale');
    expect(t.route(guild)).toMatchObject({ owner: stranger, epoch: 5 });
  });

  it('a release of an older epoch does not remove the newer lease', () => {
    const t = table();
    const { guild, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 5 }));
    expect(t.applyEvent(event('force_release', { guild, epoch: 4 }))).toBe('stale');
    expect(t.route(guild)).toMatchObject({ owner: stranger, epoch: 5, source: 'lease' });
  });

  it('a claim replayed after its release does not bring the lease back', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    const claim = event('claim', { guild, owner: stranger, epoch: 5 });
    t.applyEvent(claim);
    t.applyEvent(event('release', { guild, epoch: 5 }));
    expect(t.applyEvent(claim)).toBe('stale');
    expect(t.route(guild)).toMatchObject({ owner: ringOwner, source: 'ring' });
  });

  it('a release without an epoch (there was no valid lease) changes nothing', () => {
    const t = table();
    const { guild, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 2 }));
    expect(t.applyEvent(event('release', { guild }))).toBe('ignored');
    expect(t.route(guild).owner).toBe(stranger);
  });

  it('after a reconcile, stream entries older than the scan are stale', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    t.replaceLeases([{ guildId: guild, owner: stranger, epoch: 7, since: 1 }]);
    expect(t.applyEvent(event('claim', { guild, owner: ringOwner, epoch: 6 }))).toBe('stale');
    expect(t.applyEvent(event('release', { guild, epoch: 6 }))).toBe('stale');
    expect(t.applyEvent(event('claim', { guild, owner: stranger, epoch: 7 }))).toBe('applied');
    expect(t.route(guild)).toMatchObject({ owner: stranger, epoch: 7 });
  });
});

describe('421 replies', () => {
  it('update the mirror only when they name a higher epoch', () => {
    const t = table();
    const { guild, ringOwner, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 5 }));
    expect(t.noteOwner(guild, ringOwner, 5)).toBe(false);
    expect(t.noteOwner(guild, ringOwner, 4)).toBe(false);
    expect(t.route(guild)).toMatchObject({ owner: stranger, epoch: 5 });
    expect(t.noteOwner(guild, ringOwner, 6)).toBe(true);
    expect(t.route(guild)).toMatchObject({ owner: ringOwner, epoch: 6, source: 'lease' });
    // The stream catching up with the older claim afterwards changes nothing.
    expect(t.applyEvent(event('claim', { guild, owner: stranger, epoch: 5 }))).toBe('stale');
  });
});

describe('full reconcile', () => {
  it('replaces every mirrored lease with the scanned ones', () => {
    const t = table();
    const [g1, g2, g3] = guilds as [string, string, string];
    t.applyEvent(event('claim', { guild: g1, owner: 'gw-a', epoch: 1 }));
    t.applyEvent(event('claim', { guild: g2, owner: 'gw-b', epoch: 1 }));
    t.replaceLeases([
      { guildId: g2, owner: 'gw-c', epoch: 2, since: 10 },
      { guildId: g3, owner: 'gw-c', epoch: 1, since: 10 },
    ]);
    expect(t.size).toBe(2);
    expect(t.lease(g1)).toBeUndefined();
    expect(t.route(g1).source).toBe('ring');
    expect(t.route(g2)).toMatchObject({ owner: 'gw-c', epoch: 2 });
    expect(t.countsByOwner()).toEqual(new Map([['gw-c', 2]]));
  });

  it('counts leases per owner, owners sorted', () => {
    const t = table();
    t.replaceLeases(guilds.slice(0, 30).map((g, i) => ({ guildId: g, owner: pods[i % 3] as string, epoch: 1, since: 0 })));
    expect([...t.countsByOwner()]).toEqual([
      ['gw-a', 10],
      ['gw-b', 10],
      ['gw-c', 10],
    ]);
  });
});

describe('member events', () => {
  it('a member that expires leaves the ring; its leases stay routed to it, without an address', () => {
    const t = table();
    const { guild, stranger } = guildAndStranger(t);
    t.applyEvent(event('claim', { guild, owner: stranger, epoch: 1 }));
    expect(t.applyEvent(event('member_expire', { owner: stranger }))).toBe('applied');
    expect(t.ringMembers).not.toContain(stranger);
    expect(t.route(guild)).toEqual({ owner: stranger, epoch: 1, addr: undefined, source: 'lease' });
    expect(guilds.some((g) => t.route(g).owner === stranger && t.route(g).source === 'ring')).toBe(false);
  });

  it('a cordon takes a pod off the ring and an uncordon puts it back', () => {
    const t = table();
    t.applyEvent(event('cordon', { owner: 'gw-b' }));
    expect(t.ringMembers).toEqual(['gw-a', 'gw-c']);
    t.applyEvent(event('uncordon', { owner: 'gw-b' }));
    expect(t.ringMembers).toEqual(pods);
  });

  it('a join or update asks the caller to re-read the members (the event carries no fields)', () => {
    const t = table();
    expect(t.applyEvent(event('member_join', { owner: 'gw-d' }))).toBe('refresh_view');
    expect(t.ringMembers).toEqual(pods);
    t.setView(clusterViewOf([...pods, 'gw-d'].map((p) => gatewayMember(p, P)), P));
    expect(t.ringMembers).toEqual([...pods, 'gw-d']);
  });
});

describe('leases per owner', () => {
  const of = (t: RoutingTable, pod: string) => [...t.leasesOf(pod)].map((l) => `${l.guildId}@${l.epoch}`).sort();

  it('follow claims, handoffs, releases, 421 answers and a full reconcile, matching the mirror', () => {
    const t = table();
    const [g1, g2, g3] = guilds as [string, string, string];
    t.applyEvent(event('claim', { guild: g1, owner: 'gw-a', epoch: 1 }));
    t.applyEvent(event('claim', { guild: g2, owner: 'gw-a', epoch: 1 }));
    t.applyEvent(event('claim', { guild: g3, owner: 'gw-b', epoch: 4 }));
    expect(of(t, 'gw-a')).toEqual([`${g1}@1`, `${g2}@1`].sort());
    t.applyEvent(event('handoff', { guild: g1, owner: 'gw-b', epoch: 2 }));
    expect(of(t, 'gw-a')).toEqual([`${g2}@1`]);
    expect(of(t, 'gw-b')).toEqual([`${g1}@2`, `${g3}@4`].sort());
    t.applyEvent(event('release', { guild: g2, owner: 'gw-a', epoch: 1 }));
    expect(of(t, 'gw-a')).toEqual([]);
    // A stale claim (older epoch) changes neither the mirror nor the index.
    t.applyEvent(event('claim', { guild: g1, owner: 'gw-a', epoch: 1 }));
    expect(of(t, 'gw-a')).toEqual([]);
    expect(t.noteOwner(g3, 'gw-c', 5)).toBe(true);
    expect(of(t, 'gw-b')).toEqual([`${g1}@2`]);
    expect(of(t, 'gw-c')).toEqual([`${g3}@5`]);
    t.replaceLeases([{ guildId: g2, owner: 'gw-c', epoch: 3, since: 0 }]);
    expect(of(t, 'gw-b')).toEqual([]);
    expect(of(t, 'gw-c')).toEqual([`${g2}@3`]);
    const fromMirror = [...t.leases().values()].filter((l) => l.owner === 'gw-c').map((l) => `${l.guildId}@${l.epoch}`);
    expect(of(t, 'gw-c')).toEqual(fromMirror);
  });
});

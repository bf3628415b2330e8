// Placement: which gateways form the ring, and who should own a guild (a live pin, else the ring).
import { describe, expect, it } from 'vitest';
import { desiredOwner, Placement, ringExclusion, ringMembers } from '../../src/cluster/placement.js';
import { DEFAULT_RING_PARAMS, Ring, ringParams } from '../../src/cluster/ring.js';
import { clusterViewOf, gatewayMember, realisticGuildIds } from '../../bench/ring.js';

const P = DEFAULT_RING_PARAMS;
const guilds = realisticGuildIds(2_000, 5);

/** A cluster with one gateway of every kind that must stay off the ring. */
function mixedCluster(pins: [string, string][] = []) {
  return clusterViewOf(
    [
      gatewayMember('gw-a', P),
      gatewayMember('gw-b', P),
      gatewayMember('gw-c', P),
      gatewayMember('edge-1', P, { role: 'http' }),
      gatewayMember('gw-booting', P, { ready: false }),
      gatewayMember('gw-draining', P, { draining: true }),
      gatewayMember('gw-cordoned', P),
      gatewayMember('gw-old', P, { ring: 'v0:160:md5' }),
    ],
    P,
    { cordons: ['gw-cordoned'], pins },
  );
}

describe('ring members', () => {
  it('are the live, ready, non-draining, non-cordoned gateways on our ring parameters, sorted', () => {
    expect(ringMembers(mixedCluster())).toEqual(['gw-a', 'gw-b', 'gw-c']);
  });

  it('never include http pods, and say why each other pod is left out', () => {
    const view = mixedCluster();
    expect(ringExclusion(view, 'edge-1')).toBe('not_gateway');
    expect(ringExclusion(view, 'gw-booting')).toBe('not_ready');
    expect(ringExclusion(view, 'gw-draining')).toBe('draining');
    expect(ringExclusion(view, 'gw-cordoned')).toBe('cordoned');
    expect(ringExclusion(view, 'gw-old')).toBe('ring_mismatch');
    expect(ringExclusion(view, 'gw-gone')).toBe('unknown');
    expect(ringExclusion(view, 'gw-a')).toBeUndefined();
  });

  it('place every guild on a ring member only', () => {
    const placement = new Placement(mixedCluster());
    const owners = new Set(guilds.map((g) => placement.desiredOwner(g).owner));
    expect(owners).toEqual(new Set(['gw-a', 'gw-b', 'gw-c']));
  });
});

describe('desired owner', () => {
  const guild = guilds[0] as string;

  it('is the ring choice when the guild has no pin', () => {
    const placement = new Placement(mixedCluster());
    expect(placement.desiredOwner(guild)).toEqual({ owner: new Ring(['gw-a', 'gw-b', 'gw-c'], P).lookup(guild) });
  });

  it('is the pinned pod while that pod is a ring member', () => {
    const ringOwner = new Placement(mixedCluster()).ringOwner(guild);
    const target = ['gw-a', 'gw-b', 'gw-c'].find((p) => p !== ringOwner) as string;
    const d = new Placement(mixedCluster([[guild, target]])).desiredOwner(guild);
    expect(d).toEqual({ owner: target, pin: { pod: target, honoured: true } });
  });

  for (const [pod, detail] of [
    ['gw-gone', 'unknown'],
    ['gw-draining', 'draining'],
    ['gw-cordoned', 'cordoned'],
    ['gw-booting', 'not_ready'],
    ['gw-old', 'ring_mismatch'],
    ['edge-1', 'not_gateway'],
  ] as const) {
    it(`ignores and reports a pin to a ${detail} pod, falling back to the ring`, () => {
      const placement = new Placement(mixedCluster([[guild, pod]]));
      const d = placement.desiredOwner(guild);
      expect(d.owner).toBe(placement.ringOwner(guild));
      expect(d.pin).toEqual({ pod, honoured: false, reason: 'not_a_ring_member', detail });
    });
  }

  it('the free function honours a pin only when its pod is in the member set', () => {
    const ring = new Ring(['gw-a', 'gw-b'], P);
    const pins = new Map([[guild, 'gw-z']]);
    expect(desiredOwner(guild, pins, ring, new Set(['gw-a', 'gw-b', 'gw-z']))).toEqual({ owner: 'gw-z', pin: { pod: 'gw-z', honoured: true } });
    expect(desiredOwner(guild, pins, ring, new Set(['gw-a', 'gw-b']))).toEqual({ owner: ring.lookup(guild), pin: { pod: 'gw-z', honoured: false, reason: 'not_a_ring_member' } });
  });

  it('is nobody when no gateway is on the ring and no live pin applies', () => {
    const view = clusterViewOf([gatewayMember('gw-a', P, { ready: false })], P, { pins: [[guild, 'gw-a']] });
    expect(new Placement(view).desiredOwner(guild).owner).toBeUndefined();
  });

  it("leaves out an excluded pod (a pod deciding as if it had already left), pins to it included", () => {
    const placement = new Placement(mixedCluster([[guild, 'gw-a']]), { exclude: 'gw-a' });
    expect(placement.ringMembers).toEqual(['gw-b', 'gw-c']);
    expect(placement.desiredOwner(guild).pin).toEqual({ pod: 'gw-a', honoured: false, reason: 'not_a_ring_member', detail: 'leaving' });
    expect(guilds.some((g) => placement.desiredOwner(g).owner === 'gw-a')).toBe(false);
  });
});

describe('Placement view updates', () => {
  it('keeps its ring when only pins or non-ring members change', () => {
    const placement = new Placement(mixedCluster());
    const ring = placement.ring;
    expect(placement.setView(mixedCluster([[guilds[1] as string, 'gw-b']]))).toBe(false);
    expect(placement.ring).toBe(ring);
    expect(placement.desiredOwner(guilds[1] as string).owner).toBe('gw-b');
  });

  it('rebuilds the ring when a gateway joins or the parameters change', () => {
    const placement = new Placement(mixedCluster());
    const before = placement.ring;
    const joined = clusterViewOf([...mixedCluster().members.values(), gatewayMember('gw-d', P)], P, { cordons: ['gw-cordoned'] });
    expect(placement.setView(joined)).toBe(true);
    expect(placement.ringMembers).toEqual(['gw-a', 'gw-b', 'gw-c', 'gw-d']);
    expect(placement.ring).not.toBe(before);

    const other = ringParams(64);
    const reparam = clusterViewOf(['gw-a', 'gw-b'].map((id) => gatewayMember(id, other)), other);
    expect(placement.setView(reparam)).toBe(true);
    expect(placement.ring.params).toEqual(other);
    expect(placement.ringMembers).toEqual(['gw-a', 'gw-b']);
  });
});

import { describe, expect, it } from 'vitest';
import { planRebalance } from '../../../src/admin/rebalance.js';
import { Placement } from '../../../src/cluster/placement.js';
import { ringParams, ringParamsId } from '../../../src/cluster/ring.js';
import type { ClusterSnapshot } from '../../../src/admin/operations.js';
import type { Member } from '../../../src/cluster/types.js';

const params = ringParams(64);
const member = (podId: string, o: Partial<Member> = {}): Member => ({ podId, addr: `h:${podId.length}`, role: 'gateway', pid: 1, started: 0, version: 't', ring: ringParamsId(params), ready: true, draining: false, ...o });
const guilds = Array.from({ length: 300 }, (_, i) => String(100000000000000000n + BigInt(i) * 7919n));

function snapshot(o: { members: Member[]; owner: (g: string) => string; pins?: Map<string, string>; cordons?: Map<string, string> }): ClusterSnapshot {
  return {
    members: new Map(o.members.map((m) => [m.podId, m])),
    leases: guilds.map((g) => ({ guildId: g, owner: o.owner(g), epoch: 3, since: 0 })),
    pins: o.pins ?? new Map(),
    cordons: o.cordons ?? new Map(),
    ringParams: params,
    assignments: [],
    garbage: [],
  };
}

describe('the rebalance plan', () => {
  it('is empty when every lease is on its desired owner', () => {
    const members = [member('gw-a'), member('gw-b'), member('gw-c')];
    const p = new Placement({ members: new Map(members.map((m) => [m.podId, m])), cordons: new Set(), pins: new Map(), ringParams: params });
    const plan = planRebalance(snapshot({ members, owner: (g) => p.desiredOwner(g).owner as string }));
    expect(plan.moves).toEqual([]);
    expect(plan.after).toEqual(plan.before);
    expect(plan.imbalanceAfter).toBeLessThan(1.5);
  });

  it('after a join, moves exactly the guilds the ring gives the newcomer, and the counts add up', () => {
    const members = [member('gw-a'), member('gw-b'), member('gw-c')];
    const old = new Placement({ members: new Map(members.slice(0, 2).map((m) => [m.podId, m])), cordons: new Set(), pins: new Map(), ringParams: params });
    const plan = planRebalance(snapshot({ members, owner: (g) => old.desiredOwner(g).owner as string }));
    expect(plan.moves.length).toBeGreaterThan(0);
    expect(plan.moves.every((m) => m.to === 'gw-c' && m.reason === 'ring')).toBe(true);
    expect(plan.before['gw-c']).toBe(0);
    expect(plan.after['gw-c']).toBe(plan.moves.length);
    expect(Object.values(plan.after).reduce((a, b) => a + b, 0)).toBe(guilds.length);
  });

  it('a cordoned pod is planned empty; a live pin wins over the ring; a pin to a dead pod is ignored', () => {
    const members = [member('gw-a'), member('gw-b')];
    const g0 = guilds[0] as string;
    const g1 = guilds[1] as string;
    const plan = planRebalance(snapshot({ members, owner: () => 'gw-a', cordons: new Map([['gw-a', 'maintenance']]), pins: new Map([[g0, 'gw-b'], [g1, 'gw-gone']]) }));
    expect(plan.after).toEqual({ 'gw-a': 0, 'gw-b': guilds.length });
    expect(plan.moves.find((m) => m.guildId === g0)?.reason).toBe('pin');
    expect(plan.moves.find((m) => m.guildId === g1)?.reason).toBe('ring');
    expect(plan.ringMembers).toEqual(['gw-b']);
  });

  it('with no ring member left, leases are reported stuck, not moved', () => {
    const plan = planRebalance(snapshot({ members: [member('gw-a', { draining: true })], owner: () => 'gw-a' }));
    expect(plan.moves).toEqual([]);
    expect(plan.stuck).toHaveLength(guilds.length);
    expect(plan.after).toEqual({ 'gw-a': guilds.length });
  });
});

// The ownership decision: what a pod stops, claims, hands off and renews, on a fake clock.
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { decide, MissingLeaseTracker, type Action, type HeldLease, type OwnershipInput } from '../../src/cluster/ownership.js';
import { Placement } from '../../src/cluster/placement.js';
import { DEFAULT_RING_PARAMS } from '../../src/cluster/ring.js';
import type { Lease } from '../../src/cluster/types.js';
import { clusterViewOf, gatewayMember, realisticGuildIds } from '../../bench/ring.js';

const P = DEFAULT_RING_PARAMS;
const TTL = 10_000;
const SELF = 'gw-a';
const PODS = ['gw-a', 'gw-b', 'gw-c'];
const guilds = realisticGuildIds(300, 3);
const view = clusterViewOf(PODS.map((p) => gatewayMember(p, P)), P);
const placement = new Placement(view);
/** Guilds the ring gives to us, and guilds it gives to someone else. */
const ours = guilds.filter((g) => placement.desiredOwner(g).owner === SELF);
const theirs = guilds.filter((g) => placement.desiredOwner(g).owner !== SELF);

function input(over: Partial<OwnershipInput> = {}): OwnershipInput {
  return {
    self: SELF,
    selfState: { ready: true, draining: false, cordoned: false },
    view,
    guilds,
    leases: new Map(),
    untilMissing: new Map(),
    held: new Map(),
    busy: new Set(),
    now: 50_000,
    ttlMs: TTL,
    ...over,
  };
}

function held(list: { guildId: string; epoch?: number; deadline?: number }[]): Map<string, HeldLease> {
  return new Map(list.map((h) => [h.guildId, { guildId: h.guildId, epoch: h.epoch ?? 1, deadline: h.deadline ?? 55_000 }]));
}

/** Leases of everything except `except`, owned by their ring owners (a settled cluster). */
function settled(except: readonly string[] = []): Map<string, Lease> {
  const skip = new Set(except);
  return new Map(guilds.filter((g) => !skip.has(g)).map((g) => [g, { guildId: g, owner: placement.desiredOwner(g).owner as string, epoch: 1, since: 0 }]));
}

const kinds = (actions: Action[], kind: Action['kind']) => actions.filter((a) => a.kind === kind);

describe('claims', () => {
  it('a ready pod claims exactly the free guilds whose desired owner it is', () => {
    const actions = decide(input());
    expect(ours.length).toBeGreaterThan(0);
    expect(actions).toEqual([...ours].sort().map((g) => ({ kind: 'claim', guildId: g, waitedFullTtl: false })));
  });

  it('a guild with a valid lease is not claimed, whoever holds it', () => {
    const g = ours[0] as string;
    const leases = new Map([[g, { guildId: g, owner: 'gw-b', epoch: 4, since: 0 }]]);
    expect(decide(input({ leases })).some((a) => a.kind === 'claim' && a.guildId === g)).toBe(false);
  });

  it('a pod that is not ready claims nothing', () => {
    expect(decide(input({ selfState: { ready: false, draining: false, cordoned: false } }))).toEqual([]);
  });

  it('a draining or cordoned pod claims nothing', () => {
    expect(decide(input({ selfState: { ready: true, draining: true, cordoned: false } }))).toEqual([]);
    expect(decide(input({ selfState: { ready: true, draining: false, cordoned: true } }))).toEqual([]);
  });

  it('a pod the view does not show as a ring member claims nothing (everyone must agree on the ring)', () => {
    const withoutSelf = clusterViewOf(PODS.map((p) => gatewayMember(p, P, { ready: p !== SELF })), P);
    expect(decide(input({ view: withoutSelf }))).toEqual([]);
  });

  it('claims a guild pinned to it even when the ring says otherwise, and not one pinned away', () => {
    const pinnedHere = theirs[0] as string;
    const pinnedAway = ours[0] as string;
    const pinned = clusterViewOf([...view.members.values()], P, { pins: [[pinnedHere, SELF], [pinnedAway, 'gw-b']] });
    const claims = kinds(decide(input({ view: pinned })), 'claim').map((a) => (a as { guildId: string }).guildId);
    expect(claims).toContain(pinnedHere);
    expect(claims).not.toContain(pinnedAway);
  });

  it('ignores a pin to a dead pod and claims by the ring', () => {
    const g = ours[0] as string;
    const deadPin = clusterViewOf([...view.members.values()], P, { pins: [[g, 'gw-dead']] });
    expect(kinds(decide(input({ view: deadPin })), 'claim')).toContainEqual({ kind: 'claim', guildId: g, waitedFullTtl: false });
  });
});

describe('the wait after a lease vanished together with its until', () => {
  it('claims only after one full TTL since it was first seen missing, then says it waited', () => {
    const clock = new FakeClock();
    const tracker = new MissingLeaseTracker(clock, TTL);
    const g = ours[0] as string;
    tracker.noteMissing(g);
    const claimOf = () => decide(input({ now: clock.now(), untilMissing: tracker.missing() })).find((a) => a.kind === 'claim' && a.guildId === g);

    expect(claimOf()).toBeUndefined();
    clock.advance(TTL - 1);
    expect(tracker.waitedFullTtl(g)).toBe(false);
    expect(tracker.remainingMs(g)).toBe(1);
    expect(claimOf()).toBeUndefined();
    clock.advance(1);
    expect(tracker.waitedFullTtl(g)).toBe(true);
    expect(claimOf()).toEqual({ kind: 'claim', guildId: g, waitedFullTtl: true });
  });

  it('the first sighting counts: noting a guild again does not restart or shorten the wait', () => {
    const clock = new FakeClock();
    const tracker = new MissingLeaseTracker(clock, TTL);
    tracker.noteMissing('1');
    clock.advance(TTL / 2);
    tracker.noteMissing('1');
    clock.advance(TTL / 2);
    expect(tracker.waitedFullTtl('1')).toBe(true);
  });

  it('a guild that got a lease again is forgotten, so a later disappearance waits anew', () => {
    const clock = new FakeClock();
    const tracker = new MissingLeaseTracker(clock, TTL);
    tracker.noteMissing('1');
    tracker.noteMissing('2');
    clock.advance(TTL);
    tracker.sync(new Map([['1', { guildId: '1', owner: 'gw-b', epoch: 9, since: 0 }]]));
    expect([...tracker.missing().keys()]).toEqual(['2']);
    tracker.noteMissing('1');
    expect(tracker.waitedFullTtl('1')).toBe(false);
    tracker.clear('2');
    expect(tracker.size).toBe(1);
  });
});

describe('stopping', () => {
  it('a held lease past its deadline is stopped and not renewed, with no renew reply at all', () => {
    const clock = new FakeClock(40_000);
    const [g1, g2] = ours as [string, string];
    // Both claimed at 40_000 with deadline = sent + TTL − margin; the renew of g1 never returned.
    const h = held([{ guildId: g1, deadline: 49_000 }, { guildId: g2, deadline: 59_000 }]);
    const leases = settled();
    clock.advance(8_999);
    expect(kinds(decide(input({ now: clock.now(), held: h, leases })), 'stop')).toEqual([]);
    clock.advance(1);
    const actions = decide(input({ now: clock.now(), held: h, leases }));
    expect(kinds(actions, 'stop')).toEqual([{ kind: 'stop', guildId: g1, epoch: 1, reason: 'deadline' }]);
    expect(kinds(actions, 'renew')).toEqual([{ kind: 'renew', guilds: [h.get(g2)] }]);
  });

  it('stops a guild the mirror shows with a newer epoch on another pod (moved)', () => {
    const g = ours[0] as string;
    const leases = settled();
    leases.set(g, { guildId: g, owner: 'gw-b', epoch: 2, since: 0 });
    const actions = decide(input({ held: held([{ guildId: g, epoch: 1 }]), leases }));
    expect(actions).toEqual([{ kind: 'stop', guildId: g, epoch: 1, reason: 'moved' }]);
  });

  it('stops a guild whose own epoch the mirror shows superseded, or owned by someone else (lost)', () => {
    const [g1, g2] = ours as [string, string];
    const leases = settled();
    leases.set(g1, { guildId: g1, owner: SELF, epoch: 3, since: 0 });
    leases.set(g2, { guildId: g2, owner: 'gw-c', epoch: 1, since: 0 });
    const stops = kinds(decide(input({ held: held([{ guildId: g1, epoch: 2 }, { guildId: g2, epoch: 1 }]), leases })), 'stop');
    expect(stops).toEqual([
      { kind: 'stop', guildId: g1, epoch: 2, reason: 'lost' },
      { kind: 'stop', guildId: g2, epoch: 1, reason: 'lost' },
    ].sort((a, b) => (a.guildId < b.guildId ? -1 : 1)));
  });

  it('keeps a lease the mirror shows at an older epoch (the stream lagging behind our own claim)', () => {
    const g = ours[0] as string;
    const leases = settled();
    leases.set(g, { guildId: g, owner: 'gw-b', epoch: 4, since: 0 });
    const h = held([{ guildId: g, epoch: 5 }]);
    expect(decide(input({ held: h, leases }))).toEqual([{ kind: 'renew', guilds: [h.get(g)] }]);
  });
});

describe('handoffs', () => {
  it('hands a held guild to its desired owner when the ring gives it to another pod (rebalance)', () => {
    const g = theirs[0] as string;
    const leases = settled();
    leases.set(g, { guildId: g, owner: SELF, epoch: 1, since: 0 });
    const actions = decide(input({ held: held([{ guildId: g }]), leases }));
    expect(kinds(actions, 'handoff')).toEqual([{ kind: 'handoff', guildId: g, epoch: 1, to: placement.desiredOwner(g).owner, reason: 'rebalance' }]);
    // Until the handoff completes, the lease is still ours to keep alive.
    expect(kinds(actions, 'renew')).toHaveLength(1);
  });

  it('hands a guild to the pod a live pin names (pin)', () => {
    const g = ours[0] as string;
    const pinned = clusterViewOf([...view.members.values()], P, { pins: [[g, 'gw-c']] });
    const leases = settled();
    leases.set(g, { guildId: g, owner: SELF, epoch: 1, since: 0 });
    expect(kinds(decide(input({ view: pinned, held: held([{ guildId: g }]), leases })), 'handoff')).toEqual([{ kind: 'handoff', guildId: g, epoch: 1, to: 'gw-c', reason: 'pin' }]);
  });

  it('keeps a guild pinned to a dead pod', () => {
    const g = ours[0] as string;
    const deadPin = clusterViewOf([...view.members.values()], P, { pins: [[g, 'gw-dead']] });
    expect(kinds(decide(input({ view: deadPin, held: held([{ guildId: g }]), leases: settled() })), 'handoff')).toEqual([]);
  });

  for (const state of [
    { ready: true, draining: true, cordoned: false },
    { ready: true, draining: false, cordoned: true },
  ]) {
    it(`a ${state.draining ? 'draining' : 'cordoned'} pod hands every held guild to the other ring members (drain)`, () => {
      const mine = ours.slice(0, 20);
      const actions = decide(input({ selfState: state, held: held(mine.map((g) => ({ guildId: g }))), leases: settled() }));
      const handoffs = kinds(actions, 'handoff') as Extract<Action, { kind: 'handoff' }>[];
      expect(handoffs.map((a) => a.guildId)).toEqual([...mine].sort());
      for (const a of handoffs) {
        expect(a.reason).toBe('drain');
        expect(['gw-b', 'gw-c']).toContain(a.to);
      }
      expect(kinds(actions, 'claim')).toEqual([]);
    });
  }

  it('a draining pod with no other ring member keeps holding its guilds', () => {
    const alone = clusterViewOf([gatewayMember(SELF, P), gatewayMember('gw-b', P, { draining: true })], P);
    const h = held(ours.slice(0, 3).map((g) => ({ guildId: g })));
    const actions = decide(input({ view: alone, selfState: { ready: true, draining: true, cordoned: false }, held: h, leases: settled() }));
    expect(actions).toEqual([{ kind: 'renew', guilds: [...h.values()].sort((a, b) => (a.guildId < b.guildId ? -1 : 1)) }]);
  });
});

describe('busy guilds', () => {
  it('are neither claimed nor handed off, but still renewed', () => {
    const free = ours[0] as string;
    const moving = theirs[0] as string;
    const leases = settled([free]);
    leases.set(moving, { guildId: moving, owner: SELF, epoch: 1, since: 0 });
    const h = held([{ guildId: moving }]);
    const actions = decide(input({ leases, held: h, busy: new Set([free, moving]) }));
    expect(actions).toEqual([{ kind: 'renew', guilds: [h.get(moving)] }]);
  });

  it('are still stopped when their deadline passes: fencing comes before work in flight', () => {
    const g = ours[0] as string;
    const actions = decide(input({ now: 60_000, held: held([{ guildId: g, deadline: 60_000 }]), leases: settled(), busy: new Set([g]) }));
    expect(actions).toEqual([{ kind: 'stop', guildId: g, epoch: 1, reason: 'deadline' }]);
  });
});

describe('determinism', () => {
  it('gives the same sorted actions whatever order the inputs are iterated in', () => {
    const mine = [...ours.slice(0, 5), ...theirs.slice(0, 5)];
    const h = mine.map((g, i) => ({ guildId: g, epoch: 1, deadline: i === 0 ? 0 : 55_000 }));
    const leases = settled(ours.slice(5, 15));
    for (const g of theirs.slice(0, 5)) leases.set(g, { guildId: g, owner: SELF, epoch: 1, since: 0 });
    const a = decide(input({ held: held(h), leases, guilds: [...guilds, ...guilds] }));
    const b = decide(input({ held: held([...h].reverse()), leases: new Map([...leases].reverse()), guilds: [...guilds].reverse() }));
    expect(b).toEqual(a);
    const order = a.map((x) => x.kind);
    expect(order).toEqual([...order].sort((x, y) => ['stop', 'handoff', 'claim', 'renew'].indexOf(x) - ['stop', 'handoff', 'claim', 'renew'].indexOf(y)));
    for (const kind of ['stop', 'handoff', 'claim'] as const) {
      const ids = kinds(a, kind).map((x) => (x as { guildId: string }).guildId);
      expect(ids).toEqual([...ids].sort());
      expect(ids.length).toBeGreaterThan(0);
    }
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scripts } from '../../../src/cluster/scripts.js';
import { PendingInteractions, type DeferRequest } from '../../../src/cluster/pending-interactions.js';
import { testRedis, waitFor, type TestRedis } from '../../helpers/services.js';

const G = '123456789012345678';
const ID = '987654321098765432';
const DEADLINE = Date.UTC(2026, 0, 1, 12, 0, 3);

let t: TestRedis;
let pending: PendingInteractions;

const req = (over: Partial<DeferRequest> = {}): DeferRequest => ({
  interactionId: ID,
  guildId: G,
  applicationId: '111111111111111111',
  token: 'tok-abc',
  responseType: 5,
  flags: 64,
  deadlineAt: DEADLINE,
  edge: 'edge-1',
  payload: '{"id":"987654321098765432"}',
  ...over,
});

beforeEach(async () => {
  t = await testRedis();
  pending = new PendingInteractions(t.redis, new Scripts(t.redis), t.prefix, { ttlMs: 60_000, staleMs: 200 });
});
afterEach(async () => {
  await t.cleanup();
});

describe('the deferral handshake', () => {
  it('an owner that answers first is told to reply over HTTP, and the edge then knows it lost', async () => {
    expect(await pending.resolve(ID, 'gw-a', G)).toEqual({ kind: 'answered' });
    expect(await pending.defer(req(), { late: false })).toEqual({ state: 'answered', previous: 'answered', recorded: false });
    expect(await t.redis.zcard(pending.keys.deferredIndex)).toBe(0);
    expect(await t.redis.pttl(pending.keys.record(ID))).toBeGreaterThan(50_000);
  });

  it('a deferral first hands the token to the owner, once, and completion removes it from the leftovers', async () => {
    expect(await pending.defer(req(), { late: false })).toEqual({ state: 'deferred', previous: undefined, recorded: true });
    const r = await pending.resolve(ID, 'gw-a', G);
    expect(r).toEqual({ kind: 'complete', ticket: { interactionId: ID, guildId: G, applicationId: '111111111111111111', token: 'tok-abc', responseType: 5, flags: 64, deadlineAt: DEADLINE, from: 'deferred' } });
    expect(await pending.resolve(ID, 'gw-b', G)).toEqual({ kind: 'busy', state: 'completing' });
    expect(await pending.complete(ID, 'gw-a')).toBe('completing');
    expect(await pending.resolve(ID, 'gw-b', G)).toEqual({ kind: 'completed' });
    expect(await t.redis.zcard(pending.keys.deferredIndex)).toBe(0);
    expect((await pending.get(ID))?.state).toBe('completed');
  });

  it('a late deferral on an answered record becomes deferred_late, and the first to take it edits', async () => {
    await pending.resolve(ID, 'gw-a', G);
    expect(await pending.defer(req(), { late: true })).toEqual({ state: 'deferred_late', previous: 'answered', recorded: true });
    const edge = await pending.take(ID, 'edge-1');
    expect(edge.kind).toBe('complete');
    expect(await pending.take(ID, 'gw-b')).toEqual({ kind: 'busy', state: 'completing' });
  });

  it('take never creates a record, and a repeat deferral changes nothing', async () => {
    expect(await pending.take(ID, 'gw-a')).toEqual({ kind: 'missing' });
    expect(await t.redis.exists(pending.keys.record(ID))).toBe(0);
    await pending.defer(req(), { late: false });
    expect(await pending.defer(req({ token: 'other' }), { late: true })).toEqual({ state: 'deferred', previous: 'deferred', recorded: false });
    expect(await t.redis.hget(pending.keys.record(ID), 'token')).toBe('tok-abc');
  });

  it("a guild's next owner lists leftovers for its guilds and takes over a stale completion claim", async () => {
    await pending.defer(req(), { late: false });
    await pending.defer(req({ interactionId: '987654321098765433', guildId: '223456789012345678', token: 't2' }), { late: false });
    await pending.defer(req({ interactionId: '987654321098765434', guildId: undefined, token: 't3' }), { late: false });
    expect((await pending.leftovers({ guild: (g) => g === G, olderThanMs: 0 })).map((p) => p.interactionId)).toEqual([ID]);
    expect((await pending.leftovers({ guild: (g) => g === undefined, olderThanMs: 0 })).map((p) => p.interactionId)).toEqual(['987654321098765434']);
    expect(await pending.leftovers({ guild: (g) => g === G, olderThanMs: 60_000 })).toEqual([]);
    // The owner claims it and dies before editing: after staleMs the claim is anyone's.
    expect((await pending.resolve(ID, 'gw-dead', G)).kind).toBe('complete');
    expect(await pending.take(ID, 'gw-next')).toEqual({ kind: 'busy', state: 'completing' });
    const left = await waitFor('the claim to go stale', async () => {
      const l = await pending.leftovers({ guild: (g) => g === G, olderThanMs: 0 });
      return l.length > 0 ? l : undefined;
    });
    expect(left.map((p) => [p.interactionId, p.state, p.by, p.payload])).toEqual([[ID, 'completing', 'gw-dead', '{"id":"987654321098765432"}']]);
    const taken = await pending.take(ID, 'gw-next');
    expect(taken.kind === 'complete' && taken.ticket.token).toBe('tok-abc');
  });

  it('garbage in a record key (a hand edit) reads as no record and is replaced', async () => {
    await t.redis.set(pending.keys.record(ID), 'junk');
    expect(await pending.resolve(ID, 'gw-a', G)).toEqual({ kind: 'answered' });
    expect(await t.redis.type(pending.keys.record(ID))).toBe('hash');
  });
});

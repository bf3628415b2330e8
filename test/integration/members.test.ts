import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemberClient, PodIdTakenError, RingMismatchError, agreeRingParams, readMembers, type MemberFields } from '../../src/cluster/members.js';
import { Scripts } from '../../src/cluster/scripts.js';
import { parseEvent } from '../../src/cluster/events.js';
import { silentLogger } from '../../src/log.js';
import { testRedis, waitFor, type TestRedis } from '../helpers/services.js';

let t: TestRedis;
let scripts: Scripts;
const fields = (o: Partial<MemberFields> = {}): MemberFields => ({ addr: '127.0.0.1:9000', role: 'gateway', version: '0.1.0', ring: 'v1:400', ready: false, draining: false, ...o });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

beforeEach(async () => {
  t = await testRedis();
  scripts = new Scripts(t.redis);
});
afterEach(async () => {
  await t.cleanup();
});

async function eventTypes(): Promise<string[]> {
  const entries = (await t.redis.xrange(t.keys.events, '-', '+')) as [string, string[]][];
  return entries.map(([id, f]) => parseEvent(id, f)).map((e) => `${e?.type}:${e?.owner}`);
}

describe('membership', () => {
  it('a heartbeat joins, a flip of ready is a change, a leave removes the member; each is an event', async () => {
    const m = new MemberClient(t.redis, scripts, t.keys, 'gw-1', 5000, 1000);
    expect(await m.heartbeat(fields())).toMatchObject({ joined: true, changed: false });
    expect(await m.heartbeat(fields())).toMatchObject({ joined: false, changed: false });
    expect(await m.heartbeat(fields({ ready: true }))).toMatchObject({ joined: false, changed: true });
    const { members } = await readMembers(t.redis, t.keys);
    expect(members.get('gw-1')).toMatchObject({ podId: 'gw-1', role: 'gateway', ready: true, draining: false, addr: '127.0.0.1:9000', pid: process.pid });
    await m.leave();
    expect((await readMembers(t.redis, t.keys)).members.size).toBe(0);
    expect(await eventTypes()).toEqual(['member_join:gw-1', 'member_update:gw-1', 'member_leave:gw-1']);
  });

  it('a second live process with the same POD_ID is refused', async () => {
    const a = new MemberClient(t.redis, scripts, t.keys, 'gw-1', 2000, 1000);
    const b = new MemberClient(t.redis, scripts, t.keys, 'gw-1', 2000, 1000);
    await a.heartbeat(fields());
    await expect(b.heartbeat(fields())).rejects.toBeInstanceOf(PodIdTakenError);
    // While a keeps heartbeating, b's join (which waits one TTL for a dead predecessor) fails.
    const keepAlive = setInterval(() => void a.heartbeat(fields()), 200);
    try {
      await expect(b.join(fields(), silentLogger, sleep)).rejects.toThrow(/POD_ID gw-1 is in use/);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('a restarted process takes over its POD_ID once the dead predecessor key expires', async () => {
    const dead = new MemberClient(t.redis, scripts, t.keys, 'gw-1', 300, 1000);
    await dead.heartbeat(fields());
    const next = new MemberClient(t.redis, scripts, t.keys, 'gw-1', 300, 1000);
    await next.join(fields(), silentLogger, sleep);
    expect(await t.redis.hget(t.keys.member('gw-1'), 'instance')).toBe(next.instance);
  });

  it("an expired member is reaped by another member's heartbeat and announced", async () => {
    const a = new MemberClient(t.redis, scripts, t.keys, 'gw-a', 200, 1000);
    const b = new MemberClient(t.redis, scripts, t.keys, 'gw-b', 5000, 1000);
    await a.heartbeat(fields());
    await b.heartbeat(fields());
    await waitFor('gw-a reaped', async () => {
      await b.heartbeat(fields());
      return (await eventTypes()).includes('member_expire:gw-a');
    });
    expect([...(await readMembers(t.redis, t.keys)).members.keys()]).toEqual(['gw-b']);
  });

  it('garbage member keys are reported, not returned, and never crash a read', async () => {
    const a = new MemberClient(t.redis, scripts, t.keys, 'gw-a', 5000, 1000);
    await a.heartbeat(fields());
    await t.redis.zadd(t.keys.members, Date.now() + 60_000, 'gw-x');
    await t.redis.set(t.keys.member('gw-x'), 'garbage');
    const r = await readMembers(t.redis, t.keys);
    expect([...r.members.keys()]).toEqual(['gw-a']);
    expect(r.garbage).toEqual([t.keys.member('gw-x')]);
    await t.redis.set(t.keys.members, 'garbage');
    expect(await readMembers(t.redis, t.keys)).toEqual({ members: new Map(), garbage: [t.keys.members] });
    // The next heartbeat repairs the members set.
    await a.heartbeat(fields());
    expect([...(await readMembers(t.redis, t.keys)).members.keys()]).toEqual(['gw-a']);
  });
});

describe('ring parameters', () => {
  it('the first pod sets lh:ring, equal parameters are accepted, other parameters refuse to join', async () => {
    await agreeRingParams(scripts, t.keys, { version: '1', vnodes: 400, hash: 'md5' }, 1000);
    await agreeRingParams(scripts, t.keys, { version: '1', vnodes: 400, hash: 'md5' }, 1000);
    const err = await agreeRingParams(scripts, t.keys, { version: '1', vnodes: 160, hash: 'md5' }, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RingMismatchError);
    expect(String(err)).toMatch(/vnodes=160.*vnodes=400/);
  });
});

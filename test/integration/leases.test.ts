import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { LeaseClient, RENEW_CHUNK } from '../../src/cluster/leases.js';
import { ControlClient } from '../../src/cluster/controls.js';
import { Scripts } from '../../src/cluster/scripts.js';
import { ScriptErrorCode } from '../../src/cluster/errors.js';
import { parseEvent } from '../../src/cluster/events.js';
import { testRedis, waitFor, type TestRedis } from '../helpers/services.js';
import { startPrivateRedis } from '../helpers/redis-server.js';
import { createKeys } from '../../src/cluster/keys.js';

const G = '123456789012345678';
const G2 = '223456789012345678';

let t: TestRedis;
let leases: LeaseClient;
let controls: ControlClient;

beforeEach(async () => {
  t = await testRedis();
  const scripts = new Scripts(t.redis);
  leases = new LeaseClient(t.redis, scripts, t.keys, 1000);
  controls = new ControlClient(t.redis, scripts, t.keys, 1000);
});
afterEach(async () => {
  await t.cleanup();
});

async function events(): Promise<{ type: string; guild: string; owner: string; epoch?: number; from?: string }[]> {
  const entries = (await t.redis.xrange(t.keys.events, '-', '+')) as [string, string[]][];
  return entries.map(([id, f]) => parseEvent(id, f)).filter((e) => e !== undefined).map((e) => ({ type: e.type, guild: e.guild, owner: e.owner, epoch: e.epoch, from: e.from }));
}

describe('claim', () => {
  it('a free guild is claimed with epoch above the Postgres floor, and the lease, epoch and until keys are written', async () => {
    // Postgres knows epoch 41 but Redis has nothing: that history means "wait one TTL" first.
    expect(await leases.claim(G, 'pod-a', { floor: 41, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: false, code: ScriptErrorCode.UntilUnknown });
    const r = await leases.claim(G, 'pod-a', { floor: 41, ttlMs: 5000, waitedFullTtl: true });
    expect(r).toMatchObject({ ok: true, epoch: 42 });
    const state = await leases.read(G);
    expect(state.lease).toMatchObject({ owner: 'pod-a', epoch: 42 });
    expect(state.epochIssued).toBe(42);
    expect(state.untilMs).toBe(r.ok ? r.untilMs : -1);
    expect(state.leasePttlMs).toBeGreaterThan(4000);
    expect(await events()).toEqual([{ type: 'claim', guild: G, owner: 'pod-a', epoch: 42, from: undefined }]);
  });

  it('a held lease is refused and names its owner and epoch', async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    const r = await leases.claim(G, 'pod-b', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    expect(r).toMatchObject({ ok: false, code: ScriptErrorCode.LeaseHeld, owner: 'pod-a', epoch: 1 });
  });

  it('an expired lease is claimable at once, with a higher epoch', async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 100, waitedFullTtl: false });
    const r = await waitFor('claim after expiry', async () => {
      const c = await leases.claim(G, 'pod-b', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
      return c.ok ? c : undefined;
    });
    expect(r.epoch).toBe(2);
  });

  it('a lease deleted by hand is not claimable before its until, then is', async () => {
    const first = await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 600, waitedFullTtl: false });
    if (!first.ok) throw new Error('claim failed');
    await t.redis.del(t.keys.lease(G)); // redis-cli DEL lh:{g}:lease
    const early = await leases.claim(G, 'pod-b', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    expect(early).toMatchObject({ ok: false, code: ScriptErrorCode.LeaseNotExpired, untilMs: first.untilMs });
    const later = await waitFor('claim after until', async () => {
      const c = await leases.claim(G, 'pod-b', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
      return c.ok ? c : undefined;
    });
    expect(later.nowMs).toBeGreaterThanOrEqual(first.untilMs);
    expect(later.epoch).toBe(2);
  });

  it('with lease and until both wiped, a guild with history waits one full TTL (caller-tracked), and never reuses an epoch', async () => {
    const first = await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    expect(first).toMatchObject({ ok: true, epoch: 1 });
    // Postgres committed epoch 1; Redis is wiped.
    await t.redis.del(t.keys.lease(G), t.keys.until(G), t.keys.epoch(G));
    const early = await leases.claim(G, 'pod-b', { floor: 1, ttlMs: 5000, waitedFullTtl: false });
    expect(early).toMatchObject({ ok: false, code: ScriptErrorCode.UntilUnknown });
    const late = await leases.claim(G, 'pod-b', { floor: 1, ttlMs: 5000, waitedFullTtl: true });
    expect(late).toMatchObject({ ok: true, epoch: 2 });
  });

  it('a brand-new guild (no epoch anywhere) is claimable at once', async () => {
    expect(await leases.claim(G2, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: true, epoch: 1 });
  });
});

describe('renew', () => {
  it('renews held leases and reports the lost ones (other owner, other epoch, deleted)', async () => {
    const ids = ['100000000000000001', '100000000000000002', '100000000000000003', '100000000000000004'];
    for (const g of ids) await leases.claim(g, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    await t.redis.del(t.keys.lease(ids[1] as string));
    await t.redis.hset(t.keys.lease(ids[2] as string), 'owner', 'pod-b');
    const r = await leases.renew('pod-a', 5000, [
      { guildId: ids[0] as string, epoch: 1 },
      { guildId: ids[1] as string, epoch: 1 },
      { guildId: ids[2] as string, epoch: 1 },
      { guildId: ids[3] as string, epoch: 7 },
    ]);
    expect(r.lost).toEqual([ids[1], ids[2], ids[3]]);
    expect(r.untilMs - r.nowMs).toBe(5000);
    expect(Number(await t.redis.get(t.keys.until(ids[0] as string)))).toBe(r.untilMs);
  });

  it('renews more guilds than one chunk holds, in chunks', async () => {
    const n = RENEW_CHUNK + 250;
    const held: { guildId: string; epoch: number }[] = [];
    for (let i = 0; i < n; i++) held.push({ guildId: String(300000000000000000n + BigInt(i)), epoch: 1 });
    const pipe = t.redis.pipeline();
    for (const h of held) pipe.hset(t.keys.lease(h.guildId), 'owner', 'pod-a', 'epoch', '1', 'since', '0').pexpire(t.keys.lease(h.guildId), 1000);
    await pipe.exec();
    const r = await leases.renew('pod-a', 9000, held);
    expect(r.lost).toEqual([]);
    expect(await t.redis.pttl(t.keys.lease(held[n - 1]?.guildId as string))).toBeGreaterThan(8000);
  });
});

describe('handoff and release', () => {
  it('moves a lease by compare-and-set and refuses a stale owner afterwards', async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    const moved = await leases.handoff(G, { owner: 'pod-a', epoch: 1 }, 'pod-b', { floor: 1, ttlMs: 5000 });
    expect(moved).toMatchObject({ ok: true, epoch: 2 });
    expect((await leases.read(G)).lease).toMatchObject({ owner: 'pod-b', epoch: 2 });
    // The old owner's renew and handoff are refused.
    expect((await leases.renew('pod-a', 5000, [{ guildId: G, epoch: 1 }])).lost).toEqual([G]);
    expect(await leases.handoff(G, { owner: 'pod-a', epoch: 1 }, 'pod-c', { floor: 2, ttlMs: 5000 })).toMatchObject({ ok: false, code: ScriptErrorCode.NotOwner, owner: 'pod-b', epoch: 2 });
    expect((await events()).map((e) => `${e.type}:${e.owner}:${e.epoch}:${e.from ?? ''}`)).toEqual(['claim:pod-a:1:', 'handoff:pod-b:2:pod-a']);
  });

  it("an owner's release makes the guild claimable at once; a forced release waits for until", async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 60_000, waitedFullTtl: false });
    await expect(leases.release(G, 'pod-b', 1, 'test')).rejects.toThrow(/NotOwner/);
    await leases.release(G, 'pod-a', 1, 'drain');
    expect(await leases.claim(G, 'pod-b', { floor: 1, ttlMs: 60_000, waitedFullTtl: false })).toMatchObject({ ok: true, epoch: 2 });
    const forced = await leases.forceRelease(G, 'admin');
    expect(forced).toEqual({ owner: 'pod-b', epoch: 2 });
    expect(await leases.claim(G, 'pod-c', { floor: 2, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: false, code: ScriptErrorCode.LeaseNotExpired });
  });
});

describe('hand-edited garbage', () => {
  it('garbage in the lease, epoch, until and pin keys reads as "no valid lease" and is reported, never thrown', async () => {
    await t.redis.set(t.keys.lease(G), 'not a hash');
    await t.redis.set(t.keys.epoch(G), 'banana');
    await t.redis.hset(t.keys.until(G), 'x', '1');
    await t.redis.set(t.keys.pin(G), '!!bad pod!!');
    const s = await leases.read(G);
    expect(s.lease).toBeUndefined();
    expect(s.epochIssued).toBeUndefined();
    expect(s.pin).toBeUndefined();
    expect(s.garbage).toEqual(['lease: type string', 'epoch: "banana"', 'pin: "!!bad pod!!"']);
    // The until key is a hash: treated as missing, so the guild (with an epoch key) waits a TTL.
    expect(await leases.claim(G, 'pod-a', { floor: 3, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: false, code: ScriptErrorCode.UntilUnknown });
    const r = await leases.claim(G, 'pod-a', { floor: 3, ttlMs: 5000, waitedFullTtl: true });
    expect(r).toMatchObject({ ok: true, epoch: 4 });
    expect(await t.redis.type(t.keys.until(G))).toBe('string');
    expect((await leases.read(G)).garbage).toEqual(['pin: "!!bad pod!!"']);
  });

  it('a lease hash with garbage fields is no valid lease, and renew reports it lost', async () => {
    await t.redis.hset(t.keys.lease(G), 'owner', 'pod-a', 'epoch', '1.5');
    expect((await leases.read(G)).lease).toBeUndefined();
    expect((await leases.renew('pod-a', 5000, [{ guildId: G, epoch: 1 }])).lost).toEqual([G]);
    const scan = await leases.scanAll();
    expect(scan.garbage).toEqual([t.keys.lease(G)]);
  });

  it('a lease released between the SCAN and its read is absent, not garbage', async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    await leases.claim(G2, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    // The reads of the SCAN's batch go out as one pipeline: the release lands just before it.
    const pipeline = t.redis.pipeline.bind(t.redis);
    let released = false;
    t.redis.pipeline = ((...a: Parameters<typeof pipeline>) => {
      if (!released) {
        released = true;
        void t.redis.del(t.keys.lease(G));
      }
      return pipeline(...a);
    }) as typeof t.redis.pipeline;
    try {
      const scan = await leases.scanAll();
      expect(released).toBe(true);
      expect(scan.leases.map((l) => l.guildId)).toEqual([G2]);
      expect(scan.garbage).toEqual([]);
    } finally {
      t.redis.pipeline = pipeline;
    }
  });

  it('an epoch key too large to be exact is treated as garbage and replaced above the floor', async () => {
    await t.redis.set(t.keys.epoch(G), '99999999999999999999');
    expect(await leases.claim(G, 'pod-a', { floor: 7, ttlMs: 5000, waitedFullTtl: true })).toMatchObject({ ok: true, epoch: 8 });
  });

  it('a broken events stream does not stop a claim', async () => {
    await t.redis.set(t.keys.events, 'garbage');
    expect(await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: true });
  });

  it('a pin set with redis-cli is read back; a pin holding garbage is reported', async () => {
    await t.redis.set(t.keys.pin(G), 'pod-b');
    await t.redis.set(t.keys.pin(G2), 'x y');
    const { pins, garbage } = await controls.readPins();
    expect([...pins]).toEqual([[G, 'pod-b']]);
    expect(garbage).toEqual([t.keys.pin(G2)]);
  });
});

describe('scripts survive SCRIPT FLUSH and a Redis restart', () => {
  it('reloads after SCRIPT FLUSH (NOSCRIPT)', async () => {
    await leases.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false });
    await t.redis.script('FLUSH');
    expect((await leases.renew('pod-a', 5000, [{ guildId: G, epoch: 1 }])).lost).toEqual([]);
  });

  it('reloads after a Redis restart', async () => {
    const priv = await startPrivateRedis();
    const redis = new Redis(priv.url, { maxRetriesPerRequest: 5 });
    try {
      const keys = createKeys('lh:');
      const client = new LeaseClient(redis, new Scripts(redis), keys, 1000);
      expect(await client.claim(G, 'pod-a', { floor: 0, ttlMs: 5000, waitedFullTtl: false })).toMatchObject({ ok: true, epoch: 1 });
      await priv.restartEmpty();
      await waitFor('reconnect', async () => (await redis.ping()) === 'PONG');
      // The restarted Redis is empty: the epoch must come from the Postgres floor, never go back.
      expect(await client.claim(G, 'pod-a', { floor: 1, ttlMs: 5000, waitedFullTtl: true })).toMatchObject({ ok: true, epoch: 2 });
    } finally {
      redis.disconnect();
      await priv.stop();
    }
  });
});

describe('pins and cordons', () => {
  it('pin, unpin, cordon and uncordon are recorded in the event stream', async () => {
    expect(await controls.setPin(G, 'pod-a')).toBeUndefined();
    expect(await controls.setPin(G, 'pod-b')).toBe('pod-a');
    expect(await controls.setPin(G, undefined)).toBe('pod-b');
    expect(await controls.setCordon('pod-a', 'maintenance')).toBe(false);
    expect([...(await controls.readCordons())]).toEqual([['pod-a', 'maintenance']]);
    expect(await controls.setCordon('pod-a', undefined)).toBe(true);
    expect((await events()).map((e) => `${e.type}:${e.owner}:${e.from ?? ''}`)).toEqual(['pin:pod-a:', 'pin:pod-b:pod-a', 'unpin::pod-b', 'cordon:pod-a:', 'uncordon:pod-a:']);
    await expect(controls.setPin(G, 'bad pod')).rejects.toThrow(/BadArgument/);
  });
});

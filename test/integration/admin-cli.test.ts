import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClusterClient } from '../../src/cluster/client.js';
import { MemberClient } from '../../src/cluster/members.js';
import { createAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { testRedis, testSchema, type TestRedis, type TestSchema } from '../helpers/services.js';
import { runCli } from '../helpers/cli.js';

const G = '123456789012345678';
let t: TestRedis;
let s: TestSchema;
let store: AssignmentStore;
let env: Record<string, string>;

beforeEach(async () => {
  t = await testRedis();
  s = await testSchema();
  store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
  await store.migrate();
  env = { REDIS_URL: t.url, DATABASE_URL: s.url, DATABASE_SCHEMA: s.schema, KEY_PREFIX: t.prefix, LOG_LEVEL: 'silent' };
  // One live gateway holding one guild.
  const cluster = createClusterClient(t.redis, t.prefix, 1000);
  await new MemberClient(t.redis, cluster.scripts, cluster.keys, 'gw-1', 60_000, 1000).heartbeat({ addr: '127.0.0.1:9001', role: 'gateway', version: 't', ring: 'v1:400:fnv1a', ready: true, draining: false });
  await cluster.leases.claim(G, 'gw-1', { floor: 0, ttlMs: 60_000, waitedFullTtl: false });
  await store.commitEpoch(G, 'gw-1', 1, 'claim');
});
afterEach(async () => {
  await store.close();
  await t.cleanup();
  await s.cleanup();
});

describe('leasehold admin', () => {
  it('status shows members, guild counts and shares', async () => {
    const r = await runCli(['admin', 'status'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/guilds: 1 known, 1 owned, 0 unowned/);
    expect(r.stdout).toMatch(/gw-1\s+gateway\s+127\.0\.0\.1:9001\s+1\s+100\.0%/);
    const j = await runCli(['admin', '--json', 'status'], env);
    expect(JSON.parse(j.stdout)).toMatchObject({ members: [{ id: 'gw-1', guilds: 1 }], guilds: { known: 1, owned: 1 } });
  });

  it('lease shows owner, TTL and the Postgres record; an unknown or malformed guild exits 1 with a reason', async () => {
    const r = await runCli(['admin', 'lease', G], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lease: +gw-1 epoch 1, ttl \d+ ms/);
    expect(r.stdout).toMatch(/Postgres committed 1/);
    const unknown = await runCli(['admin', 'lease', '223456789012345678'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/never seen it/);
    const bad = await runCli(['admin', '--json', 'lease', 'abc'], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({ error: { code: 'BAD_GUILD_ID', message: expect.stringMatching(/not a guild id/) } });
  });

  it('pin and unpin write Redis and Postgres; pinning to an unknown pod is refused', async () => {
    expect((await runCli(['admin', 'pin', G, 'gw-9'], env)).code).toBe(1);
    const r = await runCli(['admin', 'pin', G, 'gw-1'], env);
    expect(r.code).toBe(0);
    expect(await t.redis.get(t.keys.pin(G))).toBe('gw-1');
    expect((await store.listPins()).get(G)).toBe('gw-1');
    expect((await runCli(['admin', 'unpin', G], env)).stdout).toMatch(/unpinned .* \(was gw-1\)/);
    expect(await t.redis.exists(t.keys.pin(G))).toBe(0);
  });

  it('release deletes the lease and says when it becomes claimable; a second release exits 1', async () => {
    const r = await runCli(['admin', 'release', G], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/released .* \(was gw-1 epoch 1\).*until/);
    expect(await t.redis.exists(t.keys.lease(G))).toBe(0);
    expect((await runCli(['admin', 'release', G], env)).code).toBe(1);
  });

  it('cordon and uncordon', async () => {
    expect((await runCli(['admin', 'cordon', 'gw-1', 'disk', 'swap'], env)).stdout).toMatch(/cordoned: gw-1/);
    expect(await t.redis.get(t.keys.cordon('gw-1'))).toBe('disk swap');
    expect((await store.listCordons()).get('gw-1')).toBe('disk swap');
    expect((await runCli(['admin', 'status'], env)).stdout).toMatch(/cordoned \(disk swap\)/);
    expect((await runCli(['admin', 'uncordon', 'gw-1'], env)).stdout).toMatch(/uncordoned gw-1/);
  });

  it('says Redis is unreachable with exit 3, and a bad variable with exit 2', async () => {
    const down = await runCli(['admin', 'status'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/Redis unreachable at redis:\/\/127\.0\.0\.1:1/);
    const bad = await runCli(['admin', 'status'], { ...env, LEASE_TTL_MS: 'soon' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/LEASE_TTL_MS: expected a whole number/);
  });

  it('usage errors exit 2; --help lists commands and variables', async () => {
    expect((await runCli(['admin', 'frobnicate'], env)).code).toBe(2);
    const help = await runCli(['admin', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout + help.stderr).toMatch(/release <guild>[\s\S]*REDIS_URL/);
    const top = await runCli(['nonsense'], env);
    expect(top.code).toBe(2);
    expect(top.stderr).toMatch(/unknown role "nonsense"/);
  });
});


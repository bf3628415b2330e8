// Discord's limits held by the whole cluster, end to end: four real gateway processes started at
// once identify every shard without one identify refused (the throttle is shared through Redis),
// and their side effects together stay under the stand-in's global REST limit (the budget is
// shared too). A per-pod throttle or limiter fails both: four pods would each spend the budget.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApplicationCommandOptionType } from 'discord-api-types/v10';
import { startSim, type Sim } from '../../src/sim/index.js';
import { IDENTIFY_TOLERANCE_MS } from '../../src/sim/gateway/identify-limits.js';
import { createClusterClient } from '../../src/cluster/client.js';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../helpers/services.js';
import { killGroup, startRole, type RoleProcess } from '../helpers/processes.js';

const GUILDS = 40;
const SHARDS = 4;
const MAX_CONCURRENCY = 2;
/** Discord's is 5 s; 1 s keeps the test short, and the sim and the gateways are told the same. */
const IDENTIFY_WINDOW_MS = 1000;
/** Discord's global REST limit is 50/s; the stand-in and the gateways are told 10/s. */
const GLOBAL_LIMIT = 10;
const PODS = ['gw-1', 'gw-2', 'gw-3', 'gw-4'];

let t: TestRedis;
let s: TestSchema;
let sim: Sim;
let dir: string;
let procs: RoleProcess[] = [];

function env(podId: string, role: 'gateway' | 'http'): Record<string, string> {
  const common = {
    REDIS_URL: t.url,
    DATABASE_URL: s.url,
    DATABASE_SCHEMA: s.schema,
    KEY_PREFIX: t.prefix,
    POD_ID: podId,
    DISCORD_API_URL: sim.restUrl,
    DISCORD_APPLICATION_ID: sim.applicationId,
    INTERNAL_SECRET: 'e2e-internal-secret',
    RECONCILE_EVERY_MS: '1000',
    LOG_LEVEL: 'info',
  };
  if (role === 'http') return { ...common, DISCORD_PUBLIC_KEY: sim.publicKey, ADMIN_TOKEN: 'e2e-admin-token' };
  return {
    ...common,
    DISCORD_TOKEN: 'test-token',
    DATA_DIR: join(dir, podId),
    REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href,
    LEASE_TTL_MS: '3000',
    IDENTIFY_WINDOW_MS: String(IDENTIFY_WINDOW_MS),
    DISCORD_GLOBAL_RATE_LIMIT: String(GLOBAL_LIMIT),
  };
}

function start(podId: string, role: 'gateway' | 'http'): RoleProcess {
  const p = startRole(podId, [role], env(podId, role));
  procs.push(p);
  return p;
}

const isReady = (l: { msg?: string }) => l.msg === 'all Discord sessions ready';

beforeEach(async () => {
  t = await testRedis();
  s = await testSchema();
  dir = mkdtempSync(join(tmpdir(), 'lh-limits-'));
  sim = await startSim({ guilds: GUILDS, shards: SHARDS, seed: 23, maxConcurrency: MAX_CONCURRENCY, identifyWindowMs: IDENTIFY_WINDOW_MS, globalRateLimit: GLOBAL_LIMIT, heartbeatIntervalMs: 5000 });
  procs = [];
});

afterEach(async () => {
  for (const p of procs) killGroup(p);
  await Promise.all(procs.map((p) => p.exited));
  await sim.close();
  await t.cleanup();
  await s.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('Discord limits across four gateways', () => {
  it('four gateways starting at once identify every shard with no identify refused, and their alerts together stay under the global REST limit', async () => {
    // All four at once: 16 sessions over 2 identify buckets.
    const gateways = PODS.map((p) => start(p, 'gateway'));
    await Promise.all(gateways.map((g) => g.waitForLine('all Discord sessions ready', isReady, 60_000)));
    const c = sim.state.counters();
    expect(c.identifiesRateLimited).toBe(0);
    expect(c.identifiesOverDailyLimit).toBe(0);
    expect(c.identifies).toBe(PODS.length * SHARDS);
    expect(c.closeCodes['4008'] ?? 0).toBe(0);
    const readies = sim.state.sessions().filter((x) => x.status === 'connected');
    expect(readies).toHaveLength(PODS.length * SHARDS);
    // Both buckets were used (max_concurrency 2 lets two identifies run at once), each at most once a window.
    for (let bucket = 0; bucket < MAX_CONCURRENCY; bucket++) {
      const times = readies.filter((x) => x.shard[0] % MAX_CONCURRENCY === bucket).map((x) => x.identifiedAt).sort((a, b) => a - b);
      expect(times).toHaveLength((PODS.length * SHARDS) / MAX_CONCURRENCY);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(IDENTIFY_WINDOW_MS - IDENTIFY_TOLERANCE_MS);
    }

    // Every guild gets /setup through the edge: alerts for "alarm" go to its last channel.
    const edge = start('http-1', 'http');
    await edge.waitForLine('listening', (l) => l.msg === 'listening');
    const url = `${String(edge.lines.find((l) => l.msg === 'listening')?.['url'])}/interactions`;
    // Owned, and spread over all four: the pods that joined last take their share by handoff a
    // moment after the first ones owned every guild (a wait for "owned" alone raced with that).
    await waitFor('every guild owned, by all four pods', async () => {
      const leases = (await createClusterClient(t.redis, t.prefix, 1000).leases.scanAll()).leases;
      return (leases.length === GUILDS && new Set(leases.map((l) => l.owner)).size === PODS.length) || undefined;
    }, 60_000, 200);
    await edge.waitForLine('ready', () => true);
    const guilds = sim.state.guilds();
    const setups = await Promise.all(
      guilds.map((g) =>
        sim.sendInteraction({
          url,
          guildId: g.id,
          kind: 'command',
          name: 'setup',
          options: [
            { name: 'log_channel', type: ApplicationCommandOptionType.Channel, value: g.channelIds[g.channelIds.length - 1]! },
            { name: 'alert_keywords', type: ApplicationCommandOptionType.String, value: 'alarm' },
          ],
        }),
      ),
    );
    expect(setups.filter((r) => r.failed).map((r) => `${r.guildId} ${r.status} ${r.error ?? ''}`)).toEqual([]);
    const owners = new Set((await createClusterClient(t.redis, t.prefix, 1000).leases.scanAll()).leases.map((l) => l.owner));
    expect(owners.size).toBe(PODS.length); // every pod posts its share

    // Three alerts per guild in one burst: 120 posts, which four pods with a budget each would
    // send at 4 × 10/s. Shared, they take ≥ 12 s at 10/s.
    const before = sim.state.counters();
    const burstAt = Date.now();
    for (let round = 0; round < 3; round++) for (const g of guilds) sim.postMessage({ guildId: g.id, content: `alarm ${round} in ${g.name}` });
    const alertPosts = () => sim.log.effects().filter((e) => e.method === 'POST' && e.route === '/channels/:channel/messages' && e.status === 200 && e.at >= burstAt);
    await waitFor('every alert posted', () => alertPosts().length >= GUILDS * 3 || undefined, 90_000, 250);
    const after = sim.state.counters();
    const posts = alertPosts();
    console.info(`alerts: ${posts.length} posted in ${((Math.max(...posts.map((e) => e.at)) - burstAt) / 1000).toFixed(1)} s by ${new Set(posts.map((e) => e.userAgent)).size} pods; REST requests ${after.restRequests - before.restRequests}, 429s ${after.rest429 - before.rest429} (global ${after.rest429Global})`);
    expect(after.rest429Global).toBe(0);
    expect(new Set(posts.map((e) => e.userAgent.match(/leasehold\/([\w.-]+)/)?.[1])).size).toBe(PODS.length);
    // Each guild's three alerts arrived once each (nonces are per event).
    const perGuild = new Map<string, Set<string>>();
    for (const e of posts) perGuild.set(e.guildId ?? '', (perGuild.get(e.guildId ?? '') ?? new Set()).add(String(e.nonce)));
    expect([...perGuild.values()].map((n) => n.size)).toEqual(guilds.map(() => 3));
    expect(perGuild.size).toBe(GUILDS);
  }, 180_000);
});

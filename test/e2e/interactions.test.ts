// Interactions end to end: the stand-in signs and sends them to a real http edge, which routes
// each to the guild's owning gateway (real processes). Every one must get its first response
// within Discord's 3 s, and every deferred one its edit — also while an owner is killed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSim, type InteractionRecord, type Sim } from '../../src/sim/index.js';
import { createClusterClient } from '../../src/cluster/client.js';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../helpers/services.js';
import { killGroup, startRole, type RoleProcess } from '../helpers/processes.js';

// Long enough that a failover outlasts the edge's 2.5 s deferral point, so deferral and the late edit run for real.
const TTL = 4000;
const GUILDS = 60;
let t: TestRedis;
let s: TestSchema;
let sim: Sim;
let dir: string;
let procs: RoleProcess[] = [];

const common = () => ({ REDIS_URL: t.url, DATABASE_URL: s.url, DATABASE_SCHEMA: s.schema, KEY_PREFIX: t.prefix, INTERNAL_SECRET: 'e2e-internal-secret', DISCORD_APPLICATION_ID: sim.applicationId, DISCORD_API_URL: sim.restUrl, LOG_LEVEL: 'info' });

async function start(name: string, role: 'gateway' | 'http'): Promise<RoleProcess> {
  const env =
    role === 'gateway'
      ? { ...common(), POD_ID: name, DISCORD_TOKEN: 'test-token', DATA_DIR: join(dir, name), REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href, LEASE_TTL_MS: String(TTL), RECONCILE_EVERY_MS: '1000', IDENTIFY_WINDOW_MS: '100' }
      : { ...common(), POD_ID: name, DISCORD_PUBLIC_KEY: sim.publicKey, ADMIN_TOKEN: 'e2e-admin-token', RECONCILE_EVERY_MS: '1000' };
  const p = startRole(name, [role], env);
  procs.push(p);
  await p.waitForLine('listening', (l) => l.msg === 'listening');
  return p;
}

const url = (p: RoleProcess) => `${String(p.lines.find((l) => l.msg === 'listening')?.['url'])}/interactions`;

async function ownedCount(): Promise<number> {
  return (await createClusterClient(t.redis, t.prefix, 1000).leases.scanAll()).leases.length;
}

/** The stand-in's current view of each interaction (records returned by sendInteraction are snapshots). */
function current(records: readonly InteractionRecord[]): InteractionRecord[] {
  const live = new Map(sim.log.interactions().map((r) => [r.id, r]));
  return records.map((r) => live.get(r.id) ?? r);
}

function summarize(snapshots: readonly InteractionRecord[]) {
  const records = current(snapshots);
  return {
    sent: records.length,
    failed: records.filter((r) => r.failed).map((r) => `${r.id} ${r.name} status=${r.status} ${r.latencyMs}ms ${r.error ?? ''}`),
    deferred: records.filter((r) => r.deferred).length,
    deferredWithoutEdit: records.filter((r) => r.deferred && !r.followedUp).map((r) => r.id),
  };
}

beforeEach(async () => {
  t = await testRedis();
  s = await testSchema();
  dir = mkdtempSync(join(tmpdir(), 'lh-int-'));
  sim = await startSim({ guilds: GUILDS, shards: 2, seed: 11, identifyWindowMs: 100, heartbeatIntervalMs: 5000 });
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

describe('interactions through the edge to the owners', () => {
  it('every guild’s /stats is answered by its owner within 3 s, also while an owner is killed', async () => {
    for (const g of ['gw-1', 'gw-2', 'gw-3']) await start(g, 'gateway');
    const edge = await start('http-1', 'http');
    await waitFor('every guild owned', async () => (await ownedCount()) === GUILDS || undefined, 60_000, 200);
    await edge.waitForLine('ready', () => true);
    const guilds = sim.state.snapshot().guilds.map((g) => g.id);

    // Steady state: one /stats per guild.
    const calm = await Promise.all(guilds.map((guildId) => sim.sendInteraction({ url: url(edge), guildId, kind: 'command', name: 'stats' })));
    expect(summarize(calm).failed).toEqual([]);
    expect(calm.every((r) => r.status === 200 && (r.responseType === 4 || r.responseType === 5))).toBe(true);

    // kill -9 of an owner while interactions for its guilds keep coming.
    const victimGuilds = (await createClusterClient(t.redis, t.prefix, 1000).leases.scanAll()).leases.filter((l) => l.owner === 'gw-1').map((l) => l.guildId);
    expect(victimGuilds.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    killGroup(procs[0]!, 'SIGKILL');
    const during: InteractionRecord[] = [];
    while (Date.now() - killedAt < TTL + 4000) {
      during.push(...(await Promise.all(victimGuilds.slice(0, 20).map((guildId) => sim.sendInteraction({ url: url(edge), guildId, kind: 'command', name: 'stats' })))));
    }
    const all = [...calm, ...during];
    await waitFor('every deferred interaction edited', () => summarize(all).deferredWithoutEdit.length === 0 || undefined, 30_000, 250).catch(() => undefined);
    const sum = summarize(all);
    if (sum.deferredWithoutEdit.length > 0) {
      const id = sum.deferredWithoutEdit[0]!;
      const lines = procs.flatMap((p) => p.lines.filter((l) => JSON.stringify(l).includes(id) || (l.level === 'warn' && p.name !== 'http-1' && String(l.msg).includes('nteraction'))).map((l) => `${p.name} ${JSON.stringify(l).slice(0, 400)}`));
      const hooks = sim.log.effects().filter((e) => e.route.includes('webhooks')).map((e) => `${e.method} ${e.route} ${e.status} ${e.interactionId ?? ''}`);
      console.info(`DEBUG ${id}:\n${lines.slice(0, 15).join('\n')}\nwebhook effects: ${hooks.length}\n${hooks.slice(0, 5).join('\n')}`);
    }
    console.info(`interactions: ${sum.sent} sent, ${sum.deferred} deferred, ${sum.failed.length} failed, ${sum.deferredWithoutEdit.length} deferred without edit`);
    expect(sum.failed).toEqual([]);
    expect(sum.deferredWithoutEdit).toEqual([]);
    // An apology ("could not handle this right now") is a 200 to Discord but a failure to us.
    const metrics = await (await fetch(url(edge).replace('/interactions', '/metrics'))).text();
    const outcome = (o: string) => Number(new RegExp(`leasehold_interactions_total\\{[^}]*outcome="${o}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    console.info(`edge outcomes: answered ${outcome('answered')}, deferred ${outcome('deferred')}, failed ${outcome('failed')}`);
    expect(outcome('failed')).toBe(0);
    expect(outcome('answered') + outcome('deferred')).toBe(sum.sent);
  });

  it('a forged or tampered interaction is refused with 401 and changes nothing', async () => {
    await start('gw-1', 'gateway');
    const edge = await start('http-1', 'http');
    await waitFor('every guild owned', async () => (await ownedCount()) === GUILDS || undefined, 60_000, 200);
    const guildId = sim.state.snapshot().guilds[0]!.id;
    const bad = await sim.sendInteraction({ url: url(edge), guildId, kind: 'command', name: 'stats', badSignature: true });
    expect(bad.status).toBe(401);
    expect(bad.failed).toBe(false); // Discord's probe expects exactly this
  });
});

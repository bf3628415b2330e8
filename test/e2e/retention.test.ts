// GUILD_DELETE end to end: the owner releases the guild and its retention clock starts in
// Postgres; once the retention has passed, one gateway deletes its replica paths and every
// gateway its local files, and the deletion is logged. A guild the bot rejoined keeps its data.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSim, type Sim } from '../../src/sim/index.js';
import { createClusterClient } from '../../src/cluster/client.js';
import { createAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../helpers/services.js';
import { killGroup, startRole, type RoleProcess } from '../helpers/processes.js';

const GUILDS = 12;
const RETENTION_MS = 4000;

let t: TestRedis;
let s: TestSchema;
let sim: Sim;
let dir: string;
let store: AssignmentStore;
let gateways: RoleProcess[] = [];

function startGateway(podId: string): RoleProcess {
  const g = startRole(podId, ['gateway'], {
    REDIS_URL: t.url,
    DATABASE_URL: s.url,
    DATABASE_SCHEMA: s.schema,
    KEY_PREFIX: t.prefix,
    POD_ID: podId,
    DISCORD_API_URL: sim.restUrl,
    DISCORD_TOKEN: 'test-token',
    DISCORD_APPLICATION_ID: sim.applicationId,
    INTERNAL_SECRET: 'e2e-internal-secret',
    DATA_DIR: join(dir, podId),
    REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href,
    LEASE_TTL_MS: '2000',
    RECONCILE_EVERY_MS: '1000',
    IDENTIFY_WINDOW_MS: '100',
    GUILD_RETENTION_MS: String(RETENTION_MS),
    RETENTION_SWEEP_EVERY_MS: '200',
    LOG_LEVEL: 'info',
  });
  gateways.push(g);
  return g;
}

const replicaEpochs = (guildId: string): string[] => {
  const d = join(dir, 'replicas', 'guilds', guildId);
  return existsSync(d) ? readdirSync(d).filter((n) => /^\d+$/.test(n)) : [];
};
const localFiles = (guildId: string): string[] =>
  gateways.flatMap((g) => {
    const d = join(dir, g.name, 'guilds');
    return existsSync(d) ? readdirSync(d).filter((n) => n.replace(/^\./, '').startsWith(`${guildId}.`)).map((n) => `${g.name}/${n}`) : [];
  });
const logOf = async (guildId: string, kind: string) => (await store.readLog({ guildId })).filter((r) => r.kind === kind);

beforeEach(async () => {
  t = await testRedis();
  s = await testSchema();
  dir = mkdtempSync(join(tmpdir(), 'lh-retention-'));
  sim = await startSim({ guilds: GUILDS, shards: 1, seed: 31, identifyWindowMs: 100, heartbeatIntervalMs: 5000 });
  store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
  gateways = [];
});

afterEach(async () => {
  for (const g of gateways) killGroup(g);
  await Promise.all(gateways.map((g) => g.exited));
  await sim.close();
  await store.close();
  await t.cleanup();
  await s.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('GUILD_DELETE and the retention clock', () => {
  it('a left guild keeps its data for the retention, then loses its replicas and every local file; a rejoined guild keeps its data', async () => {
    for (const p of ['gw-1', 'gw-2']) startGateway(p);
    const cluster = createClusterClient(t.redis, t.prefix, 1000);
    await waitFor('every guild owned', async () => (await cluster.leases.scanAll()).leases.length === GUILDS || undefined, 60_000, 200);
    const [gone, back] = sim.state.guilds().map((g) => g.id);
    if (!gone || !back) throw new Error('the stand-in has too few guilds');
    // Data in both, replicated: data_epoch recorded and a replica path on disk.
    for (const g of [gone, back]) for (let i = 0; i < 5; i++) sim.postMessage({ guildId: g, content: `hello ${i}` });
    await waitFor('both replicated', async () => (await Promise.all([gone, back].map(async (g) => (await store.getAssignment(g))?.dataEpoch != null && replicaEpochs(g).length > 0))).every(Boolean) || undefined, 30_000, 200);
    const goneOwner = (await cluster.leases.read(gone)).lease?.owner;
    expect(goneOwner).toBeDefined();

    // The bot is removed from both; it is added back to one of them at once.
    sim.removeGuild(gone);
    sim.removeGuild(back);
    const removedAt = Date.now();
    await waitFor('both released as left', async () => (await Promise.all([gone, back].map(async (g) => (await store.getAssignment(g))?.state === 'left'))).every(Boolean) || undefined, 10_000, 50);
    sim.createGuild({ id: back });
    const left = await store.getAssignment(gone);
    expect(left).toMatchObject({ state: 'left', owner: null });
    expect(left?.leftAt).toBeInstanceOf(Date);
    expect((await cluster.leases.read(gone)).lease).toBeUndefined();
    // Inside the retention nothing is deleted.
    expect(replicaEpochs(gone).length).toBeGreaterThan(0);
    expect(localFiles(gone).length).toBeGreaterThan(0);

    await waitFor('the rejoined guild owned again', async () => (await cluster.leases.read(back)).lease !== undefined || undefined, 20_000, 100);
    const purged = await waitFor('the left guild purged', async () => (await logOf(gone, 'purged'))[0], RETENTION_MS + 20_000, 100);
    expect(Date.now() - removedAt).toBeGreaterThanOrEqual(RETENTION_MS);
    expect(replicaEpochs(gone)).toEqual([]);
    await waitFor('every local file of the left guild deleted', () => localFiles(gone).length === 0 || undefined, 5000, 100);
    const row = await store.getAssignment(gone);
    expect(row).toMatchObject({ state: 'left', dataEpoch: null });
    expect(purged.detail).toMatchObject({ retentionMs: RETENTION_MS, replicasUnsupported: false });
    expect((purged.detail as { replicaEpochs: number[] }).replicaEpochs.length).toBeGreaterThan(0);
    expect(gateways.some((g) => g.lines.some((l) => l.msg === 'left guild past its retention: replicas deleted' && l['guild'] === gone))).toBe(true);

    // The rejoined guild: active, its clock cleared, its data kept, though it left at the same
    // moment as the purged one (so its retention passed too).
    expect(gateways.flatMap((g) => g.lines.filter((l) => l.msg === 'retention sweep failed'))).toEqual([]);
    const rejoined = await store.getAssignment(back);
    expect(rejoined).toMatchObject({ state: 'active', leftAt: null });
    expect(rejoined?.dataEpoch).not.toBeNull();
    expect(replicaEpochs(back).length).toBeGreaterThan(0);
    expect(await logOf(back, 'purged')).toEqual([]);
    // Only one pod purged it (the lock, then purged_at).
    expect(await logOf(gone, 'purged')).toHaveLength(1);
  }, 120_000);
});

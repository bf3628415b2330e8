// `leasehold admin restore <guild> [--at <time>]` against a real gateway process, real Litestream
// replicas, Redis and Postgres: the guild is paused on its owner, moved to a new epoch, its data
// replaced by the replica's state at the given time, and what arrived during the pause applied.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { startSim, type Sim } from '../../src/sim/index.js';
import { createClusterClient } from '../../src/cluster/client.js';
import { createAssignmentStore } from '../../src/store/index.js';
import { testRedis, testSchema, waitFor, type TestRedis, type TestSchema } from '../helpers/services.js';
import { killGroup, startRole, type RoleProcess } from '../helpers/processes.js';
import { readApplications } from '../helpers/history.js';
import { runCli } from '../helpers/cli.js';

const SECRET = 'e2e-internal-secret';
let t: TestRedis;
let s: TestSchema;
let sim: Sim;
let dir: string;
let gw: RoleProcess | undefined;

const adminEnv = (extra: Record<string, string> = {}) => ({ REDIS_URL: t.url, DATABASE_URL: s.url, DATABASE_SCHEMA: s.schema, KEY_PREFIX: t.prefix, INTERNAL_SECRET: SECRET, LOG_LEVEL: 'silent', ...extra });
const applied = () => readApplications([join(dir, 'gw-1', 'history', 'gw-1.jsonl')]).filter((a) => a.outcome !== 'duplicate');

/** Message dedupe keys in the guild's live database file (read-only beside the gateway). */
function keysInDb(guildId: string): Set<string> {
  const db = new Database(join(dir, 'gw-1', 'guilds', `${guildId}.sqlite3`), { readonly: true, fileMustExist: true });
  try {
    return new Set(db.prepare<[], { key: string }>("SELECT key FROM dedupe WHERE key LIKE 'msg:%'").all().map((r) => r.key));
  } finally {
    db.close();
  }
}

/** Newest modification time of any file under the guild's replica paths (every epoch). */
function newestReplicaWrite(guildId: string): number {
  let newest = 0;
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const f = join(p, name);
      const st = statSync(f);
      if (st.isDirectory()) walk(f);
      else if (!name.endsWith('.tmp')) newest = Math.max(newest, st.mtimeMs);
    }
  };
  const root = join(dir, 'replicas', 'guilds', guildId);
  if (existsSync(root)) walk(root);
  return newest;
}

/** Post `n` messages and wait until every one is applied and shipped to the replica. */
async function postReplicated(guildId: string, n: number): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `msg:${sim.postMessage({ guildId, content: `message ${i}` }).id}`);
  await waitFor('the messages applied', () => keys.every((k) => applied().some((a) => a.key === k)) || undefined, 15_000, 50);
  const appliedAt = Math.max(...applied().filter((a) => keys.includes(a.key)).map((a) => a.at));
  await waitFor('Litestream to ship them', () => newestReplicaWrite(guildId) > appliedAt || undefined, 15_000, 50);
  return keys;
}

beforeEach(async () => {
  t = await testRedis();
  s = await testSchema();
  dir = mkdtempSync(join(tmpdir(), 'lh-restore-'));
  sim = await startSim({ guilds: 3, shards: 1, seed: 11, identifyWindowMs: 100 });
  gw = startRole('gw-1', ['gateway'], {
    ...adminEnv({ LOG_LEVEL: 'info' }),
    POD_ID: 'gw-1',
    DISCORD_API_URL: sim.restUrl,
    DISCORD_TOKEN: 'test-token',
    DISCORD_APPLICATION_ID: sim.applicationId,
    DATA_DIR: join(dir, 'gw-1'),
    REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href,
    LEASE_TTL_MS: '3000',
    RECONCILE_EVERY_MS: '1000',
    IDENTIFY_WINDOW_MS: '100',
    LITESTREAM_MONITOR_INTERVAL_MS: '100',
    // These tests wait for Litestream to ship each step before restoring to a time between them.
    // The default niceness lets replication lag under CPU contention (by design), and a clean-clone
    // run with four gateways starting beside it once waited past 15 s; the subject here is the
    // restore, not the scheduling.
    LITESTREAM_NICE: '0',
  });
  await gw.waitForLine('listening', (l) => l.msg === 'listening');
  await gw.waitForLine('every guild live', () => gw!.count((l) => l.msg === 'guild live') >= 3, 30_000);
});

afterEach(async () => {
  if (gw) {
    killGroup(gw);
    await gw.exited;
  }
  await sim.close();
  await t.cleanup();
  await s.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('admin restore', () => {
  it('--at rolls the guild back to that time on its owner, pausing it, and loses nothing that arrived meanwhile', async () => {
    const guildId = sim.state.guilds()[0]!.id;
    const cluster = createClusterClient(t.redis, t.prefix, 1000);
    const before = (await cluster.leases.read(guildId)).lease!;

    const kept = await postReplicated(guildId, 5);
    const at = new Date(Date.now());
    await waitFor('a moment after the restore point', () => Date.now() > at.getTime() + 20 || undefined, 1000, 5);
    const rolledBack = await postReplicated(guildId, 4);
    expect([...keysInDb(guildId)].filter((k) => rolledBack.includes(k))).toHaveLength(4);

    // Messages keep coming while the restore runs: the ones that arrive during the pause must be applied after it.
    let posting = true;
    const during: string[] = [];
    const poster = (async () => {
      while (posting) {
        during.push(`msg:${sim.postMessage({ guildId, content: 'during the restore' }).id}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const r = await runCli(['admin', '--json', 'restore', guildId, '--at', at.toISOString()], adminEnv(), 60_000);
    posting = false;
    await poster;
    expect(r.stderr).toMatch(/restoring .* as it was at/);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { owner: string; fromEpoch: number; epoch: number; at: string; replayed: number; pauseMs: number; movedAside: string | null };
    expect(report).toMatchObject({ owner: 'gw-1', fromEpoch: before.epoch, at: at.toISOString() });
    expect(report.epoch).toBeGreaterThan(before.epoch);
    expect(report.movedAside).toBeTruthy();

    const after = await postReplicated(guildId, 3);
    const db = keysInDb(guildId);
    // The state as it was at `at`…
    for (const k of kept) expect(db.has(k)).toBe(true);
    for (const k of rolledBack) expect(db.has(k)).toBe(false);
    // …plus everything applied under the new epoch (what arrived during the pause, then after it).
    const underNew = applied().filter((a) => a.guild === guildId && a.epoch === report.epoch).map((a) => a.key);
    expect(underNew.length).toBeGreaterThanOrEqual(after.length);
    for (const k of underNew) expect(db.has(k)).toBe(true);
    for (const k of after) expect(db.has(k)).toBe(true);
    // Every message of the guild is either in the database or was applied before the pause (and rolled back with it).
    const pausedAt = Date.parse(String(gw!.lines.find((l) => l.msg === 'restore: guild paused, lease moved to a new epoch')?.['time']));
    for (const k of during) {
      const firstApp = applied().find((a) => a.key === k);
      expect(firstApp, `${k} was never applied`).toBeDefined();
      if (!db.has(k)) expect(firstApp!.epoch === before.epoch && firstApp!.at <= pausedAt, `${k} missing from the restored guild`).toBe(true);
    }

    // The lease moved to the new epoch, and Postgres logged it as a restore.
    expect((await cluster.leases.read(guildId)).lease).toMatchObject({ owner: 'gw-1', epoch: report.epoch });
    const store = createAssignmentStore({ databaseUrl: s.url, schema: s.schema });
    try {
      const log = await store.readLog({ guildId, limit: 100 });
      expect(log.some((e) => e.kind === 'restore' && e.epoch === report.epoch && e.owner === 'gw-1')).toBe(true);
      await waitFor('data_epoch to reach the new epoch', async () => ((await store.getAssignment(guildId))?.dataEpoch === report.epoch) || undefined, 15_000, 100);
    } finally {
      await store.close();
    }
  });

  it('without --at restores the latest replicated state: nothing is lost', async () => {
    const guildId = sim.state.guilds()[1]!.id;
    const keys = await postReplicated(guildId, 6);
    const r = await runCli(['admin', 'restore', guildId], adminEnv(), 60_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`restored ${guildId} on gw-1: epoch \\d+ → \\d+`));
    const db = keysInDb(guildId);
    for (const k of keys) expect(db.has(k)).toBe(true);
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const guildId = sim.state.guilds()[2]!.id;
    const cluster = createClusterClient(t.redis, t.prefix, 1000);
    const lease = (await cluster.leases.read(guildId)).lease!;
    const cases: { args: string[]; env?: Record<string, string>; code: number; err: RegExp }[] = [
      { args: ['restore', guildId, '--at', 'yesterday-ish'], code: 2, err: /is not a time/ },
      { args: ['restore', guildId, '--at', '2999-01-01T00:00:00Z'], code: 2, err: /in the future/ },
      { args: ['restore', 'not-a-guild'], code: 1, err: /is not a guild id/ },
      { args: ['restore', '123456789012345678'], code: 1, err: /has no owner right now/ },
      { args: ['restore', guildId], env: { INTERNAL_SECRET: '' }, code: 2, err: /INTERNAL_SECRET/ },
      { args: ['restore', guildId], env: { NO_SECRET: '1' }, code: 2, err: /set INTERNAL_SECRET/ },
      { args: ['restore', guildId], env: { INTERNAL_SECRET: 'a-wrong-secret' }, code: 1, err: /BAD_SIGNATURE|signature/i },
      { args: ['restore', guildId, '--at', '1h'], code: 1, err: /restore of guild .* failed/ },
    ];
    for (const c of cases) {
      const env: Record<string, string> = adminEnv(c.env);
      if (env['NO_SECRET']) delete env['INTERNAL_SECRET'];
      const r = await runCli(['admin', ...c.args], env, 60_000);
      expect({ args: c.args, code: r.code }).toEqual({ args: c.args, code: c.code });
      expect(r.stderr).toMatch(c.err);
    }
    // A restore to a time before the replica existed fails on the owner; the guild keeps serving its data.
    const now = (await cluster.leases.read(guildId)).lease!;
    expect(now.owner).toBe('gw-1');
    const k = `msg:${sim.postMessage({ guildId, content: 'still served' }).id}`;
    await waitFor('the guild to serve again', () => applied().some((a) => a.key === k && a.epoch === now.epoch) || undefined, 15_000, 50);
    expect(now.epoch).toBeGreaterThanOrEqual(lease.epoch);
  });
});

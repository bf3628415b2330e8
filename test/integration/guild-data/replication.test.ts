// Replication, restore and data_epoch with the real litestream binary (v0.3.13), file replicas
// in a temp directory and the real assignment store in Postgres.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metrics } from '../../../src/metrics.js';
import { activityStats, countMessage, litestreamBin, RestoreError, type GuildData, type GuildKysely } from '../../../src/guild-data/index.js';
import { GuildDatabases } from '../../../src/guild-data/guild-databases.js';
import { waitFor } from '../../helpers/services.js';
import { newGuildId, tempDirs, testFence, testGuildData, testStore, type TempDirs, type TestStore } from './helpers.js';

let dirs: TempDirs;
let ts: TestStore;
let running: GuildData[];

beforeEach(async () => {
  dirs = tempDirs();
  ts = await testStore();
  running = [];
});
afterEach(async () => {
  await Promise.all(running.map((gd) => gd.stop()));
  await ts.cleanup();
  dirs.cleanup();
});

/** A gateway's guild data on its own volume. `crashBackoffMs` large = a Litestream that stays dead. */
function pod(name: string, extra: { crashBackoffMs?: number; idleCloseMs?: number; sweepEveryMs?: number; monitorIntervalMs?: number; syncIntervalMs?: number; groupSize?: number; bin?: string; quietMs?: number; releasedAfterMs?: number } = {}): GuildData {
  const gd = testGuildData({
    dataDir: dirs.dataDir(name),
    replicaUrl: dirs.replicaUrl,
    store: ts.store,
    ...(extra.idleCloseMs !== undefined ? { idleCloseMs: extra.idleCloseMs } : {}),
    ...(extra.sweepEveryMs !== undefined ? { sweepEveryMs: extra.sweepEveryMs } : {}),
    replication: {
      ...(extra.crashBackoffMs !== undefined ? { backoff: { initialMs: extra.crashBackoffMs, maxMs: extra.crashBackoffMs } } : {}),
      ...(extra.monitorIntervalMs !== undefined ? { monitorIntervalMs: extra.monitorIntervalMs } : {}),
      ...(extra.syncIntervalMs !== undefined ? { syncIntervalMs: extra.syncIntervalMs } : {}),
      ...(extra.groupSize !== undefined ? { groupSize: extra.groupSize } : {}),
      ...(extra.bin !== undefined ? { bin: extra.bin } : {}),
      ...(extra.quietMs !== undefined ? { quietMs: extra.quietMs } : {}),
      ...(extra.releasedAfterMs !== undefined ? { releasedAfterMs: extra.releasedAfterMs } : {}),
    },
  });
  running.push(gd);
  return gd;
}

/** Claim like a gateway: commit the epoch in Postgres, then restore under it. */
async function claim(gd: GuildData, guildId: string, podId: string, epoch: number) {
  await ts.store.commitEpoch(guildId, podId, epoch, 'claim');
  return gd.restoreGuild(guildId, epoch);
}

/** Apply `n` message events (ids from `from`), as the event pipeline would. */
async function writeMessages(gd: GuildData, guildId: string, epoch: number, from: number, n: number, channelId = 'c1'): Promise<void> {
  const fence = testFence(guildId, epoch);
  for (let i = from; i < from + n; i++) {
    await gd.dbs.applyOnce(fence, `msg:${i}`, (trx) => countMessage(trx, { channelId, userId: `u${i}`, day: '2026-01-01' }));
  }
}

const total = (gd: GuildData, guildId: string, epoch: number) => gd.dbs.read(testFence(guildId, epoch), async (db: GuildKysely) => (await activityStats(db)).total);
const dataEpoch = async (guildId: string) => (await ts.store.getAssignment(guildId))?.dataEpoch ?? null;
const replicated = (gd: GuildData, guildId: string) => waitFor(`guild ${guildId} replicated`, () => gd.replication.isReplicated(guildId), 15_000);
const counterValue = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string> = {}) =>
  (await c.get()).values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0);

describe('restore on claim', () => {
  it('rows written before the owner is killed are restored from the data_epoch recorded in Postgres, into a new directory', async () => {
    const g = newGuildId();
    const a = pod('pod-a', { crashBackoffMs: 3_600_000 });
    expect((await claim(a, g, 'pod-a', 1)).source).toBe('empty');
    await writeMessages(a, g, 1, 0, 100);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    await replicated(a, g);
    // Kill the owner: its Litestream dies with SIGKILL (and stays dead), its file is never closed.
    process.kill(a.replication.pidOf(g) as number, 'SIGKILL');
    await waitFor('litestream down', () => a.replication.pids().length === 0);

    const b = pod('pod-b');
    const r = await claim(b, g, 'pod-b', 2);
    expect(r).toMatchObject({ source: 'replica', dataEpoch: 1, epoch: 2, movedAside: undefined });
    expect(await total(b, g, 2)).toBe(100);
    // The dedupe keys came back too: events replayed from the failover buffer are duplicates.
    expect(await b.dbs.applyOnce(testFence(g, 2), 'msg:42', () => undefined)).toMatchObject({ duplicate: true });
  });

  it('a stale local file is moved aside, not kept', async () => {
    const g = newGuildId();
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 10);
    await replicated(a, g);
    expect(await a.release(g)).toBe(true);

    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    await writeMessages(b, g, 2, 10, 5);
    await waitFor('data_epoch 2', async () => (await dataEpoch(g)) === 2, 15_000);
    await replicated(b, g);

    // pod-a claims again: its local file (10 rows, epoch 1) must not be reused.
    const r = await claim(a, g, 'pod-a', 3);
    expect(r.source).toBe('replica');
    expect(r.dataEpoch).toBe(2);
    expect(r.movedAside).toMatch(/\.aside-\d+$/);
    expect(await total(a, g, 3)).toBe(15);
    const aside = new GuildDatabases({ dataDir: join(dirs.root, 'inspect') });
    mkdirSync(aside.paths.guildsDir, { recursive: true });
    const Database = (await import('better-sqlite3')).default;
    const old = new Database(r.movedAside as string, { readonly: true });
    expect((old.prepare('select sum(count) as n from activity').get() as { n: number }).n).toBe(10);
    old.close();
    await aside.stop();
  });

  it('two epochs replicate to their own paths and a restore reads the recorded one only', async () => {
    const g = newGuildId();
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 10, 'from-a');
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    await replicated(a, g);

    // pod-b takes over at epoch 2 while pod-a, paused, has not noticed: both write.
    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    await writeMessages(b, g, 2, 100, 5, 'from-b');
    await writeMessages(a, g, 1, 200, 7, 'stale-a');
    await replicated(a, g);
    await waitFor('data_epoch 2', async () => (await dataEpoch(g)) === 2, 15_000);
    await replicated(b, g);
    expect(a.replication.location(g, 1).path).not.toBe(b.replication.location(g, 2).path);
    expect(await b.replication.target.hasSnapshot(g, 2)).toBe(true);

    const c = pod('pod-c');
    const r = await claim(c, g, 'pod-c', 3);
    expect(r.dataEpoch).toBe(2);
    const stats = await c.dbs.read(testFence(g, 3), (db) => activityStats(db));
    expect(stats.byChannel.map((x) => [x.channelId, x.count]).sort()).toEqual([
      ['from-a', 10],
      ['from-b', 5],
    ]);
  });

  it('an owner that died before data_epoch moved to its path is restored from that path, not from the older state', async () => {
    const g = newGuildId();
    // pod-a's writes reach its epoch-1 path, but it dies before recording data_epoch 1.
    const neverAdvances = { getAssignment: (id: string) => ts.store.getAssignment(id), advanceDataEpoch: async () => false };
    const a = testGuildData({ dataDir: dirs.dataDir('pod-a'), replicaUrl: dirs.replicaUrl, store: neverAdvances });
    running.push(a);
    await ts.store.commitEpoch(g, 'pod-a', 1, 'claim');
    await a.restoreGuild(g, 1);
    await writeMessages(a, g, 1, 0, 4);
    await replicated(a, g);
    expect(await a.replication.target.hasSnapshot(g, 1)).toBe(true);
    expect(await dataEpoch(g)).toBeNull();
    // pod-b claims at 3 (epoch 2 was claimed and never got a snapshot): it takes path 1.
    await ts.store.commitEpoch(g, 'pod-x', 2, 'claim');
    const b = pod('pod-b');
    const r = await claim(b, g, 'pod-b', 3);
    expect(r).toMatchObject({ source: 'replica', dataEpoch: 1 });
    expect(await total(b, g, 3)).toBe(4);
  });

  it('a missing replica for a recorded data_epoch fails the claim instead of starting empty, and is retried', async () => {
    const g = newGuildId();
    await ts.store.commitEpoch(g, 'pod-x', 3, 'claim');
    expect(await ts.store.advanceDataEpoch(g, 3)).toBe(true); // recorded, but its replica never existed
    const b = pod('pod-b');
    const failuresBefore = await counterValue(metrics.restoreFailures);
    await ts.store.commitEpoch(g, 'pod-b', 4, 'claim');
    const err = await b.restoreGuild(g, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect(err).toMatchObject({ reason: 'missing', dataEpoch: 3 });
    expect(existsSync(b.dbs.paths.dbFile(g))).toBe(false);
    await expect(b.dbs.write(testFence(g, 4), () => undefined)).rejects.toMatchObject({ code: 'GUILD_NOT_RESTORED' });
    expect(await counterValue(metrics.restoreFailures)).toBeGreaterThan(failuresBefore);

    // Through the queue the claim keeps retrying (with backoff) until it is withdrawn.
    const queued = b.restores.request(g, 4);
    await waitFor('a retry', async () => (await counterValue(metrics.restoreFailures)) >= failuresBefore + 3, 15_000);
    expect(b.restores.stats().retrying + b.restores.stats().running).toBe(1);
    b.restores.cancel(g, new Error('lease lost'));
    await expect(queued).rejects.toThrow('lease lost');
  });
});

describe('data_epoch', () => {
  it('does not move before the new epoch path has a snapshot, and the old path is deleted only after it moves', async () => {
    const g = newGuildId();
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 3);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    await replicated(a, g);
    await a.release(g);

    // Epoch 2's path cannot be written yet (a file stands where its directory goes).
    const blocked = join(dirs.replicaRoot, 'guilds', g, '2');
    writeFileSync(blocked, 'not a directory');
    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    await writeMessages(b, g, 2, 3, 2);
    await waitFor('litestream reports the unwritable path', () => b.health().groups.some((x) => /not a directory/.test(x.lastError ?? '')), 15_000);
    await b.replication.advancer?.checkSoon();
    expect(await dataEpoch(g)).toBe(1);
    expect(await b.replication.target.hasSnapshot(g, 1)).toBe(true);

    rmSync(blocked);
    await writeMessages(b, g, 2, 5, 1); // Litestream retries a failed replica on the next change
    await waitFor('data_epoch 2', async () => (await dataEpoch(g)) === 2, 15_000);
    await waitFor('epoch 1 path deleted', () => !existsSync(join(dirs.replicaRoot, 'guilds', g, '1')), 15_000);
    expect(readdirSync(join(dirs.replicaRoot, 'guilds', g))).toEqual(['2']);
  });
});

describe('replication', () => {
  it('killing Litestream mid-run is recovered by the supervisor and replication catches up', async () => {
    const g = newGuildId();
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 20);
    await replicated(a, g);
    const crashesBefore = await counterValue(metrics.litestreamRestarts, { reason: 'crash' });
    const pid = a.replication.pidOf(g) as number;
    process.kill(pid, 'SIGKILL');
    await writeMessages(a, g, 1, 20, 20); // written while Litestream is down
    await waitFor('litestream restarted', () => {
      const p = a.replication.pidOf(g);
      return p !== undefined && p !== pid;
    });
    expect(await counterValue(metrics.litestreamRestarts, { reason: 'crash' })).toBe(crashesBefore + 1);
    await replicated(a, g);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    expect(a.health().ok).toBe(true);

    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    expect(await total(b, g, 2)).toBe(40);
  });

  it('replication lag grows while Litestream is down and returns to zero once it catches up', async () => {
    const g = newGuildId();
    const a = pod('pod-a', { crashBackoffMs: 1500 });
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 1);
    await replicated(a, g);
    expect(a.replicationLag()).toBe(0);
    process.kill(a.replication.pidOf(g) as number, 'SIGKILL');
    await waitFor('litestream down', () => a.replication.pids().length === 0);
    await writeMessages(a, g, 1, 1, 1);
    await waitFor('lag above 0.5 s', () => a.replicationLag() > 0.5, 5000);
    await waitFor('lag back to 0', () => a.replicationLag() === 0, 15_000);
  });

  it('closing an idle guild lets Litestream sync its last write first', async () => {
    const g = newGuildId();
    // Replicas ship only once a minute here, so only the flush on close can ship the writes.
    const a = pod('pod-a', { idleCloseMs: 500, sweepEveryMs: 50, syncIntervalMs: 60_000 });
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 3);
    expect(await a.replication.target.hasSnapshot(g, 1)).toBe(false);
    // Closing stops its Litestream group (no other guild in it) with SIGTERM, which syncs.
    await waitFor('guild closed as idle and its Litestream stopped', () => !a.dbs.isOpen(g) && a.replication.pids().length === 0, 15_000);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);

    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    expect(await total(b, g, 2)).toBe(3);
    // The closed guild reopens on demand on pod-a's side (same epoch, same file).
    expect(await total(a, g, 1)).toBe(3);
  });

  it('spreads guilds over several Litestream processes and a new guild restarts only its own group', async () => {
    const a = pod('pod-a', { groupSize: 4 });
    const ids = Array.from({ length: 12 }, () => newGuildId());
    for (const g of ids) await claim(a, g, 'pod-a', 1);
    await a.replication.settled();
    const groups = a.health().groups;
    expect(groups.length).toBeGreaterThan(2);
    expect(groups.filter((x) => x.dbs > 4 || x.state !== 'running')).toEqual([]);
    expect(groups.reduce((s, x) => s + x.dbs, 0)).toBe(12);

    const before = new Map(ids.map((g) => [g, a.replication.pidOf(g)]));
    const extra = newGuildId();
    await claim(a, extra, 'pod-a', 1);
    await a.replication.settled();
    // Only the process the new guild joined restarted (or, when it had to split, that one
    // process was replaced by two): every restarted guild came from the same old process.
    const restarted = ids.filter((g) => a.replication.pidOf(g) !== before.get(g));
    expect(new Set(restarted.map((g) => before.get(g))).size).toBeLessThanOrEqual(1);
    expect(restarted.length).toBeLessThanOrEqual(4);
    for (const g of [...ids, extra]) await writeMessages(a, g, 1, 0, 1);
    for (const g of [...ids, extra]) await replicated(a, g);
  });

  it('a burst of arrivals restarts only new small processes; the settled ones keep running', async () => {
    // Size 8: arrivals fill groups of 2.
    const a = pod('pod-a', { groupSize: 8, quietMs: 60_000 });
    const settledIds = Array.from({ length: 4 }, () => newGuildId());
    for (const g of settledIds) await claim(a, g, 'pod-a', 1);
    await a.replication.settled();
    const before = new Map(settledIds.map((g) => [g, a.replication.pidOf(g)]));
    expect(new Set(before.values()).size).toBe(2);
    const burst = Array.from({ length: 6 }, () => newGuildId());
    await Promise.all(burst.map((g) => claim(a, g, 'pod-a', 1)));
    await a.replication.settled();
    for (const g of settledIds) expect(a.replication.pidOf(g)).toBe(before.get(g));
    expect(a.health().groups.filter((x) => x.dbs > 2)).toEqual([]);
    for (const g of [...settledIds, ...burst]) await writeMessages(a, g, 1, 0, 1);
    for (const g of [...settledIds, ...burst]) await replicated(a, g);
  });

  it('a guild given up restarts no process: Litestream ships its last writes, and it comes back at the same epoch with no restart', async () => {
    const a = pod('pod-a', { groupSize: 8, quietMs: 60_000 });
    const [g, other] = [newGuildId(), newGuildId()];
    await claim(a, g, 'pod-a', 1);
    await claim(a, other, 'pod-a', 1);
    await a.replication.settled();
    const pid = a.replication.pidOf(g);
    expect(pid).toBeDefined();
    await writeMessages(a, g, 1, 0, 5);
    // Released while its last writes may not be shipped yet: resolves once Litestream confirms them.
    expect(await a.release(g)).toBe(true);
    expect(a.dbs.isOpen(g)).toBe(false);
    expect(a.replication.isAttached(g)).toBe(true);
    expect(a.replication.pidOf(other)).toBe(pid);
    // Reopened at the same epoch: the same process still replicates it.
    await writeMessages(a, g, 1, 5, 1);
    await a.replication.settled();
    expect(a.replication.pidOf(g)).toBe(pid);
    await replicated(a, g);
    // Another pod claims it from the replica: all six rows are there.
    await a.release(g);
    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    expect(await total(b, g, 2)).toBe(6);
  });

  it('a released guild still in a process is taken out of it before its file is replaced', async () => {
    const a = pod('pod-a', { groupSize: 8, quietMs: 60_000 });
    const [g, other] = [newGuildId(), newGuildId()];
    await claim(a, g, 'pod-a', 1);
    await claim(a, other, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 2);
    await replicated(a, g);
    await a.release(g);
    expect(a.replication.isAttached(g)).toBe(true);
    const pid = a.replication.pidOf(other);
    // Claimed again here at a new epoch: the restore must not replace a file Litestream reads.
    await claim(a, g, 'pod-a', 2);
    expect(a.replication.pidOf(other)).not.toBe(pid);
    expect(a.replication.epochOf(g)).toBe(2);
    await writeMessages(a, g, 2, 2, 1);
    await replicated(a, g);
    await waitFor('data_epoch 2', async () => (await dataEpoch(g)) === 2, 15_000);
    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 3);
    expect(await total(b, g, 3)).toBe(3);
  });

  it('once quiet, maintenance merges small processes and drops released guilds; every guild still replicates', async () => {
    const a = pod('pod-a', { groupSize: 8, quietMs: 300, releasedAfterMs: 500 });
    const all = Array.from({ length: 6 }, () => newGuildId());
    for (const g of all) await claim(a, g, 'pod-a', 1);
    await a.replication.settled();
    expect(a.health().groups).toHaveLength(3);
    const gone = all[0] as string;
    await a.release(gone);
    await waitFor('one process with the five guilds still served', () => a.health().groups.length === 1 && a.health().groups[0]?.dbs === 5 && a.health().groups[0]?.state === 'running', 20_000);
    expect(a.replication.isAttached(gone)).toBe(false);
    for (const g of all.slice(1)) await writeMessages(a, g, 1, 0, 1);
    for (const g of all.slice(1)) await replicated(a, g);
  });

  it('running out of file descriptors is reported and stopped instead of spinning', async () => {
    const wrapper = join(dirs.root, 'litestream-low-fds.sh');
    writeFileSync(wrapper, `#!/bin/sh\nulimit -n 40\nexec ${JSON.stringify(litestreamBin())} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const a = pod('pod-a', { bin: wrapper });
    const emfileBefore = await counterValue(metrics.litestreamRestarts, { reason: 'emfile' });
    for (let i = 0; i < 20; i++) await claim(a, newGuildId(), 'pod-a', 1);
    await waitFor('emfile reported', () => a.health().groups.some((x) => x.state === 'emfile'), 15_000);
    const h = a.health();
    expect(h.ok).toBe(false);
    expect(h.problems.join('\n')).toMatch(/file descriptors/);
    expect(await counterValue(metrics.litestreamRestarts, { reason: 'emfile' })).toBe(emfileBefore + 1);
    expect(a.replication.pids()).toEqual([]); // stopped, waiting out a long backoff
  });
  it('a Litestream left running by an earlier, killed run of the pod is stopped at start', async () => {
    const dataDir = dirs.dataDir('pod-reborn');
    const cfgDir = join(dataDir, 'litestream');
    mkdirSync(cfgDir, { recursive: true });
    const cfg = join(cfgDir, 'g.yml');
    const db = join(dataDir, 'guilds', '1.sqlite3');
    writeFileSync(cfg, JSON.stringify({ logging: { type: 'json' }, dbs: [{ path: db, replicas: [{ type: 'file', path: join(dirs.replicaRoot, 'orphan') }] }] }));
    const orphan = spawn(litestreamBin(), ['replicate', '-config', cfg], { stdio: 'ignore', detached: true });
    const exited = new Promise<number | null>((resolve) => orphan.once('exit', (_code, signal) => resolve(signal === 'SIGKILL' ? 9 : null)));
    await waitFor('orphan running', () => existsSync(`/proc/${orphan.pid}/cmdline`));
    const gd = testGuildData({ dataDir, replicaUrl: dirs.replicaUrl, store: ts.store });
    running.push(gd);
    expect(await exited).toBe(9);
  });
});

describe('point-in-time restore', () => {
  it('returns the data as it was at the given time, and that state is what replicates from then on', async () => {
    const g = newGuildId();
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 10);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    await replicated(a, g);
    const at = new Date();
    // Litestream dates WAL segments by file mtime, which the kernel keeps at a few ms
    // granularity: let the clock pass the restore point before the later writes.
    await waitFor('the clock to pass the restore point', () => Date.now() > at.getTime() + 20);
    await writeMessages(a, g, 1, 10, 5);
    await replicated(a, g);
    expect(await total(a, g, 1)).toBe(15);

    // The operator's `admin restore --at`: same owner, same epoch, the guild paused meanwhile.
    const r = await a.restoreGuildAt(g, at, 1);
    expect(r).toMatchObject({ dataEpoch: 1, source: 'replica' });
    expect(r.movedAside).toMatch(/\.aside-/);
    expect(await total(a, g, 1)).toBe(10);
    // A message applied after the restore point is no longer a duplicate: it can be applied again.
    expect((await a.dbs.applyOnce(testFence(g, 1), 'msg:12', () => undefined)).duplicate).toBe(false);
    await replicated(a, g);

    // A failover now restores the restored state (plus what came after), not the newer data.
    process.kill(a.replication.pidOf(g) as number, 'SIGKILL');
    const b = pod('pod-b');
    await claim(b, g, 'pod-b', 2);
    expect(await total(b, g, 2)).toBe(10);
    expect(await b.dbs.applyOnce(testFence(g, 2), 'msg:12', () => undefined)).toMatchObject({ duplicate: true });
  });

  it('a time before the data_epoch path\'s history fails loudly instead of restoring something else', async () => {
    const g = newGuildId();
    const before = new Date(Date.now() - 60_000);
    const a = pod('pod-a');
    await claim(a, g, 'pod-a', 1);
    await writeMessages(a, g, 1, 0, 3);
    await waitFor('data_epoch 1', async () => (await dataEpoch(g)) === 1, 15_000);
    await expect(a.restoreGuildAt(g, before, 1)).rejects.toMatchObject({ name: 'RestoreError', reason: 'missing' });
    expect(await total(a, g, 1)).toBe(3);
  });
});

// Guild data costs with the real litestream v0.3.13, file replicas and the real assignment store:
// restore time (1 MB / 50 MB, and 100 guilds at the restore queue's concurrency), export/install
// time, replication lag at a monitor interval, and RSS + open fds of the gateway process and its
// Litestream children with 100 / 1,000 / 5,000 owned guilds and idle closing on.
//   node dist/bench/guild-data.js [--quick] [--database postgres://…]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { createAssignmentStore, type AssignmentStore } from '../src/store/index.js';
import { createGuildData, type GuildData, type GuildFence } from '../src/guild-data/index.js';
import { median, percentile, printTable, progress } from './table.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const databaseUrl = args.includes('--database') ? (args[args.indexOf('--database') + 1] as string) : process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const root = mkdtempSync(join(tmpdir(), 'lh-bench-guild-data-'));
const replicaUrl = pathToFileURL(join(root, 'replicas')).href;
let podSeq = 0;
let guildSeq = BigInt(Date.now()) << 22n;
const newGuild = () => String((guildSeq += 1n << 12n));

const fence = (guildId: string, epoch: number): GuildFence => ({ guildId, epoch, assertValid: () => undefined });
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function pod(store: AssignmentStore, opts: { monitorIntervalMs?: number; idleCloseMs?: number; maxOpen?: number; restoreConcurrency?: number } = {}): GuildData {
  const gd = createGuildData({
    dataDir: join(root, `pod-${podSeq++}`),
    replicaUrl,
    store,
    idleCloseMs: opts.idleCloseMs ?? 600_000,
    maxOpen: opts.maxOpen ?? 2000,
    restoreConcurrency: opts.restoreConcurrency ?? 8,
    replication: { monitorIntervalMs: opts.monitorIntervalMs ?? 1000 },
  });
  gd.start();
  return gd;
}

async function claim(store: AssignmentStore, gd: GuildData, guildId: string, podId: string, epoch: number) {
  await store.commitEpoch(guildId, podId, epoch, 'claim');
  return gd.restoreGuild(guildId, epoch);
}

/** Fill a guild to about `bytes` with report rows (1 KiB reasons) in one transaction. */
async function fill(gd: GuildData, guildId: string, epoch: number, bytes: number): Promise<void> {
  const reason = randomBytes(512).toString('hex');
  await gd.dbs.write(fence(guildId, epoch), async (trx) => {
    const rows = Math.ceil(bytes / 1060);
    for (let i = 0; i < rows; i += 500) {
      const n = Math.min(500, rows - i);
      await trx
        .insertInto('reports')
        .values(Array.from({ length: n }, (_, k) => ({ message_id: String(i + k), channel_id: 'c', reporter_id: 'r', target_id: 't', reason, status: 'open' as const, created_at: Date.now() })))
        .execute();
    }
  });
}

async function replicatedWithDataEpoch(store: AssignmentStore, gd: GuildData, guildId: string, epoch: number): Promise<void> {
  await until(`guild ${guildId} replicated`, () => gd.replication.isReplicated(guildId));
  await until(`data_epoch ${epoch}`, async () => (await store.getAssignment(guildId))?.dataEpoch === epoch);
}

/** RSS and open fds of this process plus its Litestream children. */
function footprint(gd: GuildData): { rss: number; fds: number; children: number; childRss: number; childFds: number } {
  const fdsOf = (pid: number | 'self') => {
    try {
      return readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      return 0;
    }
  };
  const rssOf = (pid: number) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  };
  const pids = gd.replication.pids();
  const childRss = pids.reduce((s, p) => s + rssOf(p), 0);
  const childFds = pids.reduce((s, p) => s + fdsOf(p), 0);
  return { rss: process.memoryUsage().rss + childRss, fds: fdsOf('self') + childFds, children: pids.length, childRss, childFds };
}

async function benchRestoreSizes(store: AssignmentStore, sizes: number[], reps: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (const size of sizes) {
    progress(`restore: ${mib(size)} database, ${reps} runs`);
    const a = pod(store);
    const g = newGuild();
    await claim(store, a, g, 'pod-a', 1);
    await fill(a, g, 1, size);
    await replicatedWithDataEpoch(store, a, g, 1);
    await a.stop();
    const times: number[] = [];
    let fileSize = 0;
    for (let r = 0; r < reps; r++) {
      const b = pod(store);
      await store.commitEpoch(g, `pod-b${r}`, 2 + r, 'claim');
      const t0 = performance.now();
      const res = await b.restoreGuild(g, 2 + r);
      times.push(performance.now() - t0);
      if (res.source !== 'replica') throw new Error('expected a restore from the replica');
      fileSize = statSync(b.dbs.paths.dbFile(g)).size;
      await b.stop();
    }
    rows.push([`restore one guild (${mib(fileSize)} file)`, fmtMs(median(times)), fmtMs(Math.max(...times)), `${reps} runs; litestream restore + quick_check + rename`]);
  }
  return rows;
}

async function benchRestoreMany(store: AssignmentStore, count: number, concurrency: number): Promise<string[][]> {
  progress(`restore: ${count} guilds at concurrency ${concurrency}`);
  const a = pod(store);
  const ids = Array.from({ length: count }, newGuild);
  await Promise.all(ids.map((g) => claim(store, a, g, 'pod-a', 1)));
  for (const g of ids) await a.dbs.applyOnce(fence(g, 1), 'msg:1', () => undefined);
  for (const g of ids) await replicatedWithDataEpoch(store, a, g, 1);
  await a.stop();
  const b = pod(store, { restoreConcurrency: concurrency });
  for (const g of ids) await store.commitEpoch(g, 'pod-b', 2, 'claim');
  const t0 = performance.now();
  const each: number[] = [];
  await Promise.all(
    ids.map(async (g) => {
      const s = performance.now();
      await b.restores.request(g, 2);
      each.push(performance.now() - s);
    }),
  );
  const wall = performance.now() - t0;
  await b.stop();
  return [[`restore ${count} guilds, concurrency ${concurrency}`, fmtMs(wall), fmtMs(percentile(each, 95)), `${(count / (wall / 1000)).toFixed(0)} guilds/s; p95 is time from request to restored`]];
}

async function benchHandoff(store: AssignmentStore, sizes: number[]): Promise<string[][]> {
  const rows: string[][] = [];
  for (const size of sizes) {
    progress(`export/install: ${mib(size)}`);
    const a = pod(store);
    const b = pod(store);
    const g = newGuild();
    await claim(store, a, g, 'pod-a', 1);
    await fill(a, g, 1, size);
    const t0 = performance.now();
    const copy = await a.exportGuild(g, fence(g, 1));
    const t1 = performance.now();
    await store.commitEpoch(g, 'pod-b', 2, 'claim');
    await b.installGuild(g, copy, 2);
    const t2 = performance.now();
    rows.push([`export + install (${mib(copy.size)} copy)`, fmtMs(t2 - t0), fmtMs(t1 - t0), `export ${fmtMs(t1 - t0)}, install ${fmtMs(t2 - t1)} (sha256 + fsync + rename + open)`]);
    await a.stop();
    await b.stop();
  }
  return rows;
}

async function benchLag(store: AssignmentStore, monitorMs: number, samples: number): Promise<string[][]> {
  progress(`replication lag at monitor-interval ${monitorMs} ms, ${samples} samples`);
  const a = pod(store, { monitorIntervalMs: monitorMs });
  const g = newGuild();
  await claim(store, a, g, 'pod-a', 1);
  await replicatedWithDataEpoch(store, a, g, 1);
  const lags: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Write at a random phase of the monitor tick.
    await sleep(Math.random() * monitorMs);
    await a.dbs.applyOnce(fence(g, 1), `msg:${i}`, () => undefined);
    const t0 = performance.now();
    await until('replicated', () => a.replication.isReplicated(g));
    lags.push(performance.now() - t0);
  }
  await a.stop();
  return [[`replication lag, monitor ${monitorMs} ms`, fmtMs(median(lags)), fmtMs(percentile(lags, 95)), `${samples} writes; commit → Litestream's "wal segment written"`]];
}

async function benchScale(store: AssignmentStore, owned: number, opts: { idleCloseMs: number; maxOpen: number; activeShare: number; activeSeconds: number }): Promise<string[]> {
  progress(`scale: ${owned} owned guilds (idle close ${opts.idleCloseMs} ms, at most ${opts.maxOpen} open)`);
  const gd = pod(store, { idleCloseMs: opts.idleCloseMs, maxOpen: opts.maxOpen });
  const ids = Array.from({ length: owned }, newGuild);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 16) {
    await Promise.all(
      ids.slice(i, i + 16).map(async (g) => {
        await claim(store, gd, g, 'pod-a', 1);
        await gd.dbs.applyOnce(fence(g, 1), 'msg:0', () => undefined);
      }),
    );
  }
  const createMs = performance.now() - t0;
  // Steady state: a share of the guilds is active (one event each, every second).
  const active = ids.slice(0, Math.max(1, Math.floor(owned * opts.activeShare)));
  let peak = footprint(gd);
  for (let s = 0; s < opts.activeSeconds; s++) {
    const tick = performance.now();
    await Promise.all(active.map((g) => gd.dbs.applyOnce(fence(g, 1), `msg:${s + 1}`, () => undefined)));
    const f = footprint(gd);
    if (f.rss > peak.rss) peak = f;
    await sleep(Math.max(0, 1000 - (performance.now() - tick)));
  }
  await gd.replication.settled();
  const end = footprint(gd);
  const open = gd.dbs.openGuilds().length;
  const lag = gd.replicationLag();
  await gd.stop();
  return [
    String(owned),
    String(active.length),
    String(open),
    String(end.children),
    mib(peak.rss),
    `${mib(end.rss - end.childRss)} + ${mib(end.childRss)}`,
    `${end.fds - end.childFds} + ${end.childFds}`,
    `${lag.toFixed(2)} s`,
    fmtMs(createMs / owned),
  ];
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const store = createAssignmentStore({ databaseUrl, schema, maxConnections: 16 });
  await store.migrate();
  try {
    const rows: string[][] = [];
    rows.push(...(await benchRestoreSizes(store, quick ? [1 << 20] : [1 << 20, 50 << 20], quick ? 2 : 3)));
    rows.push(...(await benchRestoreMany(store, quick ? 20 : 100, 8)));
    rows.push(...(await benchHandoff(store, quick ? [1 << 20] : [1 << 20, 50 << 20])));
    rows.push(...(await benchLag(store, 100, quick ? 5 : 20)));
    if (!quick) rows.push(...(await benchLag(store, 1000, 10)));
    printTable('Guild data: restore, handoff copy, replication lag (litestream v0.3.13, file replica)', ['what', 'median / total', 'p95 / max', 'notes'], rows);

    const scale: string[][] = [];
    for (const owned of quick ? [100] : [100, 1000, 5000]) {
      scale.push(await benchScale(store, owned, { idleCloseMs: quick ? 2000 : 5000, maxOpen: 500, activeShare: 0.05, activeSeconds: quick ? 3 : 10 }));
    }
    printTable(
      'Guild data at scale: gateway + Litestream footprint with idle closing (monitor 1 s, groups of 200, at most 500 open, idle close 5 s; 5 % of guilds write every second)',
      ['owned', 'active', 'open at end', 'litestream procs', 'peak RSS (all)', 'RSS gateway + litestream', 'fds gateway + litestream', 'lag at end', 'claim+first write / guild'],
      scale,
    );
  } finally {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  rmSync(root, { recursive: true, force: true });
  process.exit(1);
});

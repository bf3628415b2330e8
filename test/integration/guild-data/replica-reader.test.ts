// Reading local-directory replicas on worker threads (replica-reader.ts) from a replica the real
// Litestream wrote: the same rows as on the event loop, read on another thread, several at once;
// a file of another guild and a missing replica are reported as on the event loop; a thread that
// dies fails only its job; a closed reader refuses work. The worker is the compiled one (npm test
// compiles before it runs).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stampScratchFile } from '../../../src/guild-data/epoch-stamp.js';
import { FileReplicaReadError } from '../../../src/guild-data/file-replica-restore.js';
import { litestreamBin } from '../../../src/guild-data/litestream-bin.js';
import { inProcessReader, threadReader, type ReplicaReader } from '../../../src/guild-data/replica-reader.js';
import { waitFor } from '../../helpers/services.js';
import { tempDirs, type TempDirs } from './helpers.js';

const WORKER = new URL('../../../dist/src/guild-data/replica-read-worker.js', import.meta.url);
const GUILD = '123456789012345678';

let dirs: TempDirs;
let expected: { i: number; v: string }[];
const readers: ReplicaReader[] = [];
const replicaDir = () => join(dirs.root, 'replica');
let outs = 0;
const out = () => join(dirs.root, `out-${++outs}.sqlite3`);

function rows(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT i, v FROM t ORDER BY i').all() as { i: number; v: string }[];
  } finally {
    db.close();
  }
}

function meta(path: string): Record<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    return Object.fromEntries((db.prepare('SELECT key, value FROM meta ORDER BY key').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  } finally {
    db.close();
  }
}

function reader(threads = 2, workerUrl = WORKER): ReplicaReader {
  const r = threadReader({ threads, workerUrl });
  if (!r) throw new Error(`no compiled worker at ${workerUrl.href}: run tsc first`);
  readers.push(r);
  return r;
}

beforeAll(async () => {
  dirs = tempDirs();
  const path = join(dirs.root, 'g.sqlite3');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE t (i INTEGER PRIMARY KEY, v TEXT)");
  db.prepare("INSERT INTO meta VALUES ('guild_id', ?)").run(GUILD);
  const config = join(dirs.root, 'litestream.yml');
  writeFileSync(config, `dbs:\n  - path: ${path}\n    monitor-interval: 50ms\n    replicas:\n      - type: file\n        path: ${replicaDir()}\n        sync-interval: 50ms\n`);
  const ls: ChildProcess = spawn(litestreamBin(), ['replicate', '-config', config], { stdio: 'ignore' });
  try {
    const ins = db.prepare('INSERT INTO t (i, v) VALUES (?, ?)');
    for (let i = 0; i < 200; i++) ins.run(i, `row ${i}`.repeat(20));
    const wal = () => {
      const gens = join(replicaDir(), 'generations');
      return existsSync(gens) && readdirSync(gens).some((g) => existsSync(join(gens, g, 'wal')) && readdirSync(join(gens, g, 'wal')).length > 0);
    };
    await waitFor('a snapshot and a WAL segment in the replica', () => wal() || undefined, 30_000, 50);
    ls.kill('SIGTERM');
    await new Promise((r) => ls.once('exit', r));
  } finally {
    if (ls.exitCode === null) ls.kill('SIGKILL');
  }
  expected = rows(path);
  db.close();
}, 60_000);

afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.close()));
});

afterAll(() => dirs.cleanup());

describe('stampScratchFile', () => {
  it('never lowers a recorded epoch and leaves a file without a meta table alone', async () => {
    const p = out();
    await inProcessReader.read(replicaDir(), p, GUILD, { epoch: 9, atMs: 5 });
    expect(stampScratchFile(p, 7, 6)).toBe(false);
    expect(meta(p)['epoch']).toBe('9');
    expect(stampScratchFile(p, 9, 6)).toBe(true);
    expect(meta(p)['epoch_at']).toBe('6');
    const bare = join(dirs.root, 'bare.sqlite3');
    const db = new Database(bare);
    db.exec('CREATE TABLE x (a)');
    db.close();
    expect(stampScratchFile(bare, 1, 1)).toBe(false);
  });
});

describe('threadReader', () => {
  it('reads on worker threads what the event loop reads, several replicas at once', async () => {
    const r = reader(2);
    expect(r.kind).toBe('threads');
    const mine = out();
    const onLoop = await inProcessReader.read(replicaDir(), mine, GUILD);
    expect(onLoop.thread).toBe(0);
    const paths = [out(), out(), out(), out(), out()];
    const results = await Promise.all(paths.map((p, k) => r.read(replicaDir(), p, GUILD, { epoch: 7 + k, atMs: 1234 })));
    for (const [k, res] of results.entries()) {
      expect(res.problem).toBeUndefined();
      // Stamped with its claim's epoch, the WAL folded in: adopting it writes nothing.
      expect(res.stamped).toBe(true);
      expect(existsSync(`${paths[k]!}-wal`)).toBe(false);
      expect(meta(paths[k]!)).toEqual({ epoch: String(7 + k), epoch_at: '1234', guild_id: GUILD });
      expect(res.thread).not.toBe(0);
      expect(res.read).toEqual(onLoop.read);
      expect(rows(paths[k]!)).toEqual(expected);
    }
    // Two threads share the five jobs.
    expect(new Set(results.map((x) => x.thread)).size).toBe(2);
    expect(rows(mine)).toEqual(expected);
  }, 30_000);

  it("reports another guild's file and a missing replica as the event loop does", async () => {
    const r = reader(1);
    const other = await r.read(replicaDir(), out(), '876543210987654321', { epoch: 3, atMs: 1 });
    expect(other.problem).toBe(`file belongs to guild ${GUILD}`);
    expect(other.stamped).toBe(false);
    expect((await inProcessReader.read(replicaDir(), out(), '876543210987654321')).problem).toBe(other.problem);
    const missing = r.read(join(dirs.root, 'nowhere'), out(), GUILD);
    await expect(missing).rejects.toBeInstanceOf(FileReplicaReadError);
    await expect(missing).rejects.toThrow(/no generation/);
    // The thread that refused it still works.
    expect((await r.read(replicaDir(), out(), GUILD)).problem).toBeUndefined();
  }, 30_000);

  it('a thread that dies fails its own job with a FileReplicaReadError, and the next job gets a new thread', async () => {
    // A worker that dies on its first job only (a marker file says it already died once).
    const marker = join(dirs.root, 'died-once');
    const script = join(dirs.root, 'dying-worker.mjs');
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from 'node:fs';\n` +
        `import { parentPort } from 'node:worker_threads';\n` +
        `parentPort.on('message', async (job) => {\n` +
        `  if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); }\n` +
        `  const m = await import(${JSON.stringify(WORKER.href)}.replace('replica-read-worker.js', 'file-replica-restore.js'));\n` +
        `  parentPort.postMessage({ id: job.id, ok: true, read: m.restoreFromFileReplica(job.replicaDir, job.outPath), problem: undefined, thread: 99 });\n` +
        `});\n`,
    );
    const r = reader(1, pathToFileURL(script));
    await expect(r.read(replicaDir(), out(), GUILD)).rejects.toThrow(/replica read thread failed: exited with code 3/);
    const p = out();
    const again = await r.read(replicaDir(), p, GUILD);
    expect(again.thread).toBe(99);
    expect(rows(p)).toEqual(expected);
  }, 30_000);

  it('is not there without the compiled worker, refuses bad sizes, and refuses work once closed', async () => {
    expect(threadReader({ threads: 1, workerUrl: pathToFileURL(join(dirs.root, 'absent.js')) })).toBeUndefined();
    expect(() => threadReader({ threads: 0, workerUrl: WORKER })).toThrow(/positive integer/);
    const r = reader(1);
    await r.close();
    await expect(r.read(replicaDir(), out(), GUILD)).rejects.toThrow(/closed/);
  });
});

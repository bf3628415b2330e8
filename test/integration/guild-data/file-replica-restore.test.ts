// The in-process reader of local-directory replicas restores exactly what `litestream restore`
// does, from replicas the real Litestream v0.3.13 wrote (several WAL indexes, several segments
// each, a second generation after a restart), and refuses what it does not expect so that the
// binary decides instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreFromFileReplica } from '../../../src/guild-data/file-replica-restore.js';
import { litestreamBin, runLitestream } from '../../../src/guild-data/litestream-bin.js';
import { waitFor } from '../../helpers/services.js';
import { tempDirs, type TempDirs } from './helpers.js';

let dirs: TempDirs;
let procs: ChildProcess[];

beforeEach(() => {
  dirs = tempDirs();
  procs = [];
});

afterEach(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  dirs.cleanup();
});

const dbPath = () => join(dirs.root, 'g.sqlite3');
const replicaDir = () => join(dirs.root, 'replica');
const config = () => join(dirs.root, 'litestream.yml');

function startLitestream(): ChildProcess {
  // A checkpoint (and a new WAL index) every few pages, and fast shipping: a short run has many.
  writeFileSync(config(), `dbs:\n  - path: ${dbPath()}\n    monitor-interval: 50ms\n    min-checkpoint-page-count: 4\n    replicas:\n      - type: file\n        path: ${replicaDir()}\n        sync-interval: 50ms\n`);
  const p = spawn(litestreamBin(), ['replicate', '-config', config()], { stdio: 'ignore' });
  procs.push(p);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  p.kill('SIGTERM');
  if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
}

function segments(): { gen: string; file: string; index: number; offset: number }[] {
  const gens = join(replicaDir(), 'generations');
  if (!existsSync(gens)) return [];
  return readdirSync(gens).flatMap((gen) =>
    existsSync(join(gens, gen, 'wal'))
      ? readdirSync(join(gens, gen, 'wal')).map((f) => ({ gen, file: join(gens, gen, 'wal', f), index: parseInt(f.slice(0, 8), 16), offset: parseInt(f.slice(9, 17), 16) }))
      : [],
  );
}

const rows = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return db.prepare('SELECT i, x FROM t ORDER BY i').all() as { i: number; x: Buffer }[];
  } finally {
    db.close();
  }
};

/** The source database written in bursts under a running Litestream until `until` holds. */
async function writeUntil(db: Database.Database, until: () => boolean, from: number, small = false): Promise<number> {
  const ins = db.prepare('INSERT INTO t (i, x) VALUES (?, ?)');
  let i = from;
  await waitFor('the replica to grow', () => {
    // Small rows touch one page a commit: several shipped segments fit in one WAL index.
    if (small) ins.run(i++, Buffer.alloc(40, i % 251));
    else for (let k = 0; k < 3; k++, i++) ins.run(i, Buffer.alloc(1500 + (i % 7) * 700, i % 251));
    return until() || undefined;
  }, 30_000, 60);
  return i;
}

async function sourceWithTwoGenerations(): Promise<{ expected: { i: number; x: Buffer }[] }> {
  const db = new Database(dbPath());
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (i INTEGER PRIMARY KEY, x BLOB)');
  let ls = startLitestream();
  let n = await writeUntil(db, () => new Set(segments().map((s) => s.index)).size >= 3 && segments().some((s) => s.offset > 0), 0);
  await stop(ls);
  // Written and checkpointed by the application while nothing replicates: Litestream cannot
  // continue the old generation and starts a new one.
  const ins = db.prepare('INSERT INTO t (i, x) VALUES (?, ?)');
  for (let k = 0; k < 5; k++, n++) ins.run(n, Buffer.alloc(900, 7));
  db.pragma('wal_checkpoint(TRUNCATE)');
  ls = startLitestream();
  const firstGen = segments()[0]?.gen;
  // …and until one WAL index of the new generation has three segments (a middle one to take away).
  const threeInOne = () => {
    const per = new Map<number, number>();
    for (const s of segments().filter((x) => x.gen !== firstGen)) per.set(s.index, (per.get(s.index) ?? 0) + 1);
    return [...per.values()].some((c) => c >= 3);
  };
  n = await writeUntil(db, threeInOne, n, true);
  await stop(ls);
  const expected = db.prepare('SELECT i, x FROM t ORDER BY i').all() as { i: number; x: Buffer }[];
  db.close();
  expect(readdirSync(join(replicaDir(), 'generations')).length).toBe(2);
  return { expected };
}

describe('restoring the latest state of a file replica in process', () => {
  it('gives the same rows as litestream restore, from the generation written last', async () => {
    const { expected } = await sourceWithTwoGenerations();
    const mine = join(dirs.root, 'mine.sqlite3');
    const theirs = join(dirs.root, 'theirs.sqlite3');
    const r = restoreFromFileReplica(replicaDir(), mine);
    const bin = await runLitestream(litestreamBin(), ['restore', '-o', theirs, `file://${replicaDir()}`]);
    expect(bin.code).toBe(0);
    expect(rows(mine)).toEqual(rows(theirs));
    expect(rows(mine)).toEqual(expected);
    expect(r.maxIndex).toBeGreaterThanOrEqual(r.snapshotIndex);
    expect(r.walSegments).toBeGreaterThanOrEqual(4);
    expect(r.walSegments).toBe(segments().filter((s) => s.gen === r.generation && s.index >= r.snapshotIndex).length);
    expect(existsSync(`${mine}.tmp`) || existsSync(`${mine}.tmp-wal`)).toBe(false);
  }, 90_000);

  it('refuses a damaged segment, a gap between segments and a missing replica, leaving no file', async () => {
    await sourceWithTwoGenerations();
    const out = join(dirs.root, 'out.sqlite3');
    const r = restoreFromFileReplica(replicaDir(), join(dirs.root, 'first.sqlite3'));
    const used = segments().filter((x) => x.gen === r.generation && x.index >= r.snapshotIndex);
    const index = Math.max(...used.filter((x) => used.filter((y) => y.index === x.index).length >= 3).map((x) => x.index));
    const inIndex = used.filter((x) => x.index === index).sort((a, b) => a.offset - b.offset);
    expect(inIndex.length).toBeGreaterThanOrEqual(3);

    writeFileSync(inIndex[inIndex.length - 1]!.file, 'not an lz4 frame at all');
    expect(() => restoreFromFileReplica(replicaDir(), out)).toThrow(/not a readable lz4 frame/);
    expect(existsSync(out) || existsSync(`${out}.tmp`) || existsSync(`${out}.tmp-wal`)).toBe(false);

    // A middle segment taken away: the WAL would jump from one offset to a later one.
    unlinkSync(inIndex[1]!.file);
    expect(() => restoreFromFileReplica(replicaDir(), out)).toThrow(/does not follow/);
    expect(existsSync(out) || existsSync(`${out}.tmp`)).toBe(false);

    expect(() => restoreFromFileReplica(join(dirs.root, 'nowhere'), out)).toThrow(/no generation/);
    expect(existsSync(out)).toBe(false);
  }, 90_000);
});

// Restoring a guild's latest state from a local-directory replica inside the gateway process.
// A `litestream restore` is a process start that costs about 70 ms of CPU for a small guild
// (measured on this project's 2-core VM), so a failover of 1,000 guilds spent over a minute of CPU
// on process starts alone. This reads Litestream v0.3.13's file layout directly and lets SQLite's
// own checkpoint apply the WAL, as `litestream restore` does:
//   <path>/generations/<gen>/snapshots/<index>.snapshot.lz4   the database at the start of WAL <index>
//   <path>/generations/<gen>/wal/<index>_<offset>.wal.lz4     bytes <offset>.. of WAL <index>
// The generation updated last is restored: its newest snapshot, then every WAL index from the
// snapshot's through the newest, each one's segments joined in offset order. Anything this code
// does not expect (no snapshot, a gap between segments, a bad frame) throws FileReplicaReadError;
// the caller then runs the Litestream binary, which stays the reference for every other case
// (S3 replicas, point-in-time restores, earlier WAL indexes).
import Database from 'better-sqlite3';
import { decompress } from 'lz4js';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class FileReplicaReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileReplicaReadError';
  }
}

/** What was restored, for the log line. */
export interface FileReplicaRestore {
  readonly generation: string;
  readonly snapshotIndex: number;
  readonly maxIndex: number;
  readonly walSegments: number;
  readonly bytes: number;
}

interface Segment {
  readonly index: number;
  readonly offset: number;
  readonly file: string;
}

interface Generation {
  readonly id: string;
  readonly snapshots: readonly number[];
  readonly segments: readonly Segment[];
  readonly updatedAtMs: number;
}

const HEX8 = /^[0-9a-f]{8}$/;
const GENERATION = /^[0-9a-f]{16}$/;
// WAL header magic, big-endian: checksums in little- (…82) or big-endian (…83) byte order.
const WAL_MAGIC = new Set([0x377f0682, 0x377f0683]);

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    throw err;
  }
}

async function readGeneration(root: string, id: string): Promise<Generation> {
  const dir = join(root, 'generations', id);
  const snapshots: number[] = [];
  const segments: Segment[] = [];
  let updatedAtMs = 0;
  for (const f of await names(join(dir, 'snapshots'))) {
    const m = /^([0-9a-f]{8})\.snapshot\.lz4$/.exec(f);
    if (!m) continue;
    snapshots.push(parseInt(m[1] as string, 16));
    updatedAtMs = Math.max(updatedAtMs, (await stat(join(dir, 'snapshots', f))).mtimeMs);
  }
  for (const f of await names(join(dir, 'wal'))) {
    const m = /^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$/.exec(f);
    if (!m || !HEX8.test(m[1] as string)) continue;
    const file = join(dir, 'wal', f);
    segments.push({ index: parseInt(m[1] as string, 16), offset: parseInt(m[2] as string, 16), file });
    updatedAtMs = Math.max(updatedAtMs, (await stat(file)).mtimeMs);
  }
  return { id, snapshots, segments, updatedAtMs };
}

function lz4File(bytes: Buffer, file: string): Buffer {
  try {
    return Buffer.from(decompress(bytes));
  } catch (err) {
    throw new FileReplicaReadError(`${file}: not a readable lz4 frame (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** One WAL index's segments joined in offset order; each must start where the previous ended. */
async function walBytes(segments: readonly Segment[], index: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of [...segments].sort((a, b) => a.offset - b.offset)) {
    if (s.offset !== at) throw new FileReplicaReadError(`WAL index ${index}: segment at offset ${s.offset} does not follow the one ending at ${at}`);
    const b = lz4File(await readFile(s.file), s.file);
    parts.push(b);
    at += b.length;
  }
  const wal = Buffer.concat(parts);
  if (wal.length > 0 && (wal.length < 32 || !WAL_MAGIC.has(wal.readUInt32BE(0)))) throw new FileReplicaReadError(`WAL index ${index}: no WAL header`);
  return wal;
}

/** Apply a WAL to the database at `dbPath` with a truncating checkpoint (SQLite checks every frame). */
async function applyWal(dbPath: string, wal: Buffer, index: number): Promise<void> {
  await writeFile(`${dbPath}-wal`, wal);
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    if (!r || r.busy !== 0) throw new FileReplicaReadError(`WAL index ${index}: truncating checkpoint did not complete (${JSON.stringify(r)})`);
  } finally {
    db.close();
  }
}

/**
 * Restore the newest state of the replica at `replicaDir` into a new file at `outPath` (which must
 * not exist). Throws FileReplicaReadError when the replica is not what this reader expects.
 */
export async function restoreFromFileReplica(replicaDir: string, outPath: string): Promise<FileReplicaRestore> {
  const ids = (await names(join(replicaDir, 'generations'))).filter((n) => GENERATION.test(n));
  const gens = await Promise.all(ids.map((id) => readGeneration(replicaDir, id)));
  // Litestream restores the generation written last (its files' newest modification time).
  const gen = gens.reduce<Generation | undefined>((best, g) => (g.updatedAtMs > (best?.updatedAtMs ?? -1) ? g : best), undefined);
  if (!gen) throw new FileReplicaReadError(`${replicaDir}: no generation`);
  const maxIndex = Math.max(...gen.snapshots, ...gen.segments.map((s) => s.index));
  const snapshotIndex = Math.max(...gen.snapshots.filter((i) => i <= maxIndex));
  if (!Number.isFinite(snapshotIndex)) throw new FileReplicaReadError(`${replicaDir}: generation ${gen.id} has no snapshot`);

  const tmp = `${outPath}.tmp`;
  await rm(tmp, { force: true });
  const snapFile = join(replicaDir, 'generations', gen.id, 'snapshots', `${snapshotIndex.toString(16).padStart(8, '0')}.snapshot.lz4`);
  let walSegments = 0;
  try {
    await writeFile(tmp, lz4File(await readFile(snapFile), snapFile), { flag: 'wx' });
    for (let index = snapshotIndex; index <= maxIndex; index++) {
      const segs = gen.segments.filter((s) => s.index === index);
      if (segs.length === 0) throw new FileReplicaReadError(`${replicaDir}: generation ${gen.id} has no WAL segment of index ${index}`);
      walSegments += segs.length;
      const wal = await walBytes(segs, index);
      if (wal.length > 0) await applyWal(tmp, wal, index);
    }
    await rename(tmp, outPath);
  } catch (err) {
    await Promise.all([rm(tmp, { force: true }), rm(`${tmp}-wal`, { force: true }), rm(`${tmp}-shm`, { force: true })]);
    if (err instanceof FileReplicaReadError) throw err;
    throw new FileReplicaReadError(`${replicaDir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { generation: gen.id, snapshotIndex, maxIndex, walSegments, bytes: (await stat(outPath)).size };
}

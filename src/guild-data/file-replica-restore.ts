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
//
// Its file operations are synchronous. Through the thread pool each of its two or three dozen
// reads, writes and listings waited for an event-loop turn: with eight restores at once on a
// busy survivor a small guild took 81 ms (p50) to read, 272 ms at p90, most of it waiting. The
// lz4 decoding, the bulk of the work for a large guild, runs on the event loop either way.
import Database from 'better-sqlite3';
import { decompressBound, decompressFrame } from 'lz4js';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    throw err;
  }
}

function readGeneration(root: string, id: string): Generation {
  const dir = join(root, 'generations', id);
  const snapshots: number[] = [];
  const segments: Segment[] = [];
  let updatedAtMs = 0;
  for (const f of names(join(dir, 'snapshots'))) {
    const m = /^([0-9a-f]{8})\.snapshot\.lz4$/.exec(f);
    if (!m) continue;
    snapshots.push(parseInt(m[1] as string, 16));
    updatedAtMs = Math.max(updatedAtMs, statSync(join(dir, 'snapshots', f)).mtimeMs);
  }
  for (const f of names(join(dir, 'wal'))) {
    const m = /^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$/.exec(f);
    if (!m || !HEX8.test(m[1] as string)) continue;
    const file = join(dir, 'wal', f);
    segments.push({ index: parseInt(m[1] as string, 16), offset: parseInt(m[2] as string, 16), file });
    updatedAtMs = Math.max(updatedAtMs, statSync(file).mtimeMs);
  }
  return { id, snapshots, segments, updatedAtMs };
}

/**
 * lz4js's decompress() allocates (and zeroes) a buffer of the frame's bound, 4 MiB per block for
 * Litestream's frames, for every file: most of a small guild's restore. Frames are decoded into
 * one reused buffer instead, grown to the largest bound seen, and the bytes copied out. Safe
 * because decoding is synchronous.
 */
let scratch = new Uint8Array(0);
const SCRATCH_MAX = 16 * 1024 * 1024;

function lz4File(bytes: Buffer, file: string): Buffer {
  try {
    // @types/lz4js declares decompressBound as void; it returns the frame's largest decoded size.
    const bound = (decompressBound as unknown as (src: Uint8Array) => number)(bytes);
    // A large guild's frame gets its own buffer: the reused one is never held above SCRATCH_MAX.
    const dst = bound > SCRATCH_MAX ? new Uint8Array(bound) : scratch.length >= bound ? scratch : (scratch = new Uint8Array(bound));
    const size = decompressFrame(bytes, dst);
    return Buffer.from(dst.subarray(0, size)); // a copy: the reused buffer is overwritten next time
  } catch (err) {
    throw new FileReplicaReadError(`${file}: not a readable lz4 frame (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** One WAL index's segments joined in offset order; each must start where the previous ended. */
function walBytes(segments: readonly Segment[], index: number): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of [...segments].sort((a, b) => a.offset - b.offset)) {
    if (s.offset !== at) throw new FileReplicaReadError(`WAL index ${index}: segment at offset ${s.offset} does not follow the one ending at ${at}`);
    const b = lz4File(readFileSync(s.file), s.file);
    parts.push(b);
    at += b.length;
  }
  const wal = Buffer.concat(parts);
  if (wal.length > 0 && (wal.length < 32 || !WAL_MAGIC.has(wal.readUInt32BE(0)))) throw new FileReplicaReadError(`WAL index ${index}: no WAL header`);
  return wal;
}

/** Apply a WAL to the database at `dbPath` with a truncating checkpoint (SQLite checks every frame). */
function applyWal(dbPath: string, wal: Buffer, index: number): void {
  writeFileSync(`${dbPath}-wal`, wal);
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    // A scratch file, checked and renamed into place later: no fsync (as writeScratch: after an
    // OS crash this pod's files are not reused), and no shared-memory index file (exclusive
    // locking, set before the WAL is first read). Under a failover's disk load the fsyncs of
    // this checkpoint were most of a small guild's restore.
    db.pragma('synchronous = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    if (!r || r.busy !== 0) throw new FileReplicaReadError(`WAL index ${index}: truncating checkpoint did not complete (${JSON.stringify(r)})`);
  } finally {
    db.close();
  }
}

/**
 * Remove what a read into `outPath` leaves behind: its tmp file with that file's WAL and shm and,
 * with `andOutput`, `outPath` itself (a reader thread that died mid-read).
 */
export function removeReadOutput(outPath: string, andOutput = true): void {
  const tmp = `${outPath}.tmp`;
  for (const f of [...(andOutput ? [outPath] : []), tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
}

/**
 * Restore the newest state of the replica at `replicaDir` into a new file at `outPath` (which must
 * not exist). Throws FileReplicaReadError when the replica is not what this reader expects.
 */
export function restoreFromFileReplica(replicaDir: string, outPath: string): FileReplicaRestore {
  const ids = names(join(replicaDir, 'generations')).filter((n) => GENERATION.test(n));
  const gens = ids.map((id) => readGeneration(replicaDir, id));
  // Litestream restores the generation written last (its files' newest modification time).
  const gen = gens.reduce<Generation | undefined>((best, g) => (g.updatedAtMs > (best?.updatedAtMs ?? -1) ? g : best), undefined);
  if (!gen) throw new FileReplicaReadError(`${replicaDir}: no generation`);
  const maxIndex = Math.max(...gen.snapshots, ...gen.segments.map((s) => s.index));
  const snapshotIndex = Math.max(...gen.snapshots.filter((i) => i <= maxIndex));
  if (!Number.isFinite(snapshotIndex)) throw new FileReplicaReadError(`${replicaDir}: generation ${gen.id} has no snapshot`);

  const tmp = `${outPath}.tmp`;
  rmSync(tmp, { force: true });
  const snapFile = join(replicaDir, 'generations', gen.id, 'snapshots', `${snapshotIndex.toString(16).padStart(8, '0')}.snapshot.lz4`);
  let walSegments = 0;
  try {
    writeFileSync(tmp, lz4File(readFileSync(snapFile), snapFile), { flag: 'wx' });
    for (let index = snapshotIndex; index <= maxIndex; index++) {
      const segs = gen.segments.filter((s) => s.index === index);
      if (segs.length === 0) throw new FileReplicaReadError(`${replicaDir}: generation ${gen.id} has no WAL segment of index ${index}`);
      walSegments += segs.length;
      const wal = walBytes(segs, index);
      if (wal.length > 0) applyWal(tmp, wal, index);
    }
    renameSync(tmp, outPath);
  } catch (err) {
    removeReadOutput(outPath, false);
    if (err instanceof FileReplicaReadError) throw err;
    throw new FileReplicaReadError(`${replicaDir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { generation: gen.id, snapshotIndex, maxIndex, walSegments, bytes: statSync(outPath).size };
}

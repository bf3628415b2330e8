// Replacing a guild's local file safely: a new file (restored or handed over) is checked in
// scratch space, the old one is moved aside (never reused silently, never deleted), and the new
// one is renamed into place. The caller holds the guild's reservation throughout.
import Database from 'better-sqlite3';
import { open } from 'node:fs/promises';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { GuildDataError } from './errors.js';
import type { GuildPaths } from './paths.js';

/**
 * Move the guild's database and its WAL/SHM aside as `<file>.aside-<wallMs>` (together: a WAL
 * left behind would be replayed into the new file) and drop Litestream's shadow directory,
 * which describes the old file. Returns the aside path of the database, if there was one.
 *
 * These are metadata operations of microseconds on a local volume, done synchronously: through
 * the thread pool each one waited an event-loop turn, which under load is several milliseconds,
 * and a handoff's target does them while the guild is paused.
 */
export function moveAside(paths: GuildPaths, guildId: string, wallMs: number): string | undefined {
  const files = paths.dbFiles(guildId);
  const suffix = paths.asideSuffix(wallMs);
  let moved: string | undefined;
  for (const f of [files.db, files.wal, files.shm]) {
    if (!existsSync(f)) continue;
    renameSync(f, `${f}${suffix}`);
    if (f === files.db) moved = `${f}${suffix}`;
  }
  rmSync(paths.litestreamMetaDir(guildId), { recursive: true, force: true });
  return moved;
}

/** Rename a checked scratch file into place as the guild's database (synchronous: see moveAside). */
export function placeFile(paths: GuildPaths, guildId: string, scratch: string): void {
  renameSync(scratch, paths.dbFile(guildId));
}

/** Copies up to this size are written synchronously: into the page cache that is well under a millisecond. */
const SYNC_WRITE_MAX = 4 * 1024 * 1024;

/**
 * Write bytes to a new scratch file, without fsync: a process crash keeps the page cache, and
 * after an OS crash this pod's guild files are not reused (data-source.ts); the fsync cost a
 * handoff's target 100-400 ms on a busy disk. Small files are written synchronously (three
 * thread-pool round trips cost three event-loop turns); large ones off the event loop.
 */
export async function writeScratch(path: string, bytes: Buffer): Promise<void> {
  if (bytes.length <= SYNC_WRITE_MAX) {
    writeFileSync(path, bytes, { flag: 'wx', mode: 0o600 });
    return;
  }
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
  } finally {
    await fh.close();
  }
}

/**
 * A candidate file must be a readable SQLite database of this guild: `quick_check` passes and
 * its meta table (when it has one) names the guild. Returns a problem, or undefined when fine.
 */
export function checkCandidate(path: string, guildId: string): string | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const qc = db.pragma('quick_check', { simple: true }) as string;
    if (qc !== 'ok') return `quick_check: ${qc}`;
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    if (hasMeta) {
      const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'guild_id'").get();
      if (row && row.value !== guildId) return `file belongs to guild ${row.value}`;
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    db?.close();
  }
}

export function assertCandidate(path: string, guildId: string): void {
  const problem = checkCandidate(path, guildId);
  if (problem) throw new GuildDataError('WRONG_GUILD_FILE', `guild ${guildId}: candidate database rejected: ${problem}`, guildId);
}

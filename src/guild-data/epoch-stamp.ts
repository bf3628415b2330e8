// The epoch a guild file serves, as its meta table records it. A claim's restore stamps the new
// epoch into its scratch file where the file is read (a replica reader thread), together with
// folding the WAL in, so that adopting it on the event loop writes nothing and syncs nothing:
// the stamp and its truncating checkpoint with fsyncs were a seventh of a failover survivor's
// saturated event loop (V8 profile, 400 guilds per gateway).
import Database from 'better-sqlite3';

/** Write `epoch` (and when, wall ms) into an open guild file's meta table. */
export function stampEpoch(raw: Database.Database, epoch: number, atMs: number): void {
  raw.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?), ('epoch_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(epoch), String(atMs));
}

/**
 * Stamp `epoch` into the scratch file at `path` (nothing else has it open) and fold the WAL into
 * it. Only a file with a meta table at a lower or equal epoch is stamped; anything else is left
 * for adopt() to judge (it refuses an epoch regression). No fsync: a scratch file is checked and
 * renamed into place, and after an OS crash the pod's files are not reused. Returns whether it
 * stamped.
 */
export function stampScratchFile(path: string, epoch: number, atMs: number): boolean {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('synchronous = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get()) return false;
    const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'epoch'").get();
    if (row && !(Number(row.value) <= epoch)) return false;
    stampEpoch(db, epoch, atMs);
    db.pragma('wal_checkpoint(TRUNCATE)');
    return true;
  } finally {
    db.close();
  }
}

// The epoch a guild's local database file records, read without opening it for writing.
// A pod that stopped a guild at epoch E (a deadline passed while its event loop was starved) and
// then re-acquires the same lease at E has, in that file, the newest data of E: nobody else can
// write under E. Reusing it beats restoring from the replica, which may lag and would make the
// replay apply again what the file already holds.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function localFileEpoch(dataDir: string, guildId: string): number | undefined {
  const file = join(dataDir, 'guilds', `${guildId}.sqlite3`);
  if (!existsSync(file)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'epoch'").get();
    const epoch = Number(row?.value);
    return Number.isSafeInteger(epoch) && epoch > 0 ? epoch : undefined;
  } catch {
    return undefined; // unreadable: the restore path decides what to do with it
  } finally {
    db?.close();
  }
}

// The epoch a guild's local database file records, read without opening it for writing.
// A pod that stopped a guild at epoch E (a deadline passed while its event loop was starved) and
// then re-acquires the same lease at E has, in that file, the newest data of E: nobody else can
// write under E. Reusing it beats restoring from the replica, which may lag and would make the
// replay apply again what the file already holds.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isBusy, retryBusy, SYNC_BUSY_MS } from '../guild-data/busy.js';

/**
 * The file's epoch, or undefined when there is no readable file. A file that stays locked (by
 * Litestream) past `busyBudgetMs` throws SQLITE_BUSY rather than reading as "no file": a
 * restore would then replace writes that may exist only here.
 */
export async function localFileEpoch(dataDir: string, guildId: string, busyBudgetMs = 5000): Promise<number | undefined> {
  const file = join(dataDir, 'guilds', `${guildId}.sqlite3`);
  if (!existsSync(file)) return undefined;
  return retryBusy(busyBudgetMs, () => readEpoch(file));
}

function readEpoch(file: string): number | undefined {
  let db: Database.Database | undefined;
  try {
    // Its busy handler sleeps on the event loop's thread: a few ms, then retryBusy waits on timers.
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: SYNC_BUSY_MS });
    const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'epoch'").get();
    const epoch = Number(row?.value);
    return Number.isSafeInteger(epoch) && epoch > 0 ? epoch : undefined;
  } catch (err) {
    if (isBusy(err)) throw err;
    return undefined; // unreadable: the restore path decides what to do with it
  } finally {
    db?.close();
  }
}

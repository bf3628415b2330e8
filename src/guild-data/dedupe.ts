// The per-guild dedupe table: which event keys have been applied, under which epoch.
import type { Kysely } from 'kysely';
import type { GuildSchema } from './schema.js';

type Db = Kysely<GuildSchema>;

export async function isApplied(db: Db, key: string): Promise<boolean> {
  const row = await db.selectFrom('dedupe').select('key').where('key', '=', key).executeTakeFirst();
  return row !== undefined;
}

export async function recordApplied(db: Db, key: string, epoch: number, appliedAt: number): Promise<void> {
  await db.insertInto('dedupe').values({ key, epoch, applied_at: appliedAt }).execute();
}

/**
 * Forget keys applied before `before` (wall ms). A key only has to outlive the longest replay
 * window (failover buffer + replication lag + restore time) and Discord's nonce window.
 */
export async function pruneDedupe(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('dedupe').where('applied_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

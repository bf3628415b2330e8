// The retention clock of guilds the bot was removed from, in Postgres: which left guilds are past
// the retention, the purge of one (fenced against a rejoin by a row lock), and the advisory lock
// that lets one pod at a time run the purge. Plain functions over the store's Kysely handle.
import { sql, type Kysely } from 'kysely';
import type { StoreSchema } from './schema.js';

export interface LeftGuild {
  readonly guildId: string;
  /** The last committed epoch: every replica path of the guild is at or below it. */
  readonly epoch: number;
  readonly dataEpoch: number | null;
  readonly leftAt: Date;
}

type Db = Kysely<StoreSchema>;

/** `left_at` lies at least `retentionMs` before Postgres's now (one clock for every pod). */
const expired = (retentionMs: number) => sql<boolean>`left_at <= now() - make_interval(secs => ${retentionMs / 1000}::double precision)`;

/**
 * GUILD_DELETE for a guild nobody holds a lease on (its owner was down): start its clock here.
 * A guild already left keeps its first time. Returns whether a row changed.
 */
export async function markLeft(db: Db, guildId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('guild_assignments')
      .set({ owner: null, state: 'left', left_at: sql<Date>`now()`, purged_at: null, updated_at: sql`now()` })
      .where('guild_id', '=', guildId)
      .where('state', '<>', 'left')
      .executeTakeFirst();
    const changed = Number(r.numUpdatedRows) > 0;
    if (changed) await trx.insertInto('assignment_log').values({ guild_id: guildId, kind: 'left', detail: JSON.stringify({ reason: 'guild_delete', unowned: true }) }).execute();
    return changed;
  });
}

/** Left guilds past the retention whose data has not been deleted yet, oldest first. */
export async function dueForPurge(db: Db, retentionMs: number, limit = 100): Promise<LeftGuild[]> {
  const rows = await db
    .selectFrom('guild_assignments')
    .select(['guild_id', 'epoch', 'data_epoch', 'left_at'])
    .where('state', '=', 'left')
    .where('purged_at', 'is', null)
    .where('left_at', 'is not', null)
    .where(expired(retentionMs))
    .orderBy('left_at')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ guildId: r.guild_id, epoch: Number(r.epoch), dataEpoch: r.data_epoch === null ? null : Number(r.data_epoch), leftAt: r.left_at as Date }));
}

/**
 * Start deleting a left guild's data: under a row lock, check it is still left and past the
 * retention, and clear its data_epoch, so a claim that commits after this (the bot rejoined)
 * starts empty instead of restoring from a path being deleted; a claim that committed before
 * made the guild active and this returns undefined. Replica paths at or below the returned
 * epoch may then be deleted: a new owner writes only above it.
 */
export async function beginPurge(db: Db, guildId: string, retentionMs: number): Promise<LeftGuild | undefined> {
  return db.transaction().execute(async (trx) => {
    const r = await trx
      .selectFrom('guild_assignments')
      .select(['guild_id', 'epoch', 'data_epoch', 'left_at'])
      .where('guild_id', '=', guildId)
      .where('state', '=', 'left')
      .where('purged_at', 'is', null)
      .where('left_at', 'is not', null)
      .where(expired(retentionMs))
      .forUpdate()
      .executeTakeFirst();
    if (!r) return undefined;
    await trx.updateTable('guild_assignments').set({ data_epoch: null, updated_at: sql`now()` }).where('guild_id', '=', guildId).execute();
    return { guildId, epoch: Number(r.epoch), dataEpoch: r.data_epoch === null ? null : Number(r.data_epoch), leftAt: r.left_at as Date };
  });
}

/** The data is gone: stamp purged_at (unless the bot rejoined meanwhile) and log what was deleted. */
export async function finishPurge(db: Db, g: LeftGuild, detail: Record<string, unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Still left with no data_epoch: the same leave this purge began on (a rejoin made it active,
    // and new data under a new epoch would have set data_epoch). Stamped, it is never purged again;
    // a crash before this line only means the next sweep deletes the same paths once more.
    await trx.updateTable('guild_assignments').set({ purged_at: sql<Date>`now()` }).where('guild_id', '=', g.guildId).where('state', '=', 'left').where('purged_at', 'is', null).where('data_epoch', 'is', null).execute();
    await trx.insertInto('assignment_log').values({ guild_id: g.guildId, kind: 'purged', epoch: g.epoch, data_epoch: g.dataEpoch, detail: JSON.stringify({ ...detail, leftAt: g.leftAt.toISOString() }) }).execute();
  });
}

/** Of `guildIds`, those left longer than the retention (their local files may go). */
export async function leftPastRetention(db: Db, guildIds: readonly string[], retentionMs: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < guildIds.length; i += 5000) {
    const chunk = guildIds.slice(i, i + 5000);
    const rows = await db.selectFrom('guild_assignments').select('guild_id').where('guild_id', 'in', chunk).where('state', '=', 'left').where('left_at', 'is not', null).where(expired(retentionMs)).execute();
    for (const r of rows) out.add(r.guild_id);
  }
  return out;
}

/**
 * Run `fn` while holding the schema's retention lock (a session advisory lock on one pooled
 * connection); when another pod holds it, do nothing and return `{ ran: false }`.
 */
export async function withRetentionLock<T>(db: Db, schema: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
  const key = `leasehold-retention:${schema}`;
  return db.connection().execute(async (conn) => {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext(${key})) as ok`.execute(conn);
    if (got.rows[0]?.ok !== true) return { ran: false as const };
    try {
      return { ran: true as const, value: await fn() };
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

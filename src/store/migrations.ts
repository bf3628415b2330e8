// Migrations of the assignment store, as a static map in code (Kysely's Migrator).
// assignment_log is append-only and partitioned by month (DESIGN §12).
import { sql, type Kysely, type Migration } from 'kysely';

const migrations: Record<string, Migration> = {
  '2026_11_01_001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('pods')
        .addColumn('pod_id', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('addr', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('last_seen', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('guild_assignments')
        .addColumn('guild_id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text')
        .addColumn('epoch', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`epoch >= 0`))
        .addColumn('data_epoch', 'bigint', (c) => c.check(sql`data_epoch is null or data_epoch <= epoch`))
        .addColumn('pinned_to', 'text')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active').check(sql`state in ('active', 'released', 'left')`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('guild_assignments_owner').on('guild_assignments').column('owner').execute();
      await sql`
        create table assignment_log (
          id bigint generated always as identity,
          at timestamptz not null default now(),
          guild_id text not null,
          kind text not null,
          owner text,
          epoch bigint,
          data_epoch bigint,
          from_owner text,
          detail jsonb,
          primary key (id, at)
        ) partition by range (at)`.execute(db);
      await sql`create table assignment_log_default partition of assignment_log default`.execute(db);
      await sql`create index assignment_log_guild on assignment_log (guild_id, at)`.execute(db);
      await db.schema
        .createTable('cordons')
        .addColumn('pod_id', 'text', (c) => c.primaryKey())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  // The retention clock of guilds the bot was removed from (GUILD_DELETE): when it left, and
  // when its data (replicas, files) was deleted after the retention. A rejoin clears left_at.
  '2026_11_02_001_guild_retention': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('guild_assignments').addColumn('left_at', 'timestamptz').execute();
      await db.schema.alterTable('guild_assignments').addColumn('purged_at', 'timestamptz').execute();
      await sql`create index guild_assignments_left on guild_assignments (left_at) where state = 'left' and purged_at is null`.execute(db);
    },
  },
};

/**
 * Apply every migration not yet recorded, in name order, each in its own transaction; throws on
 * the first failure. The caller holds the migration advisory lock. (Kysely's Migrator looks its
 * table up through catalog introspection, which fails when another schema is dropped at the
 * same moment — tests do that all the time, and so may an operator.)
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  await sql`create table if not exists leasehold_migrations (name text primary key, applied_at timestamptz not null default now())`.execute(db);
  const done = new Set((await sql<{ name: string }>`select name from leasehold_migrations`.execute(db)).rows.map((r) => r.name));
  const applied: string[] = [];
  for (const name of Object.keys(migrations).sort()) {
    if (done.has(name)) continue;
    await db.transaction().execute(async (trx) => {
      await (migrations[name] as Migration).up(trx);
      await sql`insert into leasehold_migrations (name) values (${name})`.execute(trx);
    });
    applied.push(name);
  }
  return applied;
}

/** Monthly partitions of assignment_log for this month and the next two (idempotent). */
export async function ensureLogPartitions(db: Kysely<unknown>, now = new Date()): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i + 1, 1));
    const name = `assignment_log_${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    await sql`
      do $$ begin
        if to_regclass(${sql.lit(name)}) is null then
          execute format('create table %I partition of assignment_log for values from (%L) to (%L)', ${sql.lit(name)}, ${sql.lit(from.toISOString())}, ${sql.lit(to.toISOString())});
        end if;
      exception when others then
        raise notice 'partition % not created: %', ${sql.lit(name)}, sqlerrm;
      end $$`.execute(db);
  }
}

// Per-guild schema migrations, a static map in code, run whenever a guild file is opened.
// `user_version` mirrors the number of applied migrations so an up-to-date file skips the
// Migrator entirely (opening thousands of guilds must stay cheap).
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type Database from 'better-sqlite3';

const migrations: Record<string, Migration> = {
  '2026_11_01_001_guild_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .modifyEnd(sql`without rowid`)
        .execute();
      await db.schema
        .createTable('activity')
        .addColumn('channel_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('activity_pk', ['channel_id', 'user_id', 'day'])
        .modifyEnd(sql`without rowid`)
        .execute();
      await db.schema.createIndex('activity_day').on('activity').column('day').execute();
      await db.schema
        .createTable('settings')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('moderator_role_id', 'text')
        .addColumn('log_channel_id', 'text')
        .addColumn('alert_keywords', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('reports')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('channel_id', 'text', (c) => c.notNull())
        .addColumn('reporter_id', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('open').check(sql`status in ('open', 'resolved', 'dismissed')`))
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('reports_status').on('reports').columns(['status', 'id']).execute();
      await db.schema
        .createTable('dedupe')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('applied_at', 'integer', (c) => c.notNull())
        .addColumn('epoch', 'integer', (c) => c.notNull())
        .modifyEnd(sql`without rowid`)
        .execute();
      await db.schema.createIndex('dedupe_applied_at').on('dedupe').column('applied_at').execute();
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('dedupe_key', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('sent_at', 'integer')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .execute();
      // The sender scans only unsent rows; a partial index keeps that cheap as sent rows pile up.
      await sql`create index outbox_pending on outbox (id) where sent_at is null`.execute(db);
    },
  },
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

export const GUILD_SCHEMA_VERSION = Object.keys(migrations).length;

/** Bring a guild file to the latest schema; throws if a migration fails. */
export async function migrateGuildDb(db: Kysely<unknown>, raw: Database.Database): Promise<void> {
  const version = raw.pragma('user_version', { simple: true }) as number;
  if (version === GUILD_SCHEMA_VERSION) return;
  if (version > GUILD_SCHEMA_VERSION) throw new Error(`guild file has schema version ${version}, newer than this build's ${GUILD_SCHEMA_VERSION}`);
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`guild migration ${failed ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  raw.pragma(`user_version = ${GUILD_SCHEMA_VERSION}`);
}

// Kysely's SQLite driver prepares every query it runs afresh. The event pipeline runs the same
// handful of statements (dedupe check, activity upsert, settings, outbox) for every event, and
// at a failover's replay rate that preparing was about 7 % of the gateway's event loop (V8
// profile of the 400-guilds-per-gateway bench). Each guild's connection keeps its recently used
// statements instead, a small LRU: a statement holds a few KiB of SQLite's memory, and a pod
// keeps up to GUILD_DB_MAX_OPEN files open.
//
// Safe to reuse: the driver runs one query at a time per connection (its mutex, held by a
// stream until it ends), and SQLite re-prepares a statement itself after a schema change.
import type Database from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export const DEFAULT_STATEMENTS_PER_DB = 24;

export interface CachingDatabase extends SqliteDatabase {
  /** Statements held now (for tests and the memory estimate). */
  readonly cached: number;
}

/** `raw` as Kysely's SqliteDialect wants it, with `prepare` answered from an LRU of `max` statements. */
export function cachingDatabase(raw: Database.Database, max = DEFAULT_STATEMENTS_PER_DB): CachingDatabase {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`statement cache size must be a positive integer, got ${max}`);
  const lru = new Map<string, SqliteStatement>();
  return {
    get cached() {
      return lru.size;
    },
    prepare(sql: string): SqliteStatement {
      const hit = lru.get(sql);
      if (hit) {
        lru.delete(sql);
        lru.set(sql, hit);
        return hit;
      }
      const stmt = raw.prepare(sql);
      lru.set(sql, stmt);
      // Evicted statements are finalized by better-sqlite3 once garbage collected (and all of them at close).
      if (lru.size > max) lru.delete(lru.keys().next().value as string);
      return stmt;
    },
    close(): void {
      lru.clear();
      raw.close();
    },
  };
}

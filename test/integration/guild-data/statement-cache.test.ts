// The per-connection statement LRU under Kysely, on a real SQLite file: repeated queries reuse
// one prepared statement, the cache stays at its bound, results stay right across a schema
// change, and a streamed query still works.
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachingDatabase, type CachingDatabase } from '../../../src/guild-data/statement-cache.js';
import { tempDirs, type TempDirs } from './helpers.js';

interface Schema {
  t: { id: number; v: string };
}

let dirs: TempDirs;
let raw: Database.Database;
let prepared: string[];
let cache: CachingDatabase;
let db: Kysely<Schema>;
let files = 0;

function open(max?: number) {
  raw = new Database(join(dirs.root, `g${++files}.sqlite3`));
  prepared = [];
  // Count what reaches SQLite's prepare: the real method, only observed.
  const real = raw.prepare.bind(raw);
  raw.prepare = ((source: string) => {
    prepared.push(source);
    return real(source);
  }) as typeof raw.prepare;
  cache = cachingDatabase(raw, max);
  db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cache }) });
}

beforeEach(async () => {
  dirs = tempDirs();
  open(3);
  await db.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'text', (c) => c.notNull()).execute();
});

afterEach(async () => {
  await db.destroy();
  dirs.cleanup();
});

describe('cachingDatabase', () => {
  it('prepares a repeated query once and returns the right rows every time', async () => {
    for (let i = 1; i <= 20; i++) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute();
    for (let i = 1; i <= 20; i++) expect(await db.selectFrom('t').select('v').where('id', '=', i).executeTakeFirst()).toEqual({ v: `v${i}` });
    const inserts = prepared.filter((s) => s.startsWith('insert into "t"'));
    const selects = prepared.filter((s) => s.startsWith('select "v" from "t"'));
    expect(inserts).toHaveLength(1);
    expect(selects).toHaveLength(1);
    const r = await db.updateTable('t').set({ v: 'x' }).where('id', '<=', 5).executeTakeFirst();
    expect(r.numUpdatedRows).toBe(5n);
  });

  it('keeps at most its bound, evicting the least recently used', async () => {
    const q = (n: number) => sql<{ n: number }>`select ${sql.lit(n)} as n`.execute(db);
    await q(1);
    await q(2);
    await q(3);
    await q(1); // 1 is now the most recent; 2 the least
    await q(4); // evicts 2
    expect(cache.cached).toBe(3);
    const before = prepared.length;
    await q(1);
    await q(3);
    await q(4);
    expect(prepared.length).toBe(before);
    expect((await q(2)).rows).toEqual([{ n: 2 }]);
    expect(prepared.length).toBe(before + 1);
  });

  it('a cached statement sees a schema change made after it was prepared', async () => {
    await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
    expect(await sql`select * from t`.execute(db).then((r) => r.rows)).toEqual([{ id: 1, v: 'a' }]);
    await sql`alter table t add column w text not null default 'w'`.execute(db);
    expect(await sql`select * from t`.execute(db).then((r) => r.rows)).toEqual([{ id: 1, v: 'a', w: 'w' }]);
  });

  it('streams a select through a cached statement, and runs it again after the stream ends', async () => {
    for (let i = 1; i <= 5; i++) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute();
    const query = db.selectFrom('t').select('id').orderBy('id');
    const seen: number[] = [];
    for await (const row of query.stream()) seen.push(row.id);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect((await query.execute()).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => cachingDatabase(raw, 0)).toThrow(/positive integer/);
    expect(() => cachingDatabase(raw, 1.5)).toThrow(/positive integer/);
  });

  it('closing it closes the database', async () => {
    await db.destroy();
    expect(raw.open).toBe(false);
    open();
  });
});

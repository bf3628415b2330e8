// Per-guild SQLite behaviour on real files: fenced writes, apply-once with the outbox, the
// feature queries, idle closing, and the handoff copy. (Replication is covered in replication.test.ts.)
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FencedError } from '../../../src/cluster/errors.js';
import { FakeClock } from '../../../src/clock.js';
import {
  GuildDatabases,
  GuildDataError,
  activityStats,
  countMessage,
  createReport,
  exportGuild,
  getSettings,
  installGuild,
  listReports,
  matchingKeywords,
  outboxFor,
  pendingOutbox,
  saveSettings,
  setReportStatus,
  type GuildKysely,
} from '../../../src/guild-data/index.js';
import { newGuildId, tempDirs, testFence, type TempDirs } from './helpers.js';

let dirs: TempDirs;
let dbs: GuildDatabases;

beforeEach(() => {
  dirs = tempDirs();
  dbs = new GuildDatabases({ dataDir: dirs.dataDir('pod-a') });
});
afterEach(async () => {
  await dbs.stop();
  dirs.cleanup();
});

async function createGuild(d: GuildDatabases, guildId: string, epoch: number): Promise<void> {
  const r = await d.reserve(guildId);
  await r.adopt(epoch);
}

const countRows = (db: GuildKysely) => db.selectFrom('activity').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();

describe('fenced writes', () => {
  it('a write under the epoch the file was opened at commits', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 3);
    const fence = testFence(g, 3);
    await dbs.write(fence, (trx) => countMessage(trx, { channelId: 'c1', userId: 'u1', day: '2026-01-01' }));
    expect((await dbs.read(fence, countRows)).n).toBe(1);
  });

  it('a write under another epoch throws FencedError and changes nothing', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 3);
    for (const epoch of [2, 4]) {
      const err = await dbs.write(testFence(g, epoch), (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FencedError);
      expect((err as FencedError).reason).toBe(epoch < 3 ? 'stale_epoch' : 'epoch');
    }
    expect((await dbs.read(testFence(g, 3), countRows)).n).toBe(0);
  });

  it('a write whose deadline passed throws FencedError and changes nothing', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    fence.expireIn(0);
    await expect(dbs.write(fence, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }))).rejects.toMatchObject({ name: 'FencedError', reason: 'deadline' });
    expect((await dbs.read(testFence(g, 1), countRows)).n).toBe(0);
  });

  it('a deadline that passes while the transaction runs rolls the whole transaction back', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    const err = await dbs
      .write(fence, async (trx) => {
        await countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' });
        fence.expireIn(0); // the pod was paused mid-transaction
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((await dbs.read(testFence(g, 1), countRows)).n).toBe(0);
  });

  it('the epoch check reads the file, so a handle opened earlier cannot write past a newer epoch', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const old = testFence(g, 1);
    await dbs.use(old, async (db) => {
      await db.recordEpoch(2); // a newer owner's epoch recorded in the same file
      await expect(db.write(old, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }))).rejects.toMatchObject({ reason: 'stale_epoch' });
    });
  });

  it('a guild that was never restored, installed or created cannot be opened (never silently empty)', async () => {
    const g = newGuildId();
    await expect(dbs.write(testFence(g, 1), () => undefined)).rejects.toMatchObject({ code: 'GUILD_NOT_RESTORED' });
    expect(existsSync(dbs.paths.dbFile(g))).toBe(false);
  });

  it('a guild id that is not a snowflake is refused before it names a path', async () => {
    await expect(dbs.write(testFence('../etc/passwd', 1), () => undefined)).rejects.toBeInstanceOf(GuildDataError);
  });
});

describe('applyOnce', () => {
  it('applies an event once: a repeat is reported as a duplicate and changes nothing', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 5);
    const fence = testFence(g, 5);
    let runs = 0;
    const apply = () =>
      dbs.applyOnce(fence, 'msg:1', async (trx) => {
        runs++;
        await countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' });
        return [{ kind: 'alert', payload: { channel: 'log', text: 'hi' }, nonce: 'n-msg-1-0' }];
      });
    const first = await apply();
    expect(first.duplicate).toBe(false);
    expect(first.duplicate === false && first.outbox.map((o) => [o.kind, o.nonce, o.payload])).toEqual([['alert', 'n-msg-1-0', { channel: 'log', text: 'hi' }]]);
    expect(await apply()).toMatchObject({ duplicate: true });
    expect(runs).toBe(1);
    expect((await dbs.read(fence, countRows)).n).toBe(1);
    expect(await dbs.read(fence, (db) => pendingOutbox(db))).toHaveLength(1);
  });

  it('a state change that throws leaves no dedupe key, no outbox row and no state', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    await expect(
      dbs.applyOnce(fence, 'msg:2', async (trx) => {
        await countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' });
        throw new Error('handler bug');
      }),
    ).rejects.toThrow('handler bug');
    expect((await dbs.read(fence, countRows)).n).toBe(0);
    expect(await dbs.read(fence, (db) => outboxFor(db, 'msg:2'))).toEqual([]);
    const again = await dbs.applyOnce(fence, 'msg:2', () => [{ kind: 'alert', payload: 1, nonce: 'n2' }]);
    expect(again.duplicate).toBe(false);
  });

  it('reports when the fence last held, even if the process stalled before the commit returned', async () => {
    // A pause right after the last fence check (SIGSTOP, a stalled VM): the clock jumps 5 s
    // while COMMIT runs. The write was decided under the lease at the check, and the record says so.
    const clock = new FakeClock();
    const stalling = new GuildDatabases({
      dataDir: dirs.dataDir('pod-stall'),
      clock,
      replication: { add: () => undefined, remove: async () => true, detach: async () => true, isAttached: () => false, forget: () => undefined, noteWrite: () => clock.advance(5000) },
    });
    try {
      const g = newGuildId();
      await createGuild(stalling, g, 1);
      const checkedAt = clock.wallNow();
      const r = await stalling.applyOnce(testFence(g, 1), 'msg:stall', () => undefined);
      expect(r.fencedAt).toBe(checkedAt);
      expect(clock.wallNow()).toBe(checkedAt + 5000);
    } finally {
      await stalling.stop();
    }
  });

  it('a fenced applyOnce records neither the key nor its outbox rows', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 2);
    const stale = testFence(g, 2);
    stale.revoke();
    await expect(dbs.applyOnce(stale, 'msg:3', () => [{ kind: 'alert', payload: 1, nonce: 'n3' }])).rejects.toBeInstanceOf(FencedError);
    const fresh = testFence(g, 2);
    expect(await dbs.read(fresh, (db) => db.selectFrom('dedupe').selectAll().execute())).toEqual([]);
    expect(await dbs.read(fresh, (db) => pendingOutbox(db))).toEqual([]);
  });

  it('outbox rows are marked sent or failed under a valid fence only', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    const r = await dbs.applyOnce(fence, 'int:9', () => [
      { kind: 'reply', payload: { content: 'a' }, nonce: 'a' },
      { kind: 'log', payload: { content: 'b' }, nonce: 'b' },
    ]);
    if (r.duplicate) throw new Error('unexpected duplicate');
    const [a, b] = r.outbox;
    await dbs.use(fence, (db) => db.markSent(fence, a!.id));
    await dbs.use(fence, (db) => db.markFailed(fence, b!.id, 'HTTP 500'));
    const stale = testFence(g, 1);
    stale.revoke();
    await expect(dbs.use(stale, (db) => db.markSent(stale, b!.id))).rejects.toBeInstanceOf(FencedError);
    const pending = await dbs.read(fence, (db) => pendingOutbox(db));
    expect(pending.map((p) => [p.id, p.attempts, p.lastError])).toEqual([[b!.id, 1, 'HTTP 500']]);
  });
});

describe('feature queries', () => {
  it('count activity per channel, user and day and report stats', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    await dbs.write(fence, async (trx) => {
      await countMessage(trx, { channelId: 'c1', userId: 'u1', day: '2026-01-01' });
      await countMessage(trx, { channelId: 'c1', userId: 'u1', day: '2026-01-01' });
      await countMessage(trx, { channelId: 'c2', userId: 'u2', day: '2026-01-02' });
    });
    const all = await dbs.read(fence, (db) => activityStats(db));
    expect(all.total).toBe(3);
    expect(all.byChannel).toEqual([{ channelId: 'c1', count: 2 }, { channelId: 'c2', count: 1 }]);
    expect(all.topUsers[0]).toEqual({ userId: 'u1', count: 2 });
    expect((await dbs.read(fence, (db) => activityStats(db, { sinceDay: '2026-01-02' }))).total).toBe(1);
  });

  it('store settings partially and match alert keywords', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    await dbs.write(fence, (trx) => saveSettings(trx, { moderatorRoleId: 'r1', alertKeywords: ['Spam', 'scam'] }, 1000));
    await dbs.write(fence, (trx) => saveSettings(trx, { logChannelId: 'l1' }, 2000));
    const s = await dbs.read(fence, (db) => getSettings(db));
    expect(s).toEqual({ moderatorRoleId: 'r1', logChannelId: 'l1', alertKeywords: ['Spam', 'scam'], updatedAt: 2000 });
    expect(matchingKeywords(s, 'this is SPAM, not a scam')).toEqual(['Spam', 'scam']);
  });

  it('store reports and list the open ones', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    const r1 = await dbs.write(fence, (trx) => createReport(trx, { messageId: 'm1', channelId: 'c', reporterId: 'a', targetId: 'b', reason: 'rude', createdAt: 1 }));
    await dbs.write(fence, (trx) => createReport(trx, { messageId: 'm2', channelId: 'c', reporterId: 'a', targetId: 'b', reason: 'spam', createdAt: 2 }));
    await dbs.write(fence, (trx) => setReportStatus(trx, r1.id, 'resolved'));
    expect((await dbs.read(fence, (db) => listReports(db, { status: 'open' }))).map((r) => r.messageId)).toEqual(['m2']);
  });
});

describe('idle closing', () => {
  it('closes idle guilds after a checkpoint that leaves no WAL, and reopens them on demand', async () => {
    const clock = new FakeClock();
    const local = new GuildDatabases({ dataDir: dirs.dataDir('pod-idle'), idleCloseMs: 1000, clock });
    const [g1, g2] = [newGuildId(), newGuildId()];
    await createGuild(local, g1, 1);
    await createGuild(local, g2, 1);
    await local.write(testFence(g1, 1), (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }));
    clock.advance(600);
    await local.write(testFence(g2, 1), (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }));
    clock.advance(500);
    expect(await local.sweep()).toEqual([g1]);
    expect(local.isOpen(g1)).toBe(false);
    expect(local.isOpen(g2)).toBe(true);
    const wal = `${local.paths.dbFile(g1)}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
    expect((await local.read(testFence(g1, 1), countRows)).n).toBe(1);
    expect(local.isOpen(g1)).toBe(true);
    await local.stop();
  });

  it('keeps at most maxOpen guilds open, closing the least recently used', async () => {
    const clock = new FakeClock();
    const local = new GuildDatabases({ dataDir: dirs.dataDir('pod-lru'), idleCloseMs: 3_600_000, maxOpen: 2, clock });
    const ids = [newGuildId(), newGuildId(), newGuildId()];
    for (const g of ids) {
      await createGuild(local, g, 1);
      clock.advance(10);
    }
    await local.sweep();
    expect(local.openGuilds().sort()).toEqual([ids[1], ids[2]].sort());
    await local.stop();
  });

  it('never closes a guild while an operation on it is in flight', async () => {
    const clock = new FakeClock();
    const local = new GuildDatabases({ dataDir: dirs.dataDir('pod-busy'), idleCloseMs: 10, clock });
    const g = newGuildId();
    await createGuild(local, g, 1);
    const fence = testFence(g, 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const op = local.use(fence, async (db) => {
      await gate;
      return db.write(fence, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }));
    });
    clock.advance(1000);
    expect(await local.sweep()).toEqual([]);
    release();
    await op;
    expect((await local.read(fence, countRows)).n).toBe(1);
    await local.stop();
  });
});

describe('handoff copy', () => {
  it('export/install hands over every committed row and the old target file is moved aside', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 4);
    const fence = testFence(g, 4);
    for (let i = 0; i < 500; i++) await dbs.applyOnce(fence, `msg:${i}`, (trx) => countMessage(trx, { channelId: `c${i % 7}`, userId: `u${i}`, day: '2026-01-01' }));
    const target = new GuildDatabases({ dataDir: dirs.dataDir('pod-b') });
    await createGuild(target, g, 2); // a stale file from an earlier ownership
    const copy = await exportGuild(dbs, g, fence);
    expect(copy.sourceEpoch).toBe(4);
    const installed = await installGuild(target, g, copy, 5);
    expect(installed.movedAside).toMatch(/\.aside-\d+$/);
    expect(existsSync(installed.movedAside as string)).toBe(true);
    const f5 = testFence(g, 5);
    expect((await target.read(f5, countRows)).n).toBe(500);
    // The dedupe keys travel too: a replayed event is a duplicate on the new owner.
    expect(await target.applyOnce(f5, 'msg:7', () => undefined)).toMatchObject({ duplicate: true });
    await expect(target.write(testFence(g, 4), () => undefined)).rejects.toBeInstanceOf(FencedError);
    await target.stop();
  });

  it('a copy that does not match its checksum is refused and the target file is untouched', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const copy = await exportGuild(dbs, g, testFence(g, 1));
    const target = new GuildDatabases({ dataDir: dirs.dataDir('pod-c') });
    const bytes = Buffer.from(copy.bytes);
    const last = bytes.length - 1;
    bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last);
    await expect(installGuild(target, g, { ...copy, bytes }, 2)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(existsSync(target.paths.dbFile(g))).toBe(false);
    expect(readdirSync(target.paths.guildsDir).filter((f) => f.includes('aside'))).toEqual([]);
    await target.stop();
  });

  it('an export needs a valid fence', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    fence.revoke();
    await expect(exportGuild(dbs, g, fence)).rejects.toBeInstanceOf(FencedError);
  });
});

describe('a file locked by another process (Litestream holding the write lock)', () => {
  /** The longest gap between 5 ms ticks while `p` runs: how long the event loop stood still. */
  async function longestStall<T>(p: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; stallMs: number }> {
    let last = performance.now();
    let worst = 0;
    const t = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    try {
      const [result] = await Promise.allSettled([p()]);
      // A block that ends just before `p` settles leaves no tick behind it: count up to now.
      return { result: result as PromiseSettledResult<T>, stallMs: Math.max(worst, performance.now() - last) };
    } finally {
      clearInterval(t);
    }
  }

  it('a write waits for the lock on timers, not on the event loop, and commits once it is free', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 3);
    const fence = testFence(g, 3);
    const other = new Database(dbs.paths.dbFile(g));
    other.prepare('BEGIN IMMEDIATE').run();
    // The lock is freed by the loop itself, after 40 turns of a 5 ms timer: that only happens if
    // the waiting write leaves the loop running (SQLite's own busy handler would hold it for 5 s).
    let turns = 0;
    const freer = setInterval(() => {
      if (++turns === 40) other.prepare('COMMIT').run();
    }, 5);
    const { result, stallMs } = await longestStall(() => dbs.write(fence, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' })));
    clearInterval(freer);
    if (other.inTransaction) other.prepare('ROLLBACK').run();
    other.close();
    expect(result.status).toBe('fulfilled');
    expect(stallMs).toBeLessThan(150);
    expect((await dbs.read(fence, countRows)).n).toBe(1);
  });

  it('a lock held past the budget fails the write with SQLITE_BUSY and changes nothing; the loop ran all along', async () => {
    const g = newGuildId();
    const local = new GuildDatabases({ dataDir: dirs.dataDir('pod-locked'), busyTimeoutMs: 400 });
    try {
      await createGuild(local, g, 3);
      const fence = testFence(g, 3);
      const other = new Database(local.paths.dbFile(g));
      other.prepare('BEGIN IMMEDIATE').run();
      const started = performance.now();
      const { result, stallMs } = await longestStall(() => local.write(fence, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' })));
      const tookMs = performance.now() - started;
      other.prepare('ROLLBACK').run();
      other.close();
      expect(result.status).toBe('rejected');
      expect(((result as PromiseRejectedResult).reason as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
      expect(tookMs).toBeGreaterThanOrEqual(300);
      expect(stallMs).toBeLessThan(150);
      expect((await local.read(fence, countRows)).n).toBe(0);
    } finally {
      await local.stop();
    }
  });
});

describe('a guild file handed to replication', () => {
  it('holds every page itself when adopted, with nothing left only in the WAL (Litestream snapshots the file)', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 3);
    const { db, wal } = dbs.paths.dbFiles(g);
    // The schema, the guild stamp and the epoch were all written through the WAL: a copy of the
    // file alone (what Litestream's first snapshot is) must already have them.
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    const copy = `${db}.copy`;
    copyFileSync(db, copy);
    const alone = new Database(copy, { readonly: true });
    try {
      expect(alone.pragma('quick_check', { simple: true })).toBe('ok');
      expect(alone.prepare("SELECT value FROM meta WHERE key = 'epoch'").pluck().get()).toBe('3');
    } finally {
      alone.close();
    }
  });
});

describe('reservations and stale callers', () => {
  it('a reservation is not starved by users that keep reopening the file behind its close', async () => {
    const g = newGuildId();
    await createGuild(dbs, g, 1);
    const fence = testFence(g, 1);
    await dbs.write(fence, (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }));
    // A busy guild: a user always waiting, as the pipeline's queue is under traffic.
    let reserved = false;
    let ops = 0;
    const users = (async () => {
      while (!reserved && ops < 500) {
        ops++;
        await dbs.read(fence, countRows).catch(() => undefined);
      }
    })();
    await Promise.resolve();
    const r = await dbs.reserve(g);
    reserved = true;
    const opsWhenReserved = ops;
    await r.adopt(2);
    await users;
    // It got the file within a few operations, not after the users gave up.
    expect(opsWhenReserved).toBeLessThan(10);
    await expect(dbs.read(fence, countRows)).rejects.toMatchObject({ reason: 'stale_epoch' });
    expect((await dbs.read(testFence(g, 2), countRows)).n).toBe(1);
  });

  it('a caller whose fence no longer holds is refused without opening (or replicating) the file', async () => {
    const added: string[] = [];
    const replication = { add: (g: string) => void added.push(g), remove: async () => true, detach: async () => true, isAttached: () => false, noteWrite: () => undefined, forget: () => undefined };
    const local = new GuildDatabases({ dataDir: dirs.dataDir('pod-stale'), replication });
    try {
      const g = newGuildId();
      await createGuild(local, g, 1);
      await local.close(g, 'released');
      added.length = 0;
      const fence = testFence(g, 1);
      fence.revoke();
      await expect(local.applyOnce(fence, 'msg:1', (trx) => countMessage(trx, { channelId: 'c', userId: 'u', day: '2026-01-01' }).then(() => []))).rejects.toBeInstanceOf(FencedError);
      expect(local.isOpen(g)).toBe(false);
      expect(added).toEqual([]);
    } finally {
      await local.stop();
    }
  });
});

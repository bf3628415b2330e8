// The gateway's open guild databases: opened on demand for a fence, closed when idle (after
// Litestream has flushed them), and reserved while a restore or install replaces a file.
import { mkdirSync } from 'node:fs';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { GuildDataError } from './errors.js';
import { checkFence, type GuildFence } from './fence.js';
import { GuildDb, type ApplyResult, type Effects, type GuildKysely } from './guild-db.js';
import { pickToClose } from './idle-policy.js';
import { assertGuildId, GuildPaths } from './paths.js';

/** What the databases need from replication (ReplicationManager implements it). */
export interface ReplicationHooks {
  /** Start replicating the guild's file to its epoch's replica path. */
  add(guildId: string, epoch: number): void;
  /**
   * The guild is no longer served here; resolves true when every write noted for it is in the
   * replica. Its file may stay in a running Litestream config afterwards (isAttached).
   */
  remove(guildId: string): Promise<boolean>;
  /** Take the file out of every Litestream config now, before it is replaced or deleted. */
  detach(guildId: string): Promise<boolean>;
  /** Whether a Litestream process still reads (and may checkpoint) the guild's file. */
  isAttached(guildId: string): boolean;
  /** A transaction committed on the guild (replication lag tracking). */
  noteWrite(guildId: string): void;
  /** The guild's file was closed for good: stop counting its unconfirmed writes as lag. */
  forget(guildId: string): void;
}

export interface GuildDatabasesOptions {
  readonly dataDir: string;
  /** Close a guild unused for this long (default 10 minutes). */
  readonly idleCloseMs?: number;
  /** Keep at most this many open (default 2000); the least recently used close first. */
  readonly maxOpen?: number;
  /** How often the idle sweeper runs (default idleCloseMs / 4, between 50 ms and 30 s). */
  readonly sweepEveryMs?: number;
  readonly busyTimeoutMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly replication?: ReplicationHooks;
}

export type CloseReason = 'idle' | 'released' | 'replaced' | 'shutdown';

interface Entry {
  state: 'opening' | 'open' | 'closing' | 'reserved';
  db: Promise<GuildDb>;
  /** Settles when a close or reservation ends; waiters then look again. */
  settled?: Promise<unknown>;
  lastUsedAt: number;
  inFlight: number;
  onDrained?: () => void;
}

/** A guild held for replacement: nothing opens it until adopt() or cancel(). */
export interface Reservation {
  readonly guildId: string;
  /** Open the file now in place as the guild's database at `epoch` and start replicating it. */
  adopt(epoch: number): Promise<GuildDb>;
  cancel(): void;
}

export class GuildDatabases {
  readonly paths: GuildPaths;
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly idleMs: number;
  private readonly maxOpen: number;
  private readonly sweepEveryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<string[]> | undefined;
  /**
   * Guild → settles when its pending reservation ends. Set before the reservation closes the
   * open file, so that a stream of users cannot reopen it behind the close each time and keep
   * the reservation (a handoff install, a restore) waiting forever.
   */
  private readonly reserving = new Map<string, Promise<void>>();

  constructor(private readonly opts: GuildDatabasesOptions) {
    this.paths = new GuildPaths(opts.dataDir);
    mkdirSync(this.paths.guildsDir, { recursive: true });
    mkdirSync(this.paths.scratchDir, { recursive: true });
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.idleMs = opts.idleCloseMs ?? 10 * 60_000;
    this.maxOpen = opts.maxOpen ?? 2000;
    this.sweepEveryMs = opts.sweepEveryMs ?? Math.min(30_000, Math.max(50, Math.floor(this.idleMs / 4)));
  }

  /** Start the idle sweeper. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.logger.error({ err }, 'idle sweep failed')), this.sweepEveryMs);
    this.timer.unref();
  }

  /**
   * Stop the sweeper and close every guild. Call after replication has stopped (which flushed
   * them): shutdown closes do not ask replication to flush one guild at a time.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
    await Promise.all([...this.entries.keys()].map((g) => this.close(g, 'shutdown')));
  }

  /**
   * Run `fn` with the guild's database open, for a caller holding `fence`. The file must have
   * been restored, installed or created at the fence's epoch; the guild is not closed while
   * `fn` runs.
   */
  async use<T>(fence: GuildFence, fn: (db: GuildDb) => Promise<T>): Promise<T> {
    assertGuildId(fence.guildId);
    const { db, entry } = await this.acquire(fence);
    try {
      checkFence(fence, fence.guildId, db.epoch);
      return await fn(db);
    } finally {
      this.release(entry);
    }
  }

  write<T>(fence: GuildFence, fn: (trx: GuildKysely) => Promise<T> | T): Promise<T> {
    return this.use(fence, (db) => db.write(fence, fn));
  }

  applyOnce(fence: GuildFence, dedupeKey: string, fn: (trx: GuildKysely) => Promise<Effects> | Effects): Promise<ApplyResult> {
    return this.use(fence, (db) => db.applyOnce(fence, dedupeKey, fn));
  }

  read<T>(fence: GuildFence, fn: (db: GuildKysely) => Promise<T>): Promise<T> {
    return this.use(fence, (db) => fn(db.kysely));
  }

  isOpen(guildId: string): boolean {
    const s = this.entries.get(guildId)?.state;
    return s === 'open' || s === 'opening';
  }

  openGuilds(): string[] {
    return [...this.entries].filter(([, e]) => e.state === 'open' || e.state === 'opening').map(([g]) => g);
  }

  /**
   * Hold a guild for replacement (restore, install): closes it if open, and makes every other
   * user wait until the reservation adopts a new file or is cancelled.
   */
  async reserve(guildId: string): Promise<Reservation> {
    assertGuildId(guildId);
    // One reservation at a time per guild; from here on users wait for this one.
    for (let r = this.reserving.get(guildId); r !== undefined; r = this.reserving.get(guildId)) await r;
    let settle!: () => void;
    const ended = new Promise<void>((r) => (settle = r));
    this.reserving.set(guildId, ended);
    const entry: Entry = { state: 'reserved', db: Promise.reject(new GuildDataError('GUILD_NOT_RESTORED', `guild ${guildId} is being replaced`, guildId)), lastUsedAt: this.clock.now(), inFlight: 0 };
    entry.db.catch(() => undefined);
    entry.settled = ended;
    let done = false;
    const end = () => {
      if (this.reserving.get(guildId) === ended) this.reserving.delete(guildId);
      settle();
    };
    const finish = () => {
      done = true;
      if (this.entries.get(guildId) === entry) this.entries.delete(guildId);
      end();
    };
    try {
      for (;;) {
        const e = this.entries.get(guildId);
        if (!e) break;
        if (e.state === 'closing') await e.settled;
        else await this.close(guildId, 'replaced');
      }
      this.entries.set(guildId, entry);
      // A released guild's file can still be in a Litestream config: out of it before it changes.
      await this.opts.replication?.detach(guildId);
    } catch (err) {
      finish();
      throw err;
    }
    return {
      guildId,
      adopt: async (epoch: number) => {
        if (done) throw new Error(`reservation of guild ${guildId} already ended`);
        try {
          const db = await GuildDb.open(this.dbOptions(guildId, true));
          try {
            // A restore's reader already stamped the epoch (and folded the WAL in) off the event
            // loop; a handoff copy or an empty start records it here.
            if (db.epoch !== epoch) await db.recordEpoch(epoch);
            // Fold the WAL into the file before Litestream first reads it: its first snapshot is
            // a copy of the file after a PASSIVE checkpoint, and the gateway e2e restored such
            // replicas with pages missing (btreeInitPage error 11) when the owner died before
            // the generation's first WAL segment shipped. Nothing else has the file open here.
            const cp = db.checkpoint('TRUNCATE');
            if (cp.busy) this.logger.warn({ guild: guildId, epoch }, 'could not fold the WAL into a new guild file before replicating it');
          } catch (err) {
            await db.close();
            throw err;
          }
          done = true;
          const open: Entry = { state: 'open', db: Promise.resolve(db), lastUsedAt: this.clock.now(), inFlight: 0 };
          this.entries.set(guildId, open);
          end();
          this.opts.replication?.add(guildId, epoch);
          this.logger.info({ guild: guildId, epoch }, 'guild database adopted');
          this.capOpen();
          return db;
        } catch (err) {
          finish();
          throw err;
        }
      },
      cancel: () => {
        if (!done) finish();
      },
    };
  }

  /**
   * Close a guild's database. Replication flushes it first (its group stops with SIGTERM, which
   * syncs, then restarts without it); an idle close whose flush failed keeps the guild open and
   * replicating, so no write exists only on this disk. Returns whether the flush succeeded.
   */
  async close(guildId: string, reason: CloseReason): Promise<boolean> {
    const e = this.entries.get(guildId);
    if (!e) return true;
    if (e.state === 'reserved') return true;
    if (e.state === 'closing') return (await e.settled) as boolean;
    e.state = 'closing';
    const work = (async (): Promise<boolean> => {
      let db: GuildDb;
      try {
        db = await e.db;
      } catch {
        this.entries.delete(guildId);
        return true;
      }
      await this.drained(e);
      const rep = this.opts.replication;
      const flushed = reason === 'shutdown' || !rep ? true : reason === 'replaced' ? await rep.detach(guildId) : await rep.remove(guildId);
      if (!flushed && reason === 'idle') {
        this.opts.replication?.add(guildId, db.epoch);
        e.state = 'open';
        e.lastUsedAt = this.clock.now();
        this.logger.warn({ guild: guildId, epoch: db.epoch }, 'idle guild kept open: replication could not confirm its last writes');
        return false;
      }
      if (!flushed) this.logger.warn({ guild: guildId, epoch: db.epoch, reason }, 'guild closed before replication confirmed its last writes (they are in the local file)');
      // Once Litestream no longer reads this file, the WAL can be folded in and truncated: a
      // closed guild then costs one file and no WAL. While it still does (a released guild
      // stays in its process until that restarts), checkpointing under it is Litestream's job.
      if (!rep?.isAttached(guildId)) {
        try {
          const cp = db.checkpoint('TRUNCATE');
          if (cp.busy) this.logger.debug({ guild: guildId }, 'final checkpoint was busy; the WAL stays until the next open');
        } catch (err) {
          this.logger.warn({ err, guild: guildId }, 'final checkpoint failed');
        }
      }
      await db.close();
      this.opts.replication?.forget(guildId);
      if (this.entries.get(guildId) === e) this.entries.delete(guildId);
      this.logger.debug({ guild: guildId, epoch: db.epoch, reason }, 'guild database closed');
      return flushed;
    })();
    e.settled = work;
    return work;
  }

  /** Close idle guilds now (and the least recently used above the cap). Returns those closed. */
  async sweep(): Promise<string[]> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      const now = this.clock.now();
      const open = [...this.entries].filter(([, e]) => e.state === 'open').map(([guildId, e]) => ({ guildId, lastUsedAt: e.lastUsedAt, busy: e.inFlight > 0 }));
      const picked = pickToClose(open, now, { idleMs: this.idleMs, maxOpen: this.maxOpen });
      const results = await Promise.all(picked.map(async (g) => ((await this.close(g, 'idle')) ? g : undefined)));
      return results.filter((g): g is string => g !== undefined);
    })();
    try {
      return await this.sweeping;
    } finally {
      this.sweeping = undefined;
    }
  }

  private capOpen(): void {
    if (this.openGuilds().length > this.maxOpen) void this.sweep().catch((err: unknown) => this.logger.error({ err }, 'idle sweep failed'));
  }

  private dbOptions(guildId: string, create: boolean) {
    const replication = this.opts.replication;
    return {
      guildId,
      path: this.paths.dbFile(guildId),
      create,
      busyTimeoutMs: this.opts.busyTimeoutMs,
      clock: this.clock,
      logger: this.logger,
      onCommit: replication ? (g: string) => replication.noteWrite(g) : undefined,
    };
  }

  private async acquire(fence: GuildFence): Promise<{ db: GuildDb; entry: Entry }> {
    const guildId = fence.guildId;
    for (;;) {
      // A caller whose lease is gone never opens (and so never re-replicates) the file: after
      // SIGCONT a paused pod's queued work for a lost epoch would otherwise reopen it per event.
      fence.assertValid();
      const pending = this.reserving.get(guildId);
      if (pending) {
        await pending;
        continue;
      }
      let e = this.entries.get(guildId);
      if (e && (e.state === 'closing' || e.state === 'reserved')) {
        await e.settled;
        continue;
      }
      if (!e) e = this.openEntry(fence);
      e.inFlight++;
      e.lastUsedAt = this.clock.now();
      try {
        return { db: await e.db, entry: e };
      } catch (err) {
        this.release(e);
        throw err;
      }
    }
  }

  /** Reopen a closed guild. A file at another epoch than the fence's is closed again at once. */
  private openEntry(fence: GuildFence): Entry {
    const guildId = fence.guildId;
    const e: Entry = { state: 'opening', db: undefined as unknown as Promise<GuildDb>, lastUsedAt: this.clock.now(), inFlight: 0 };
    e.db = (async () => {
      try {
        const db = await GuildDb.open(this.dbOptions(guildId, false));
        if (db.epoch !== fence.epoch) {
          await db.close();
          checkFence(fence, guildId, db.epoch);
        }
        // A close may have started while the file was opening; it owns the state from here.
        if (e.state === 'opening') e.state = 'open';
        this.opts.replication?.add(guildId, db.epoch);
        this.capOpen();
        return db;
      } catch (err) {
        if (this.entries.get(guildId) === e) this.entries.delete(guildId);
        throw err;
      }
    })();
    this.entries.set(guildId, e);
    return e;
  }

  private release(e: Entry): void {
    e.inFlight--;
    e.lastUsedAt = this.clock.now();
    if (e.inFlight === 0) e.onDrained?.();
  }

  private drained(e: Entry): Promise<void> {
    if (e.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      e.onDrained = () => {
        e.onDrained = undefined;
        resolve();
      };
    });
  }
}

// One open guild database: the better-sqlite3 handle under Kysely, the epoch the file records,
// and the fenced write transaction every change goes through (applyOnce is built on it).
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { isBusy, retryBusy, SYNC_BUSY_MS } from './busy.js';
import { stampEpoch } from './epoch-stamp.js';
import { GuildDataError } from './errors.js';
import { checkFence, type GuildFence } from './fence.js';
import { migrateGuildDb } from './migrations.js';
import type { GuildSchema } from './schema.js';
import { cachingDatabase } from './statement-cache.js';
import { isApplied, pruneDedupe, recordApplied } from './dedupe.js';
import { insertOutbox, pruneSentOutbox, setFailed, setSent, type OutboxDraft, type OutboxRow } from './outbox.js';

export type GuildKysely = Kysely<GuildSchema>;

export interface GuildDbOptions {
  readonly guildId: string;
  readonly path: string;
  /** Create the file when missing (restore/install/empty start); otherwise a missing file is an error. */
  readonly create: boolean;
  /**
   * How long a write waits for the file's lock (held by Litestream, say) before SQLITE_BUSY is
   * thrown (default 5000). The wait is on timers (busy.ts): the event loop keeps running.
   */
  readonly busyTimeoutMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Called after every commit (replication lag tracking). */
  readonly onCommit?: (guildId: string) => void;
}

/**
 * `fencedAt`: wall time of the last fence check before COMMIT, the moment the write was decided
 * under the lease. A process paused between that check and its history record (SIGSTOP, a
 * stalled VM) commits to a copy nobody reads any more; the record must show when it was valid.
 */
export type ApplyResult = ({ readonly duplicate: true } | { readonly duplicate: false; readonly outbox: readonly OutboxRow[] }) & { readonly fencedAt: number };

/** What an event's state change returns: the side effects to put in the outbox (none: void). */
export type Effects = readonly OutboxDraft[] | void;

export class GuildDb {
  private closed = false;
  private fileEpoch: number;
  private readonly stmts: {
    begin: Database.Statement;
    commit: Database.Statement;
    rollback: Database.Statement;
    epoch: Database.Statement<[], { value: string }>;
  };

  private constructor(
    readonly guildId: string,
    readonly path: string,
    /** The better-sqlite3 handle: for the backup API and checkpoints. Writes go through write(). */
    readonly raw: Database.Database,
    /** Reads go here (or through a transaction handed to a write callback). */
    readonly kysely: GuildKysely,
    fileEpoch: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly onCommit: ((guildId: string) => void) | undefined,
    private readonly busyBudgetMs: number,
  ) {
    this.fileEpoch = fileEpoch;
    this.stmts = {
      // IMMEDIATE: Litestream writes to the file too (its seq table, checkpoints). A deferred
      // transaction that read first could then fail to upgrade with SQLITE_BUSY_SNAPSHOT, which
      // busy_timeout does not retry; taking the write lock up front waits instead.
      begin: raw.prepare('BEGIN IMMEDIATE'),
      commit: raw.prepare('COMMIT'),
      rollback: raw.prepare('ROLLBACK'),
      epoch: raw.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'epoch'"),
    };
  }

  static async open(opts: GuildDbOptions): Promise<GuildDb> {
    const budget = opts.busyTimeoutMs ?? 5000;
    // Switching to WAL, migrating and stamping a new file all write: a busy file is opened again.
    return retryBusy(budget, () => GuildDb.openOnce(opts, budget));
  }

  private static async openOnce(opts: GuildDbOptions, budget: number): Promise<GuildDb> {
    let raw: Database.Database;
    try {
      raw = new Database(opts.path, { fileMustExist: !opts.create });
    } catch (err) {
      if (!opts.create && (err as { code?: string }).code === 'SQLITE_CANTOPEN') {
        throw new GuildDataError('GUILD_NOT_RESTORED', `guild ${opts.guildId} has no local database (restore, install or create it first)`, opts.guildId);
      }
      throw err;
    }
    try {
      raw.pragma(`busy_timeout = ${Math.min(SYNC_BUSY_MS, budget)}`);
      raw.pragma('journal_mode = WAL');
      // Not OFF: with OFF, replicas Litestream wrote of these files restored corrupt after a kill -9
      // (quick_check: btreeInitPage() error 11) in the gateway e2e, twice in one CI run.
      raw.pragma('synchronous = NORMAL');
      raw.pragma('foreign_keys = ON');
      const kysely = new Kysely<GuildSchema>({ dialect: new SqliteDialect({ database: cachingDatabase(raw) }) });
      await migrateGuildDb(kysely as Kysely<unknown>, raw);
      const epoch = readMeta(raw, opts.guildId);
      return new GuildDb(opts.guildId, opts.path, raw, kysely, epoch, opts.clock ?? systemClock, opts.logger ?? silentLogger, opts.onCommit, budget);
    } catch (err) {
      raw.close();
      throw err;
    }
  }

  /** The epoch the file was opened at (recorded in its meta table). */
  get epoch(): number {
    return this.fileEpoch;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Record the epoch this file now serves (after a restore, install or empty start). Epochs only
   * move up: a lower one means the caller holds a stale lease.
   */
  async recordEpoch(epoch: number): Promise<void> {
    this.assertOpen();
    if (epoch < this.fileEpoch) throw new GuildDataError('EPOCH_REGRESSION', `guild ${this.guildId}: epoch ${epoch} is below the file's ${this.fileEpoch}`, this.guildId);
    await retryBusy(this.busyBudgetMs, () =>
      this.kysely.connection().execute(async () => {
        stampEpoch(this.raw, epoch, this.clock.wallNow());
      }),
    );
    this.fileEpoch = epoch;
  }

  /**
   * Run `fn` in one SQLite transaction fenced by `fence`: the fence is checked after the write
   * lock is taken and again just before COMMIT, so a write whose lease lapsed while it ran
   * changes nothing. Keep `fn` short: better-sqlite3 is synchronous and this guild's connection
   * is held until it returns.
   */
  async write<T>(fence: GuildFence, fn: (trx: GuildKysely) => Promise<T> | T): Promise<T> {
    return (await this.fencedWrite(fence, fn)).out;
  }

  /** write(), also returning the wall time of the fence check just before COMMIT. */
  private async fencedWrite<T>(fence: GuildFence, fn: (trx: GuildKysely) => Promise<T> | T): Promise<{ out: T; fencedAt: number }> {
    this.assertOpen();
    // Only a BEGIN that could not take the write lock is tried again (nothing ran yet); a busy
    // statement after it (rare in WAL mode) fails the write like any other error.
    let begun = false;
    const attempt = () =>
      this.kysely.connection().execute(async (conn) => {
        this.assertOpen();
        begun = false;
        this.stmts.begin.run();
        begun = true;
        try {
          this.checkFenceInside(fence);
          const out = await fn(conn);
          this.checkFenceInside(fence);
          const fencedAt = this.clock.wallNow();
          this.stmts.commit.run();
          this.onCommit?.(this.guildId);
          return { out, fencedAt };
        } catch (err) {
          // SQLite may already have rolled back (SQLITE_FULL, an interrupted statement).
          if (this.raw.open && this.raw.inTransaction) this.stmts.rollback.run();
          throw err;
        }
      });
    return retryBusy(this.busyBudgetMs, attempt, { retryIf: (err) => !begun && isBusy(err) });
  }

  /**
   * Apply an event at most once (DESIGN §8): in one transaction, if `dedupeKey` was applied
   * before, change nothing and report a duplicate; otherwise run the state change, record the
   * key and write the outbox rows it returns.
   */
  async applyOnce(fence: GuildFence, dedupeKey: string, fn: (trx: GuildKysely) => Promise<Effects> | Effects): Promise<ApplyResult> {
    const { out, fencedAt } = await this.fencedWrite(fence, async (trx) => {
      if (await isApplied(trx, dedupeKey)) return { duplicate: true as const };
      const drafts = (await fn(trx)) ?? [];
      const now = this.clock.wallNow();
      await recordApplied(trx, dedupeKey, fence.epoch, now);
      const outbox = await insertOutbox(trx, dedupeKey, drafts, now);
      return { duplicate: false as const, outbox };
    });
    return { ...out, fencedAt };
  }

  markSent(fence: GuildFence, id: number): Promise<boolean> {
    return this.write(fence, (trx) => setSent(trx, id, this.clock.wallNow()));
  }

  markFailed(fence: GuildFence, id: number, error: string): Promise<boolean> {
    return this.write(fence, (trx) => setFailed(trx, id, error));
  }

  /** Drop dedupe keys and sent outbox rows older than the given wall times. */
  prune(fence: GuildFence, before: { dedupe: number; sentOutbox: number }): Promise<{ dedupe: number; outbox: number }> {
    return this.write(fence, async (trx) => ({ dedupe: await pruneDedupe(trx, before.dedupe), outbox: await pruneSentOutbox(trx, before.sentOutbox) }));
  }

  /**
   * A consistent image of the database, as its file would be with the WAL folded in
   * (sqlite3_serialize: a read transaction over every page, in memory). The connection is held so
   * no transaction of this pod is half inside the image. No file and no fsync: the online backup
   * API this replaces wrote a scratch database with fsyncs on the event loop's thread, about
   * 20 ms a copy on a busy disk, which was most of a handoff's pause.
   */
  async image(): Promise<Buffer> {
    this.assertOpen();
    return this.kysely.connection().execute(async () => {
      this.assertOpen();
      return this.raw.serialize();
    });
  }

  /**
   * wal_checkpoint in `mode`, never waiting on a busy handler: Litestream holds a read lock while
   * it replicates, and a TRUNCATE that waited for it would block the event loop.
   */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): { busy: boolean; logFrames: number; checkpointed: number } {
    this.assertOpen();
    const prev = this.raw.pragma('busy_timeout', { simple: true }) as number;
    this.raw.pragma('busy_timeout = 0');
    try {
      const [r] = this.raw.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
      return { busy: (r?.busy ?? 0) !== 0, logFrames: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 };
    } finally {
      this.raw.pragma(`busy_timeout = ${prev}`);
    }
  }

  /** Close the handle (waits for a transaction in progress to finish). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.kysely.connection().execute(async () => {
      this.closed = true;
    });
    await this.kysely.destroy();
    if (this.raw.open) this.raw.close();
    this.logger.debug({ guild: this.guildId, epoch: this.fileEpoch }, 'guild database closed');
  }

  private assertOpen(): void {
    if (this.closed || !this.raw.open) throw new GuildDataError('GUILD_DB_CLOSED', `guild ${this.guildId}: database handle is closed`, this.guildId);
  }

  private checkFenceInside(fence: GuildFence): void {
    // Read the epoch from the file, not the cached value: the file is what a stale writer would corrupt.
    const row = this.stmts.epoch.get();
    checkFence(fence, this.guildId, row ? Number(row.value) : 0);
  }
}

/** Check (or stamp) the file's guild id and return its recorded epoch (0 for a new file). */
function readMeta(raw: Database.Database, guildId: string): number {
  const rows = raw.prepare<[], { key: string; value: string }>("SELECT key, value FROM meta WHERE key IN ('guild_id', 'epoch')").all();
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  const recorded = meta.get('guild_id');
  if (recorded === undefined) raw.prepare("INSERT INTO meta (key, value) VALUES ('guild_id', ?), ('epoch', '0') ON CONFLICT (key) DO NOTHING").run(guildId);
  else if (recorded !== guildId) throw new GuildDataError('WRONG_GUILD_FILE', `file records guild ${recorded}, expected ${guildId}`, guildId);
  return Number(meta.get('epoch') ?? 0);
}

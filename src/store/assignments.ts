// The durable assignment store (Postgres): fencing epochs, data epochs, pins, cordons, pods and
// the append-only assignment log. Every epoch write is conditional, so an older epoch can never
// overwrite a newer one. Writes that may lag (log, releases, data epochs, copies of pins and
// cordons) go through the retry queue and never block lease renewal.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { StaleEpochError } from '../cluster/errors.js';
import type { StoreSchema } from './schema.js';
import { ensureLogPartitions, migrateToLatest } from './migrations.js';
import { RetryQueue } from './retry-queue.js';

export interface Assignment {
  readonly guildId: string;
  readonly owner: string | null;
  readonly epoch: number;
  readonly dataEpoch: number | null;
  readonly pinnedTo: string | null;
  readonly state: 'active' | 'released' | 'left';
  /** When the bot was removed from the guild (its retention clock); null while it is in it. */
  readonly leftAt: Date | null;
  readonly updatedAt: Date;
}

export interface LogEntry {
  readonly guildId: string;
  readonly kind: string;
  readonly owner?: string | null;
  readonly epoch?: number | null;
  readonly dataEpoch?: number | null;
  readonly from?: string | null;
  readonly detail?: Record<string, unknown>;
  readonly at?: Date;
}

export interface AssignmentLogRow extends Required<Omit<LogEntry, 'detail'>> {
  readonly id: number;
  readonly detail: unknown;
}

export interface StoreOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly logger?: Logger;
  /** Pool size (default 4: the store's traffic is small and bursty). */
  readonly maxConnections?: number;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

export class AssignmentStore {
  readonly db: Kysely<StoreSchema>;
  readonly queue: RetryQueue;
  private readonly logger: Logger;

  constructor(private readonly opts: StoreOptions) {
    this.logger = opts.logger ?? silentLogger;
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.maxConnections ?? 4,
      connectionTimeoutMillis: 3000,
      // Every connection works inside the configured schema (tests give each suite its own).
      options: `-c search_path=${opts.schema}`,
      // Fail a statement rather than hold a connection forever when Postgres stalls.
      statement_timeout: 10_000,
    });
    pool.on('error', (err) => this.logger.warn({ err }, 'postgres pool error'));
    // A connection cut while a client is checked out emits 'error' on that client; without a
    // listener it would crash the process. The query in flight still rejects and is retried.
    pool.on('connect', (client) => client.on('error', (err) => this.logger.warn({ err }, 'postgres connection error')));
    this.db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
    this.queue = new RetryQueue(this.logger);
  }

  /** Create the schema and run migrations; throws if any migration fails. */
  async migrate(): Promise<void> {
    // Two pods starting together must not both run the migrations, nor both create the schema:
    // CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent one (a unique violation on
    // pg_namespace, seen with four gateways starting at once), so it runs under the lock too.
    await this.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(hashtext(${`leasehold-migrate:${this.opts.schema}`}))`.execute(conn);
      try {
        await sql`create schema if not exists ${sql.id(this.opts.schema)}`.execute(conn);
        const applied = await migrateToLatest(conn as Kysely<unknown>);
        if (applied.length > 0) this.logger.info({ applied, schema: this.opts.schema }, 'assignment store migrated');
        await ensureLogPartitions(conn as Kysely<unknown>);
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${`leasehold-migrate:${this.opts.schema}`}))`.execute(conn);
      }
    });
  }

  async close(): Promise<void> {
    this.queue.stop();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /**
   * Commit a claimed or handed-over epoch before anything is applied under it. Succeeds only
   * when `epoch` is above the stored one (or is the same owner's same epoch: idempotent);
   * otherwise throws StaleEpochError with the stored epoch (the caller re-claims above it).
   * The log entry is written in the same transaction.
   */
  async commitEpoch(guildId: string, owner: string, epoch: number, kind: 'claim' | 'handoff' | 'restore', from?: string): Promise<void> {
    // One statement, one round trip: claims after a failover commit hundreds of epochs a second,
    // and an interactive transaction held its connection across five round trips (idle in
    // transaction whenever the pod's event loop was busy), which starved the pool. The upsert
    // takes the row lock; a retried commit of the very same (owner, epoch) is logged only once.
    const r = await sql<{ committed: boolean; current: string | null }>`
      with prev as (
        select owner, epoch, state from guild_assignments where guild_id = ${guildId}
      ), up as (
        insert into guild_assignments (guild_id, owner, epoch, state) values (${guildId}, ${owner}, ${epoch}, 'active')
        on conflict (guild_id) do update set owner = excluded.owner, epoch = excluded.epoch, state = 'active', left_at = null, purged_at = null, updated_at = now()
        -- Above the stored epoch; or the very same (owner, epoch) again: a retried commit.
        where guild_assignments.epoch < excluded.epoch or (guild_assignments.epoch = excluded.epoch and guild_assignments.owner = excluded.owner)
        returning epoch
      ), logged as (
        insert into assignment_log (guild_id, kind, owner, epoch, from_owner)
        select ${guildId}, ${kind}, ${owner}, ${epoch}, ${from ?? null} from up
        where not exists (select 1 from prev where prev.epoch = ${epoch} and prev.owner = ${owner} and prev.state = 'active')
      )
      select exists (select 1 from up) as committed, (select epoch from prev)::text as current`.execute(this.db);
    const row = r.rows[0];
    if (row?.committed) return;
    // Stale: report the stored epoch as it is now (prev is the statement's snapshot).
    const cur = await this.db.selectFrom('guild_assignments').select('epoch').where('guild_id', '=', guildId).executeTakeFirst();
    throw new StaleEpochError(guildId, epoch, Number(cur?.epoch ?? row?.current ?? 0));
  }

  async getAssignment(guildId: string): Promise<Assignment | undefined> {
    const r = await this.db.selectFrom('guild_assignments').selectAll().where('guild_id', '=', guildId).executeTakeFirst();
    return r && toAssignment(r);
  }

  async listAssignments(): Promise<Assignment[]> {
    const rows = await this.db.selectFrom('guild_assignments').selectAll().orderBy('guild_id').execute();
    return rows.map(toAssignment);
  }

  /** Highest committed epoch per guild (0 when none): the floor a new epoch must exceed. */
  async floors(guildIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(guildIds.map((g) => [g, 0]));
    for (let i = 0; i < guildIds.length; i += 5000) {
      const chunk = guildIds.slice(i, i + 5000);
      const rows = await this.db.selectFrom('guild_assignments').select(['guild_id', 'epoch']).where('guild_id', 'in', chunk).execute();
      for (const r of rows) out.set(r.guild_id, Number(r.epoch));
    }
    return out;
  }

  /**
   * Move data_epoch up to `epoch` (its replica path has a complete snapshot). Conditional: never
   * moves down and never past the committed epoch. Returns whether it moved.
   */
  async advanceDataEpoch(guildId: string, epoch: number): Promise<boolean> {
    const r = await this.db
      .updateTable('guild_assignments')
      .set({ data_epoch: epoch, updated_at: sql`now()` })
      .where('guild_id', '=', guildId)
      .where('epoch', '>=', String(epoch))
      .where((eb) => eb.or([eb('data_epoch', 'is', null), eb('data_epoch', '<', String(epoch))]))
      .executeTakeFirst();
    const moved = Number(r.numUpdatedRows) > 0;
    if (moved) await this.db.insertInto('assignment_log').values({ guild_id: guildId, kind: 'data_epoch', data_epoch: epoch, epoch }).execute();
    return moved;
  }

  /**
   * Record that the owner at `epoch` gave the guild up (released, left, lost). Conditional on
   * the epoch still being the committed one, so it cannot clobber a newer owner's row.
   */
  async recordRelease(guildId: string, owner: string, epoch: number, state: 'released' | 'left', reason: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('guild_assignments')
        // Leaving starts the retention clock (a later claim — the bot rejoined — clears it).
        .set({ owner: null, state, updated_at: sql`now()`, ...(state === 'left' ? { left_at: sql<Date>`now()`, purged_at: null } : {}) })
        .where('guild_id', '=', guildId)
        .where('epoch', '=', String(epoch))
        .where('owner', '=', owner)
        .execute();
      await trx.insertInto('assignment_log').values({ guild_id: guildId, kind: state, owner, epoch, detail: JSON.stringify({ reason }) }).execute();
    });
  }

  async appendLog(e: LogEntry): Promise<void> {
    await this.db
      .insertInto('assignment_log')
      .values({
        guild_id: e.guildId,
        kind: e.kind,
        owner: e.owner ?? null,
        epoch: e.epoch ?? null,
        data_epoch: e.dataEpoch ?? null,
        from_owner: e.from ?? null,
        detail: e.detail === undefined ? undefined : JSON.stringify(e.detail),
        ...(e.at ? { at: e.at } : {}),
      })
      .execute();
  }

  async readLog(opts: { guildId?: string; sinceId?: number; limit?: number } = {}): Promise<AssignmentLogRow[]> {
    let q = this.db.selectFrom('assignment_log').selectAll().orderBy('id').limit(opts.limit ?? 10_000);
    if (opts.guildId) q = q.where('guild_id', '=', opts.guildId);
    if (opts.sinceId !== undefined) q = q.where('id', '>', String(opts.sinceId));
    const rows = await q.execute();
    return rows.map((r) => ({ id: Number(r.id), at: r.at, guildId: r.guild_id, kind: r.kind, owner: r.owner, epoch: num(r.epoch), dataEpoch: num(r.data_epoch), from: r.from_owner, detail: r.detail }));
  }

  async setPin(guildId: string, podId: string | null): Promise<void> {
    await this.db
      .insertInto('guild_assignments')
      .values({ guild_id: guildId, owner: null, epoch: 0, pinned_to: podId })
      .onConflict((oc) => oc.column('guild_id').doUpdateSet({ pinned_to: podId, updated_at: sql`now()` }))
      .execute();
    await this.appendLog({ guildId, kind: podId ? 'pin' : 'unpin', owner: podId });
  }

  async listPins(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('guild_assignments').select(['guild_id', 'pinned_to']).where('pinned_to', 'is not', null).execute();
    return new Map(rows.map((r) => [r.guild_id, r.pinned_to as string]));
  }

  async setCordon(podId: string, reason: string | null): Promise<void> {
    if (reason === null) await this.db.deleteFrom('cordons').where('pod_id', '=', podId).execute();
    else
      await this.db
        .insertInto('cordons')
        .values({ pod_id: podId, reason })
        .onConflict((oc) => oc.column('pod_id').doUpdateSet({ reason, at: sql`now()` }))
        .execute();
  }

  async listCordons(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('cordons').select(['pod_id', 'reason']).execute();
    return new Map(rows.map((r) => [r.pod_id, r.reason]));
  }

  async upsertPod(p: { podId: string; role: string; addr: string; version: string }): Promise<void> {
    await this.db
      .insertInto('pods')
      .values({ pod_id: p.podId, role: p.role, addr: p.addr, version: p.version })
      .onConflict((oc) => oc.column('pod_id').doUpdateSet({ role: p.role, addr: p.addr, version: p.version, last_seen: sql`now()` }))
      .execute();
  }

  async knownPods(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('pods').select('pod_id').execute();
    return new Set(rows.map((r) => r.pod_id));
  }
}

function toAssignment(r: { guild_id: string; owner: string | null; epoch: string; data_epoch: string | null; pinned_to: string | null; state: Assignment['state']; left_at: Date | null; updated_at: Date }): Assignment {
  return { guildId: r.guild_id, owner: r.owner, epoch: Number(r.epoch), dataEpoch: num(r.data_epoch), pinnedTo: r.pinned_to, state: r.state, leftAt: r.left_at, updatedAt: r.updated_at };
}

export function createAssignmentStore(opts: StoreOptions): AssignmentStore {
  return new AssignmentStore(opts);
}

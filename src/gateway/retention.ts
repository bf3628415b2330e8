// The retention job (DESIGN §8: a left guild's data is kept for a retention, then deleted with
// its replicas). Every RETENTION_SWEEP_EVERY_MS each gateway: (1) if it gets the cluster's
// retention lock, deletes the replica paths of guilds left longer than GUILD_RETENTION_MS and
// records it; (2) deletes its own local files of such guilds. A rejoined guild is left alone.
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { GuildDatabases, ReplicaTarget } from '../guild-data/index.js';
import { deleteLocalGuildFiles, deleteReplicaEpochs, localGuildIds } from '../guild-data/index.js';
import { beginPurge, dueForPurge, finishPurge, leftPastRetention, withRetentionLock } from '../store/index.js';
import type { StoreSchema } from '../store/schema.js';

export interface RetentionJobOptions {
  readonly db: Kysely<StoreSchema>;
  /** DATABASE_SCHEMA: names the advisory lock, so clusters sharing a database do not block each other. */
  readonly schema: string;
  readonly target: ReplicaTarget;
  readonly dbs: Pick<GuildDatabases, 'paths' | 'reserve'>;
  readonly retentionMs: number;
  readonly everyMs: number;
  /** This pod holds the guild's lease: its files are in use. */
  readonly holds: (guildId: string) => boolean;
  /** The bot is in the guild again (GUILD_CREATE seen): its claim is on the way, keep the data. */
  readonly botIsIn: (guildId: string) => boolean;
  readonly logger: Logger;
}

export interface RetentionRun {
  /** Whether this pod held the lock and looked for replicas to delete. */
  readonly purgedHere: boolean;
  readonly purged: readonly string[];
  readonly localDeleted: readonly string[];
}

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionRun> | undefined;

  constructor(private readonly o: RetentionJobOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce().catch((err: unknown) => this.o.logger.error({ err }, 'retention sweep failed; retried next period')), this.o.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One sweep (never two at once on this pod). */
  runOnce(): Promise<RetentionRun> {
    this.running ??= this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweep(): Promise<RetentionRun> {
    const locked = await withRetentionLock(this.o.db, this.o.schema, () => this.purgeReplicas());
    const localDeleted = await this.deleteLocal();
    return { purgedHere: locked.ran, purged: locked.ran ? locked.value : [], localDeleted };
  }

  /** Under the lock: every left guild past the retention loses its replica paths, then is stamped purged. */
  private async purgeReplicas(): Promise<string[]> {
    const purged: string[] = [];
    for (const due of await dueForPurge(this.o.db, this.o.retentionMs)) {
      if (this.o.botIsIn(due.guildId)) continue;
      const g = await beginPurge(this.o.db, due.guildId, this.o.retentionMs);
      if (!g) continue; // rejoined since the list was read
      const replicas = await deleteReplicaEpochs(this.o.target, g.guildId, g.epoch);
      if (replicas.unsupported) {
        this.o.logger.warn({ guild: g.guildId, target: this.o.target.kind }, 'replica paths of a left guild cannot be deleted from here: expire them with a bucket lifecycle rule');
      }
      await finishPurge(this.o.db, g, { retentionMs: this.o.retentionMs, replicaEpochs: replicas.deleted, replicasUnsupported: replicas.unsupported });
      this.o.logger.info({ guild: g.guildId, epoch: g.epoch, leftAt: g.leftAt.toISOString(), replicaEpochs: replicas.deleted }, 'left guild past its retention: replicas deleted');
      purged.push(g.guildId);
    }
    return purged;
  }

  /** This pod's files of left guilds past the retention (not held here, reserved while deleted). */
  private async deleteLocal(): Promise<string[]> {
    const candidates = (await localGuildIds(this.o.dbs.paths)).filter((g) => !this.o.holds(g) && !this.o.botIsIn(g));
    if (candidates.length === 0) return [];
    const expired = await leftPastRetention(this.o.db, candidates, this.o.retentionMs);
    const deleted: string[] = [];
    for (const guildId of expired) {
      const r = await this.o.dbs.reserve(guildId);
      try {
        if (this.o.holds(guildId)) continue; // claimed while we waited for the reservation
        const files = await deleteLocalGuildFiles(this.o.dbs.paths, guildId);
        this.o.logger.info({ guild: guildId, files }, 'left guild past its retention: local files deleted');
        deleted.push(guildId);
      } finally {
        r.cancel();
      }
    }
    return deleted;
  }
}

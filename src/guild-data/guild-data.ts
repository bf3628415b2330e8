// The guild data layer a gateway holds: its open databases, their replication, restores and
// handoff copies, wired together with one set of options.
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { BackoffPolicy } from './backoff.js';
import type { DataEpochStore } from './data-epoch.js';
import type { GuildFence } from './fence.js';
import { GuildDatabases } from './guild-databases.js';
import { exportGuild, installGuild, type GuildCopy, type InstallResult } from './handoff-copy.js';
import { ReplicationManager, type ReplicationHealth, type ReplicationOptions } from './replication-manager.js';
import { inProcessReader, threadReader, type ReplicaReader } from './replica-reader.js';
import { restoreGuild, restoreGuildAt, type RestoreResult } from './restore.js';
import { RestoreQueue } from './restore-queue.js';

export interface GuildDataOptions {
  /** DATA_DIR: guild files live in DATA_DIR/guilds, rendered Litestream configs in DATA_DIR/litestream. */
  readonly dataDir: string;
  /** REPLICA_URL: `file:///dir` or `s3://bucket/prefix`. */
  readonly replicaUrl: string;
  /** The assignment store (data_epoch). */
  readonly store: DataEpochStore;
  readonly idleCloseMs?: number;
  readonly maxOpen?: number;
  readonly sweepEveryMs?: number;
  readonly busyTimeoutMs?: number;
  readonly restoreConcurrency?: number;
  readonly restoreBackoff?: BackoffPolicy;
  /** Worker threads reading local-directory replicas during restores (0: on the event loop; default 2). */
  readonly restoreReadThreads?: number;
  /** Wall ms since which the gateway can replay every event (lets a restore fall back losslessly). */
  readonly replayCoversSince?: () => number;
  readonly replication?: Omit<ReplicationOptions, 'dataDir' | 'replicaUrl' | 'store' | 'clock' | 'logger'>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export class GuildData {
  readonly dbs: GuildDatabases;
  readonly replication: ReplicationManager;
  /** Claims queue their restores here: `restores.request(guildId, epoch, priority)`. */
  readonly restores: RestoreQueue;
  readonly reader: ReplicaReader;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly o: GuildDataOptions) {
    this.clock = o.clock ?? systemClock;
    this.logger = (o.logger ?? silentLogger).child({ component: 'guild-data' });
    this.replication = new ReplicationManager({ ...o.replication, dataDir: o.dataDir, replicaUrl: o.replicaUrl, store: o.store, clock: this.clock, logger: this.logger });
    this.dbs = new GuildDatabases({
      dataDir: o.dataDir,
      idleCloseMs: o.idleCloseMs,
      maxOpen: o.maxOpen,
      sweepEveryMs: o.sweepEveryMs,
      busyTimeoutMs: o.busyTimeoutMs,
      clock: this.clock,
      logger: this.logger,
      replication: this.replication,
    });
    const threads = o.restoreReadThreads ?? 2;
    this.reader = (threads > 0 ? threadReader({ threads, logger: this.logger }) : undefined) ?? inProcessReader;
    this.restores = new RestoreQueue({
      concurrency: o.restoreConcurrency,
      backoff: o.restoreBackoff,
      logger: this.logger,
      run: (guildId, epoch) => this.restoreGuild(guildId, epoch),
    });
  }

  start(): void {
    this.replication.start();
    this.dbs.start();
  }

  /** Shutdown: stop restores, let Litestream sync every guild one last time, then close the files. */
  async stop(): Promise<void> {
    this.restores.stop();
    await this.reader.close();
    await this.replication.stop();
    await this.dbs.stop();
  }

  restoreGuild(guildId: string, epoch: number, store: DataEpochStore = this.o.store): Promise<RestoreResult> {
    return restoreGuild(this.deps(), guildId, epoch, store);
  }

  restoreGuildAt(guildId: string, at: Date, epoch: number, store: DataEpochStore = this.o.store): Promise<RestoreResult> {
    return restoreGuildAt(this.deps(), guildId, at, epoch, store);
  }

  exportGuild(guildId: string, fence: GuildFence): Promise<GuildCopy> {
    return exportGuild(this.dbs, guildId, fence);
  }

  installGuild(guildId: string, copy: GuildCopy, epoch: number): Promise<InstallResult> {
    return installGuild(this.dbs, guildId, copy, epoch, { clock: this.clock, logger: this.logger });
  }

  /**
   * This pod gave the guild up (lease lost, handed away, released): close its file after
   * Litestream synced it. Resolves whether the sync was confirmed.
   */
  release(guildId: string): Promise<boolean> {
    return this.dbs.close(guildId, 'released');
  }

  /** For /readyz. */
  health(): ReplicationHealth {
    return this.replication.health();
  }

  replicationLag(): number {
    return this.replication.replicationLag();
  }

  private deps() {
    return { dbs: this.dbs, replication: this.replication, clock: this.clock, logger: this.logger, replayCoversSince: this.o.replayCoversSince, reader: this.reader };
  }
}

export function createGuildData(opts: GuildDataOptions): GuildData {
  return new GuildData(opts);
}

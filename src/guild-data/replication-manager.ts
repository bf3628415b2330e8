// Replicates the gateway's open guilds with Litestream v0.3.13: one replica path per guild and
// epoch, guilds spread over several Litestream processes so that arrivals restart only small
// young processes and departures restart none (group-layout.ts; debounced: v0.3 reads its
// config only at start), replication lag from Litestream's own log lines, and data_epoch
// advanced once a new epoch's path has a snapshot.
import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { BackoffPolicy } from './backoff.js';
import { DataEpochAdvancer, type DataEpochStore } from './data-epoch.js';
import type { ReplicationHooks } from './guild-databases.js';
import { GroupLayout } from './group-layout.js';
import { LagTracker } from './lag-tracker.js';
import { litestreamBin, runLitestream, failureDetail, type RunResult } from './litestream-bin.js';
import { loadTemplate, renderConfig, type ConfigTemplate, type ReplicatedDb } from './litestream-config.js';
import { CRASH_LOOP_THRESHOLD, LitestreamGroup, type GroupStatus, type StopOutcome } from './litestream-group.js';
import { replicaEvent, type LitestreamLine } from './litestream-log.js';
import { killOrphans } from './orphans.js';
import { GuildPaths } from './paths.js';
import { replicaTarget, type ReplicaLocation, type ReplicaTarget } from './replica-target.js';

export interface ReplicationOptions {
  readonly dataDir: string;
  /** `file:///dir` or `s3://bucket/prefix` (REPLICA_URL). */
  readonly replicaUrl: string;
  /** Litestream's monitor interval: how often it copies the WAL (default 1000 ms; tests use 100). */
  readonly monitorIntervalMs?: number;
  /** How often each replica ships what was copied (default: the monitor interval). */
  readonly syncIntervalMs?: number;
  /** Most guilds per Litestream process (default 200); arrivals fill groups of a quarter of it. */
  readonly groupSize?: number;
  /**
   * A released guild stays in its process until Litestream confirms its last writes, at most
   * this long; then its process restarts without it, which syncs it (default 2 monitor intervals + 2 s).
   */
  readonly releaseWaitMs?: number;
  /** Maintenance (merging small groups, dropping released guilds) runs after this long without changes (default 10 s)… */
  readonly quietMs?: number;
  /** …and drops a group's released guilds once the oldest waited this long (default 60 s). */
  readonly releasedAfterMs?: number;
  /**
   * Niceness of the replicating processes (default 0). Above 0, under CPU contention the
   * gateway itself (renewals, events, restores after a failover) runs first and replication
   * lags instead; leasehold_replication_lag_seconds shows by how much.
   */
  readonly nice?: number;
  /** Wait this long after a change for more before restarting a group (default 250 ms)… */
  readonly restartDebounceMs?: number;
  /** …but never longer than this after the first change (default 2000 ms). */
  readonly maxDebounceMs?: number;
  readonly templatePath?: string;
  /** Litestream binary (default: env LITESTREAM_BIN, else the npm package's). */
  readonly bin?: string;
  /** With a store, data_epoch is advanced and old epoch paths deleted. */
  readonly store?: DataEpochStore;
  readonly backoff?: BackoffPolicy;
  readonly emfileBackoff?: BackoffPolicy;
  readonly stableAfterMs?: number;
  readonly stopTimeoutMs?: number;
  /** How often leasehold_replication_lag_seconds is refreshed (default 1000 ms). */
  readonly lagEveryMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface ReplicationHealth {
  /** For /readyz: every group with guilds has a live process and none is crash-looping or out of fds. */
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly groups: readonly GroupStatus[];
  readonly replicatedGuilds: number;
  readonly lagSeconds: number;
}

interface Waiter {
  readonly guildId: string;
  readonly group: string;
  readonly resolve: (flushed: boolean) => void;
}

interface ReleaseWaiter {
  readonly guildId: string;
  readonly resolve: (flushed: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

export class ReplicationManager implements ReplicationHooks {
  readonly target: ReplicaTarget;
  readonly paths: GuildPaths;
  readonly bin: string;
  readonly monitorIntervalMs: number;
  readonly syncIntervalMs: number;
  readonly advancer: DataEpochAdvancer | undefined;
  private readonly template: ConfigTemplate;
  private readonly layout: GroupLayout;
  private readonly groups = new Map<string, LitestreamGroup>();
  /** Epochs each group's running config replicates, for its log lines. */
  private readonly configured = new Map<string, Map<string, number>>();
  private readonly replicated = new Map<string, number>();
  private readonly lag = new LagTracker();
  /** db path → wall time a replica sync began reading (until its "written" line). */
  private readonly syncStarted = new Map<string, number>();
  private readonly dirty = new Set<string>();
  /** Guilds dropped from the layout whose lag is forgotten once their process's restart confirmed what it could. */
  private readonly dropped = new Set<string>();
  private waiters: Waiter[] = [];
  private releaseWaiters: ReleaseWaiter[] = [];
  private firstDirtyAt: number | undefined;
  private lastChangeAt = 0;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private applyingNow = false;
  private debounce: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly o: ReplicationOptions) {
    this.clock = o.clock ?? systemClock;
    this.logger = (o.logger ?? silentLogger).child({ component: 'replication' });
    this.paths = new GuildPaths(o.dataDir);
    mkdirSync(this.paths.litestreamDir, { recursive: true });
    this.target = replicaTarget(o.replicaUrl);
    this.template = loadTemplate(o.templatePath);
    this.bin = o.bin ?? litestreamBin();
    this.monitorIntervalMs = o.monitorIntervalMs ?? 1000;
    this.syncIntervalMs = o.syncIntervalMs ?? this.monitorIntervalMs;
    this.layout = new GroupLayout(o.groupSize ?? 200);
    this.lastChangeAt = this.clock.now();
    this.advancer = o.store
      ? new DataEpochAdvancer({
          store: o.store,
          target: this.target,
          probeSnapshot: (g, e) => this.probeSnapshot(g, e),
          checkEveryMs: Math.min(1000, Math.max(100, this.monitorIntervalMs)),
          logger: this.logger,
        })
      : undefined;
  }

  start(): void {
    const orphans = killOrphans(this.paths.litestreamDir, this.pids());
    if (orphans.length > 0) this.logger.warn({ pids: orphans }, 'killed Litestream processes left by an earlier run of this pod');
    this.advancer?.start();
    if (!this.lagTimer) {
      this.lagTimer = setInterval(() => metrics.replicationLagSeconds.set(this.replicationLag()), this.o.lagEveryMs ?? 1000);
      this.lagTimer.unref();
    }
    if (!this.maintenanceTimer) {
      const quiet = this.o.quietMs ?? 10_000;
      this.maintenanceTimer = setInterval(() => this.maintain(), Math.max(50, Math.floor(quiet / 4)));
      this.maintenanceTimer.unref();
    }
  }

  /** Stop every Litestream process (SIGTERM: each syncs its databases one last time). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = undefined;
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = undefined;
    await this.applying;
    await Promise.all(
      [...this.groups].map(async ([id, group]) => {
        const outcome = await group.stop();
        this.confirmFlushed(id, outcome);
        this.resolveWaiters(id);
      }),
    );
    for (const w of this.waiters) w.resolve(this.lag.isReplicated(w.guildId));
    this.waiters = [];
    for (const w of this.releaseWaiters) {
      clearTimeout(w.timer);
      w.resolve(this.lag.isReplicated(w.guildId));
    }
    this.releaseWaiters = [];
    await this.advancer?.stop();
  }

  add(guildId: string, epoch: number): void {
    if (this.stopped) return;
    const cur = this.replicated.get(guildId);
    if (cur === epoch) {
      // Released but still in its process's config: serve it again, no restart.
      this.layout.add(guildId);
      this.settleReleaseWaiters();
      return;
    }
    this.replicated.set(guildId, epoch);
    const change = this.layout.add(guildId);
    // Still in a config at another epoch (its file should have been detached before it was
    // replaced): the path changed, so that group's config did too.
    const group = this.layout.group(guildId);
    this.markDirty([...change.changed, ...change.removed, ...(cur !== undefined && group ? [group] : [])]);
    this.advancer?.track(guildId, epoch);
  }

  /**
   * The guild is no longer served here (its file is closing). It stays in its process's config,
   * so nothing restarts; resolves true once Litestream confirmed every write noted for it. If
   * that takes longer than releaseWaitMs, its process restarts without it (SIGTERM syncs it)
   * and this resolves with whether that confirmed them.
   */
  remove(guildId: string): Promise<boolean> {
    if (!this.replicated.has(guildId) || !this.layout.release(guildId, this.clock.now())) return Promise.resolve(this.lag.isReplicated(guildId));
    // The lag tracker confirms a write up to one monitor tick early (lag-tracker.ts): a write
    // that landed after the shadow copy ships at the next tick. The process keeps running, so
    // it does ship; waiting two more ticks before saying so keeps "true" true for a caller that
    // hands the guild to a pod restoring from the replica right away.
    const shipped = (flushed: boolean): Promise<boolean> => (flushed ? new Promise((r) => setTimeout(() => r(true), 2 * this.monitorIntervalMs + 50).unref()) : Promise.resolve(false));
    if (this.lag.isReplicated(guildId)) return shipped(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.releaseWaiters = this.releaseWaiters.filter((w) => w.timer !== timer);
        // A restart without it: SIGTERM makes Litestream sync it one last time.
        void this.detach(guildId).then(resolve);
      }, this.o.releaseWaitMs ?? 2 * this.monitorIntervalMs + 2000);
      timer.unref();
      this.releaseWaiters.push({ guildId, resolve: (flushed) => void shipped(flushed).then(resolve), timer });
    });
  }

  /**
   * Take the guild out of its process now (before its file is replaced or deleted): resolves
   * once the process restarted without it, true when its writes were confirmed.
   */
  detach(guildId: string): Promise<boolean> {
    const group = this.layout.group(guildId);
    if (group === undefined) return Promise.resolve(this.lag.isReplicated(guildId));
    this.replicated.delete(guildId);
    const change = this.layout.detach(guildId);
    this.markDirty([...change.changed, ...change.removed]);
    return new Promise((resolve) => this.waiters.push({ guildId, group, resolve }));
  }

  /** Whether the guild's file is in a running config (Litestream may read and checkpoint it). */
  isAttached(guildId: string): boolean {
    return this.layout.group(guildId) !== undefined;
  }

  /** The guild's file was closed here: its unconfirmed writes (if any) are no longer this pod's lag. */
  forget(guildId: string): void {
    if (!this.replicated.has(guildId)) this.lag.forget(guildId);
  }

  noteWrite(guildId: string): void {
    this.lag.noteWrite(guildId, this.clock.wallNow());
  }

  /** Seconds since the oldest write not yet known to be in its replica (0 when all are). */
  replicationLag(): number {
    return this.lag.lagSeconds(this.clock.wallNow());
  }

  /** Whether every write noted for the guild is known to be in its replica. */
  isReplicated(guildId: string): boolean {
    return this.lag.isReplicated(guildId);
  }

  /** The epoch a guild replicates to, if it does. */
  epochOf(guildId: string): number | undefined {
    return this.replicated.get(guildId);
  }

  location(guildId: string, epoch: number): ReplicaLocation {
    return this.target.location(guildId, epoch);
  }

  /** Pid of the Litestream process replicating a guild (operators, chaos tests). */
  pidOf(guildId: string): number | undefined {
    const g = this.layout.group(guildId);
    return g === undefined ? undefined : this.groups.get(g)?.pid;
  }

  /** Pids of every running Litestream process. */
  pids(): number[] {
    return [...this.groups.values()].map((g) => g.pid).filter((p): p is number => p !== undefined);
  }

  /** Resolves once every change made so far has been applied to the Litestream processes. */
  async settled(): Promise<void> {
    while (this.dirty.size > 0 || this.debounce) {
      if (this.debounce) {
        clearTimeout(this.debounce);
        this.debounce = undefined;
        this.kick();
      }
      await this.applying;
    }
    await this.applying;
  }

  health(): ReplicationHealth {
    const groups = [...this.groups.values()].map((g) => g.status());
    const problems: string[] = [];
    for (const g of groups) {
      if (g.state === 'emfile') problems.push(`litestream ${g.id} ran out of file descriptors`);
      else if (g.recentCrashes >= CRASH_LOOP_THRESHOLD) problems.push(`litestream ${g.id} is crash-looping (${g.recentCrashes} crashes in the last minute)`);
      // A group is 'stopped' with databases only for the moment between two processes.
      else if (g.dbs > 0 && g.state === 'stopped' && g.stateForMs > 5000) problems.push(`litestream ${g.id} is not running`);
    }
    return { ok: problems.length === 0, problems, groups, replicatedGuilds: this.replicated.size, lagSeconds: this.replicationLag() };
  }

  /** A one-database Litestream config for a guild's path at `epoch` (restore, snapshots). */
  async writeSingleConfig(guildId: string, epoch: number): Promise<{ path: string; dbPath: string; cleanup: () => Promise<void> }> {
    const dbPath = this.paths.dbFile(guildId);
    const path = join(this.paths.litestreamDir, `one-${guildId}-${epoch}-${randomBytes(4).toString('hex')}.yml`);
    await writeFile(path, renderConfig(this.template, [{ dbPath, replica: this.target.location(guildId, epoch) }], this.intervals()), { mode: 0o600 });
    return { path, dbPath, cleanup: () => rm(path, { force: true }) };
  }

  /** Run a one-shot Litestream command against a guild's path at `epoch`. */
  async runFor(guildId: string, epoch: number, command: 'restore' | 'snapshots' | 'wal', args: readonly string[]): Promise<RunResult> {
    const cfg = await this.writeSingleConfig(guildId, epoch);
    try {
      return await runLitestream(this.bin, [command, '-config', cfg.path, ...args, cfg.dbPath]);
    } finally {
      await cfg.cleanup();
    }
  }

  private async probeSnapshot(guildId: string, epoch: number): Promise<boolean> {
    const r = await this.runFor(guildId, epoch, 'snapshots', []);
    if (r.code !== 0) throw new Error(`litestream snapshots failed: ${failureDetail(r)}`);
    // A table: a header line, then one line per snapshot.
    return r.text.filter((l) => l.trim().length > 0 && !l.startsWith('replica') && !l.trim().startsWith('{')).length > 0;
  }

  private markDirty(groups: readonly string[]): void {
    for (const g of groups) this.dirty.add(g);
    if (this.dirty.size === 0) return;
    const now = this.clock.now();
    this.lastChangeAt = now;
    this.firstDirtyAt ??= now;
    const debounceMs = this.o.restartDebounceMs ?? 250;
    const wait = Math.max(0, Math.min(debounceMs, this.firstDirtyAt + (this.o.maxDebounceMs ?? 2000) - now));
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.kick();
    }, wait);
  }

  private kick(): void {
    this.firstDirtyAt = undefined;
    this.applying = this.applying.then(() => this.applyChanges()).catch((err: unknown) => this.logger.error({ err }, 'applying litestream changes failed'));
  }

  /**
   * Restart the changed groups. Groups that lost all members stop first: a split or merge moves
   * guilds out of them, and two processes must never replicate one database to one path.
   */
  private async applyChanges(): Promise<void> {
    const dirty = [...this.dirty];
    this.dirty.clear();
    if (dirty.length === 0 || this.stopped) return;
    this.applyingNow = true;
    try {
      // A process restarting anyway drops its released guilds for free.
      for (const g of dirty) this.forgetDetached(this.layout.dropReleased(g));
      const emptied = dirty.filter((g) => this.layout.members(g).length === 0);
      const filled = dirty.filter((g) => this.layout.members(g).length > 0);
      await Promise.all(emptied.map((g) => this.reconfigure(g, [])));
      await Promise.all(filled.map((g) => this.reconfigure(g, this.layout.members(g))));
    } finally {
      this.applyingNow = false;
      this.settleReleaseWaiters();
      // Their processes stopped (a clean stop credited their last writes): their files are
      // closed, so what is still unconfirmed is no longer this pod's lag.
      for (const g of this.dropped) if (!this.replicated.has(g)) this.lag.forget(g);
      this.dropped.clear();
    }
  }

  /** Released guilds dropped from every config: no longer replicated here. */
  private forgetDetached(guilds: readonly string[]): void {
    for (const g of guilds) {
      this.replicated.delete(g);
      this.dropped.add(g);
    }
  }

  /** One maintenance step when nothing changed for a while (group-layout.ts). */
  private maintain(): void {
    if (this.stopped || this.applyingNow || this.dirty.size > 0 || this.debounce) return;
    const now = this.clock.now();
    if (now - this.lastChangeAt < (this.o.quietMs ?? 10_000)) return;
    const step = this.layout.maintenance(now, this.o.releasedAfterMs ?? 60_000);
    if (!step) return;
    this.forgetDetached(step.detached);
    this.logger.info({ step: step.kind, restarted: step.changed, stopped: step.removed, detached: step.detached.length }, 'litestream maintenance');
    this.markDirty([...step.changed, ...step.removed]);
  }

  /** Answer remove() calls whose guild is confirmed, or no longer in any config. */
  private settleReleaseWaiters(): void {
    if (this.releaseWaiters.length === 0) return;
    this.releaseWaiters = this.releaseWaiters.filter((w) => {
      const done = this.lag.isReplicated(w.guildId) || !this.layout.isReleased(w.guildId);
      if (done) {
        clearTimeout(w.timer);
        w.resolve(this.lag.isReplicated(w.guildId));
      }
      return !done;
    });
  }

  private async reconfigure(groupId: string, members: readonly string[]): Promise<void> {
    let group = this.groups.get(groupId);
    if (!group && members.length === 0) {
      this.resolveWaiters(groupId);
      return;
    }
    if (!group) {
      group = this.createGroup(groupId);
      this.groups.set(groupId, group);
    }
    const epochs = new Map<string, number>();
    const dbs: ReplicatedDb[] = [];
    for (const g of members) {
      const epoch = this.replicated.get(g) as number;
      epochs.set(g, epoch);
      dbs.push({ dbPath: this.paths.dbFile(g), replica: this.target.location(g, epoch) });
    }
    const switchOver = (stopped: StopOutcome) => {
      this.confirmFlushed(groupId, stopped);
      this.configured.set(groupId, epochs);
    };
    try {
      await group.reconfigure(dbs.length > 0 ? renderConfig(this.template, dbs, this.intervals()) : undefined, dbs.length, switchOver);
    } catch (err) {
      this.logger.error({ err, group: groupId }, 'litestream group reconfigure failed');
      this.configured.set(groupId, epochs);
    }
    if (members.length === 0) {
      this.groups.delete(groupId);
      this.configured.delete(groupId);
    }
    this.resolveWaiters(groupId);
  }

  /** A clean SIGTERM exit synced every write committed before the signal, for every member. */
  private confirmFlushed(groupId: string, outcome: StopOutcome): void {
    if (!outcome.wasRunning || !outcome.clean) return;
    for (const g of this.configuredMembers(groupId)) this.lag.noteReplicated(g, outcome.signalledAt);
  }

  /** Answer remove() calls for guilds that were in this group. */
  private resolveWaiters(groupId: string): void {
    const mine = this.waiters.filter((w) => w.group === groupId);
    if (mine.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.group !== groupId);
    for (const w of mine) {
      // confirmFlushed() already credited the stopped process's members; a guild added and
      // removed before any process replicated it gets no credit here.
      // Unconfirmed writes stay tracked: the caller either keeps the guild (and re-adds it) or
      // closes it and calls forget().
      w.resolve(this.lag.isReplicated(w.guildId));
    }
  }

  private configuredMembers(groupId: string): string[] {
    return [...(this.configured.get(groupId)?.keys() ?? [])];
  }

  private intervals() {
    return { monitorMs: this.monitorIntervalMs, syncMs: this.syncIntervalMs };
  }

  private createGroup(id: string): LitestreamGroup {
    return new LitestreamGroup({
      id,
      bin: this.bin,
      configPath: join(this.paths.litestreamDir, `${id}.yml`),
      clock: this.clock,
      logger: this.logger,
      backoff: this.o.backoff ?? { initialMs: 500, maxMs: 30_000, jitter: 0.2 },
      emfileBackoff: this.o.emfileBackoff ?? { initialMs: 10_000, maxMs: 300_000, jitter: 0.2 },
      stableAfterMs: this.o.stableAfterMs ?? 30_000,
      stopTimeoutMs: this.o.stopTimeoutMs ?? 30_000,
      firstSyncMs: Math.ceil(1.5 * this.monitorIntervalMs) + 100,
      guildOf: (p) => this.paths.guildOfDbPath(p),
      nice: this.o.nice ?? 0,
      onLine: (line) => this.onLine(id, line),
    });
  }

  private onLine(groupId: string, line: LitestreamLine): void {
    const ev = replicaEvent(line);
    if (!ev) return;
    const guildId = this.paths.guildOfDbPath(ev.db);
    if (guildId === undefined) return;
    const at = ev.time ?? this.clock.wallNow();
    switch (ev.kind) {
      case 'segment-start':
      case 'snapshot-start':
        // Overwrite: a process killed mid-sync never logged its "written" line, and an older
        // start time would credit the next sync with less than it shipped, forever.
        this.syncStarted.set(ev.db, at);
        break;
      case 'segment-done':
      case 'snapshot-done': {
        const started = this.syncStarted.get(ev.db);
        this.syncStarted.delete(ev.db);
        if (started !== undefined) this.lag.noteReplicated(guildId, started);
        this.settleReleaseWaiters();
        if (ev.kind === 'snapshot-done') {
          const epoch = this.configured.get(groupId)?.get(guildId);
          if (epoch !== undefined) this.advancer?.noteSnapshot(guildId, epoch);
        }
        break;
      }
      case 'new-generation':
        break;
    }
  }
}

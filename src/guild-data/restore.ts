// Restore on claim (DESIGN §5): a guild's data comes back from the replica path of its recorded
// data_epoch into a fresh file, the old local file is moved aside, and the new epoch is
// recorded. No data_epoch means a new guild (start empty); a recorded one that cannot be read
// fails loudly, never silently empty. Point-in-time restores use Litestream's -timestamp.
import { existsSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { DataEpochStore } from './data-epoch.js';
import { RestoreError } from './errors.js';
import type { GuildDatabases } from './guild-databases.js';
import type { GuildDb } from './guild-db.js';
import { removeReadOutput, type FileReplicaRestore } from './file-replica-restore.js';
import { failureDetail } from './litestream-bin.js';
import { checkCandidate, moveAside, placeFile } from './local-files.js';
import { assertGuildId } from './paths.js';
import { inProcessReader, type ReplicaReader } from './replica-reader.js';
import type { ReplicationManager } from './replication-manager.js';
import { fallbackCandidates, parseSnapshotList, parseWalList, type FallbackCandidate } from './restore-fallback.js';

export interface RestoreDeps {
  readonly dbs: GuildDatabases;
  readonly replication: ReplicationManager;
  /**
   * Wall ms since which every event of the guild can be replayed (the gateway's replay buffer).
   * With it, a replica whose latest state is unreadable may be restored from an earlier WAL
   * index that still reaches that far (restore-fallback.ts); without it, such a restore fails.
   */
  readonly replayCoversSince?: () => number;
  /** Reads local-directory replicas (default: on the event loop; the gateway uses threads). */
  readonly reader?: ReplicaReader;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface RestoreResult {
  readonly guildId: string;
  /** The epoch the guild now serves. */
  readonly epoch: number;
  /** The epoch whose replica the data came from (null: started empty). */
  readonly dataEpoch: number | null;
  readonly source: 'replica' | 'empty';
  readonly movedAside: string | undefined;
  readonly seconds: number;
  readonly db: GuildDb;
  /** Set when the latest state was unreadable and an earlier WAL index was restored instead. */
  readonly fellBackTo?: FallbackCandidate | undefined;
}

/** Restore a claimed guild at `epoch` from its data_epoch's replica (or start it empty). */
export function restoreGuild(deps: RestoreDeps, guildId: string, epoch: number, store: DataEpochStore): Promise<RestoreResult> {
  return restore(deps, guildId, epoch, store, undefined);
}

/**
 * Restore a guild as it was at `at` from its data_epoch's replica, serving it at `epoch`. Only
 * the data_epoch path's history is reachable (older epoch paths are deleted once superseded),
 * within the replica's retention. The caller pauses the guild meanwhile.
 */
export function restoreGuildAt(deps: RestoreDeps, guildId: string, at: Date, epoch: number, store: DataEpochStore): Promise<RestoreResult> {
  if (Number.isNaN(at.getTime())) throw new TypeError('restoreGuildAt: invalid date');
  return restore(deps, guildId, epoch, store, at);
}

/** Why a restored file cannot be served. */
interface Problem {
  readonly reason: RestoreError['reason'];
  readonly detail: string;
}

async function restore(deps: RestoreDeps, guildId: string, epoch: number, store: DataEpochStore, at: Date | undefined): Promise<RestoreResult> {
  assertGuildId(guildId);
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? silentLogger).child({ guild: guildId, epoch });
  const started = clock.now();
  // Where a slow restore spends its time (ms since it started), for the log line.
  const phases: Record<string, number> = {};
  const mark = (name: string) => (phases[name] = Math.round(clock.now() - started));
  const assignment = await store.getAssignment(guildId);
  const recorded = assignment?.dataEpoch ?? null;
  // A point in time is looked up in data_epoch's history only; a claim takes the newest state.
  const dataEpoch = at ? recorded : await newestComplete(deps.replication.target, guildId, recorded, epoch);
  if (dataEpoch !== recorded) logger.info({ recorded, newer: dataEpoch }, 'a newer epoch path than data_epoch has a snapshot: restoring from it');
  const fail = (reason: RestoreError['reason'], detail: string): never => {
    const err = new RestoreError(guildId, dataEpoch ?? -1, reason, detail);
    metrics.restoreFailures.inc();
    logger.error({ dataEpoch, reason, detail, at: at?.toISOString() }, 'guild restore failed');
    throw err;
  };
  if (dataEpoch === null && at !== undefined) fail('missing', 'no data_epoch recorded: nothing to restore a point in time from');

  mark('located');
  const reservation = await deps.dbs.reserve(guildId);
  mark('reserved');
  const scratch = deps.dbs.paths.scratchFile(guildId, 'restore');
  try {
    let fellBackTo: FallbackCandidate | undefined;
    let read: FileReplicaRestore | undefined;
    let stamped = false;
    if (dataEpoch !== null) {
      const location = deps.replication.location(guildId, dataEpoch);
      const url = location.url;
      // Litestream refuses an existing output path: restore into fresh scratch space.
      const viaBinary = async (): Promise<Problem | undefined> => {
        const r = await deps.replication.runFor(guildId, dataEpoch, 'restore', ['-o', scratch, ...(at ? ['-timestamp', at.toISOString()] : [])]);
        mark('litestream');
        if (r.code !== 0) {
          const detail = failureDetail(r);
          if (/no matching backups|no generation|no snapshots/i.test(detail)) fail('missing', `${url}: ${detail}`);
          return { reason: 'litestream', detail: `${url}: ${detail}` };
        }
        if (!existsSync(scratch)) fail('missing', `${url}: litestream produced no file`);
        const bad = checkCandidate(scratch, guildId);
        return bad ? { reason: 'unreadable', detail: `${url}: ${bad}` } : undefined;
      };
      // The latest state of a local-directory replica is read in this process (a few ms instead
      // of a process start, file-replica-restore.ts). Whatever that reader refuses, or a file of
      // its that fails the checks, is restored again by the binary, the reference.
      let bad: string | undefined;
      if (!at && location.type === 'file') {
        try {
          ({ read, problem: bad, stamped } = await (deps.reader ?? inProcessReader).read(location.path, scratch, guildId, { epoch, atMs: clock.wallNow() }));
        } catch (err) {
          logger.warn({ dataEpoch, err }, 'reading the replica directly failed; restoring with the litestream binary');
          // A reader thread that died may have left its partial output behind.
          removeReadOutput(scratch);
        }
      }
      mark('read');
      if (bad) {
        logger.warn({ dataEpoch, problem: bad }, 'the replica read directly failed its checks; restoring with the litestream binary');
        read = undefined;
        rmSync(scratch, { force: true });
      }
      const problem = read ? undefined : await viaBinary();
      if (problem) {
        fellBackTo = at || !deps.replayCoversSince ? undefined : await restoreEarlier(deps, guildId, dataEpoch, scratch, deps.replayCoversSince(), logger);
        if (!fellBackTo) fail(problem.reason, problem.detail);
        metrics.restoreFallbacks.inc();
        logger.error(
          { dataEpoch, problem: problem.detail, generation: fellBackTo!.generation, index: fellBackTo!.index, upTo: new Date(fellBackTo!.upToMs).toISOString() },
          "the replica's latest state could not be restored; restored an earlier WAL index instead (the replay buffer holds every event since, so none is lost)",
        );
      }
    }
    const movedAside = moveAside(deps.dbs.paths, guildId, clock.wallNow());
    if (dataEpoch !== null) placeFile(deps.dbs.paths, guildId, scratch);
    const db = await reservation.adopt(epoch);
    mark('opened');
    const seconds = (clock.now() - started) / 1000;
    if (dataEpoch !== null) metrics.restoreSeconds.observe(seconds);
    logger.info({ dataEpoch, movedAside, seconds, phases, at: at?.toISOString(), read: read ? (deps.reader?.kind === 'threads' ? 'thread' : 'in-process') : dataEpoch === null ? undefined : 'litestream', generation: read?.generation, stamped }, dataEpoch === null ? 'guild started empty (no data_epoch)' : 'guild restored');
    return { guildId, epoch, dataEpoch, source: dataEpoch === null ? 'empty' : 'replica', movedAside, seconds, db, fellBackTo };
  } catch (err) {
    reservation.cancel();
    throw err;
  } finally {
    // Synchronous, like the moves into place: two thread-pool round trips on every restore.
    rmSync(scratch, { force: true });
    rmSync(`${scratch}.tmp`, { force: true });
  }
}

/**
 * The epoch path to restore a claim from: data_epoch, or a newer epoch's path below ours that
 * already has a snapshot. data_epoch moves only after its owner saw that snapshot and wrote
 * Postgres, seconds later (more while a pod is claiming hundreds of guilds); an owner that died
 * in between left a newer complete state than data_epoch names, and starting from the older one
 * would lose what the replay buffer no longer holds. Every owner starts from the newest state
 * there was (a restore like this one, or the previous owner's handoff copy), so a newer epoch's
 * state holds everything an older one does. Targets that cannot list paths (S3) use data_epoch.
 */
async function newestComplete(target: ReplicationManager['target'], guildId: string, recorded: number | null, epoch: number): Promise<number | null> {
  const epochs = await target.listEpochs(guildId).catch(() => undefined);
  if (!epochs) return recorded;
  const newer = epochs.filter((e) => e < epoch && e > (recorded ?? 0)).sort((a, b) => b - a);
  for (const e of newer) if (await target.hasSnapshot(guildId, e).catch(() => false)) return e;
  return recorded;
}

/**
 * Try the earlier WAL indexes the replay buffer covers, newest first, until one restores into a
 * file that passes the candidate checks. Leaves it in `scratch` and says which; undefined if none.
 */
async function restoreEarlier(deps: RestoreDeps, guildId: string, dataEpoch: number, scratch: string, coveredSinceMs: number, logger: Logger): Promise<FallbackCandidate | undefined> {
  const [wal, snaps] = await Promise.all([deps.replication.runFor(guildId, dataEpoch, 'wal', []), deps.replication.runFor(guildId, dataEpoch, 'snapshots', [])]);
  if (wal.code !== 0 || snaps.code !== 0) return undefined;
  const candidates = fallbackCandidates(parseWalList(wal.text), parseSnapshotList(snaps.text), coveredSinceMs);
  if (candidates.length === 0) logger.warn({ dataEpoch, coveredSince: new Date(coveredSinceMs).toISOString() }, 'no earlier WAL index reaches back to what the replay buffer holds: no lossless fallback');
  for (const c of candidates) {
    await rm(scratch, { force: true });
    await rm(`${scratch}.tmp`, { force: true });
    const r = await deps.replication.runFor(guildId, dataEpoch, 'restore', ['-o', scratch, '-generation', c.generation, '-index', String(c.index)]);
    const problem = r.code !== 0 ? failureDetail(r) : !existsSync(scratch) ? 'no file' : checkCandidate(scratch, guildId);
    if (!problem) return c;
    logger.warn({ dataEpoch, generation: c.generation, index: c.index, problem }, 'earlier WAL index not restorable either');
  }
  return undefined;
}


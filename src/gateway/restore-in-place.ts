// `leasehold admin restore <guild> [--at <time>]` on the owner (DESIGN §5): a handoff-like pause
// of one guild while its data is replaced from its replica. The owner pauses the guild (its
// dispatches are only buffered), moves its own lease to a new epoch (so nothing fenced by the old
// one can write, and the restored file replicates to a fresh path while data_epoch still names
// the old one), restores from the data_epoch replica — as it was at `at`, or its latest state —
// and goes live again, replaying only what arrived during the pause: events between `at` and the
// pause are what a point-in-time restore deliberately rolls back.
import { existsSync } from 'node:fs';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { AppError, errorMessage } from '../errors.js';
import type { GuildData } from '../guild-data/index.js';
import type { RestoreResult } from '../guild-data/restore.js';
import type { EventPipeline } from './pipeline.js';

export interface RestoreInPlaceDeps {
  readonly guildData: GuildData;
  readonly pipeline: EventPipeline;
  /** Move this pod's own lease from `epoch` to a new epoch, committed in Postgres as a restore. */
  readonly rollEpoch: (guildId: string, epoch: number) => Promise<number>;
  /** Give the guild up (restore failed and its old file is gone): a claim restores it later. */
  readonly giveUp: (guildId: string, epoch: number) => Promise<void>;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RestoreInPlaceResult {
  readonly guildId: string;
  readonly fromEpoch: number;
  readonly epoch: number;
  /** The point in time restored (ISO), or null for the replica's latest state. */
  readonly at: string | null;
  /** The epoch whose replica the data came from. */
  readonly dataEpoch: number | null;
  /** Where the replaced local file went. */
  readonly movedAside: string | null;
  /** How long the guild was paused (ms). */
  readonly pauseMs: number;
  /** Dispatches that arrived during the pause and were applied after it. */
  readonly replayed: number;
}

export class RestoreFailedError extends AppError {
  constructor(message: string) {
    super(502, 'RESTORE_FAILED', message);
  }
}

/** Restore a guild this pod serves at `epoch`; see the file comment. */
export async function restoreInPlace(d: RestoreInPlaceDeps, guildId: string, epoch: number, at: Date | undefined): Promise<RestoreInPlaceResult> {
  if (at !== undefined && (Number.isNaN(at.getTime()) || at.getTime() > d.clock.wallNow())) {
    throw new AppError(400, 'BAD_TIME', `restore time ${String(at)} is not a past point in time`);
  }
  const log = d.logger.child({ guild: guildId, epoch, at: at?.toISOString() });
  const started = d.clock.now();
  const pausedAt = await d.pipeline.pause(guildId);
  let newEpoch: number;
  try {
    newEpoch = await d.rollEpoch(guildId, epoch);
  } catch (err) {
    d.pipeline.resume(guildId);
    throw err;
  }
  d.pipeline.stop(guildId, epoch);
  log.info({ newEpoch }, 'restore: guild paused, lease moved to a new epoch');

  let restored: RestoreResult;
  try {
    restored = at ? await d.guildData.restoreGuildAt(guildId, at, newEpoch) : await d.guildData.restoreGuild(guildId, newEpoch);
  } catch (err) {
    // The local file is only moved aside after the replica's copy passed its checks, so it is
    // normally still here: serve it at the new epoch and report the failure.
    const file = d.guildData.dbs.paths.dbFile(guildId);
    if (existsSync(file)) {
      await (await d.guildData.dbs.reserve(guildId)).adopt(newEpoch);
      await d.pipeline.goLive(guildId, newEpoch);
      log.error({ err, newEpoch }, 'restore failed: the guild serves its previous data again');
      throw new RestoreFailedError(`restore of guild ${guildId} failed (${errorMessage(err)}); it serves its previous data at epoch ${newEpoch}`);
    }
    await d.giveUp(guildId, newEpoch);
    log.error({ err, newEpoch }, 'restore failed and the local file is gone: guild released for a claim to restore it');
    throw new RestoreFailedError(`restore of guild ${guildId} failed (${errorMessage(err)}); its lease was released so a claim restores it from the replica`);
  }
  const { replayed } = await d.pipeline.goLive(guildId, newEpoch, { replayFromMs: pausedAt });
  const pauseMs = Math.round(d.clock.now() - started);
  log.info({ newEpoch, dataEpoch: restored.dataEpoch, movedAside: restored.movedAside, pauseMs, replayed }, 'guild restored in place');
  return {
    guildId,
    fromEpoch: epoch,
    epoch: newEpoch,
    at: at?.toISOString() ?? null,
    dataEpoch: restored.dataEpoch,
    movedAside: restored.movedAside ?? null,
    pauseMs,
    replayed,
  };
}

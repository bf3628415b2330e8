// The planned-move copy (DESIGN §4 "Handoff"): the owner exports a consistent image of the
// guild's database, the target verifies and installs it under its new epoch. No replication is
// involved, so a move never waits for it and every committed row travels.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { GuildDataError } from './errors.js';
import type { GuildFence } from './fence.js';
import type { GuildDatabases } from './guild-databases.js';
import type { GuildDb } from './guild-db.js';
import { assertCandidate, moveAside, placeFile, writeScratch } from './local-files.js';
import { assertGuildId } from './paths.js';

export interface GuildCopy {
  readonly guildId: string;
  /** The exporting owner's epoch (the file's recorded epoch). */
  readonly sourceEpoch: number;
  readonly size: number;
  /** Hex sha256 of `bytes`, checked before anything is installed. */
  readonly sha256: string;
  readonly bytes: Buffer;
}

export const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A consistent copy of the guild's database (an in-memory image, GuildDb.image).
 * The caller has stopped applying events; the fence is checked before and after the copy, so a
 * copy is only handed out while this pod still owns the guild.
 */
export async function exportGuild(dbs: GuildDatabases, guildId: string, fence: GuildFence): Promise<GuildCopy> {
  assertGuildId(guildId);
  if (fence.guildId !== guildId) throw new GuildDataError('WRONG_GUILD_FILE', `fence for guild ${fence.guildId} used to export guild ${guildId}`, guildId);
  return dbs.use(fence, async (db) => {
    const bytes = await db.image();
    fence.assertValid();
    return { guildId, sourceEpoch: db.epoch, size: bytes.length, sha256: sha256Hex(bytes), bytes };
  });
}

export interface InstallOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface InstallResult {
  readonly db: GuildDb;
  /** Where the file that was there before went, if there was one. */
  readonly movedAside: string | undefined;
}

/**
 * Install a handed-over copy as the guild's database at `epoch`: verify its checksum and that it
 * is this guild's readable database, move any existing file aside, rename the copy into place,
 * record the new epoch and open it (which starts replicating it to `epoch`'s path).
 */
export async function installGuild(dbs: GuildDatabases, guildId: string, copy: GuildCopy, epoch: number, opts: InstallOptions = {}): Promise<InstallResult> {
  assertGuildId(guildId);
  const logger = opts.logger ?? silentLogger;
  if (copy.guildId !== guildId) throw new GuildDataError('WRONG_GUILD_FILE', `copy of guild ${copy.guildId} offered for guild ${guildId}`, guildId);
  if (copy.bytes.length !== copy.size || sha256Hex(copy.bytes) !== copy.sha256) {
    throw new GuildDataError('CHECKSUM_MISMATCH', `guild ${guildId}: handoff copy does not match its size/sha256`, guildId);
  }
  if (epoch < copy.sourceEpoch) throw new GuildDataError('EPOCH_REGRESSION', `guild ${guildId}: install at epoch ${epoch} below the copy's ${copy.sourceEpoch}`, guildId);
  const clock = opts.clock ?? systemClock;
  const t0 = clock.now();
  const phases: Record<string, number> = {};
  const mark = (name: string) => (phases[name] = Math.round(clock.now() - t0));
  const reservation = await dbs.reserve(guildId);
  mark('reserved');
  const scratch = dbs.paths.scratchFile(guildId, 'install');
  try {
    await writeScratch(scratch, copy.bytes);
    mark('written');
    assertCandidate(scratch, guildId);
    mark('checked');
    const movedAside = moveAside(dbs.paths, guildId, clock.wallNow());
    placeFile(dbs.paths, guildId, scratch);
    mark('placed');
    const db = await reservation.adopt(epoch);
    mark('adopted');
    logger.info({ guild: guildId, epoch, from: copy.sourceEpoch, bytes: copy.size, movedAside, phases }, 'guild copy installed');
    return { db, movedAside };
  } catch (err) {
    reservation.cancel();
    throw err;
  } finally {
    rmSync(scratch, { force: true });
  }
}

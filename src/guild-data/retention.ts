// Deleting a left guild's data once its retention has passed: its replica paths (every epoch up
// to the last committed one) and the files this pod keeps for it (database, WAL/SHM, moved-aside
// copies, Litestream's shadow directory). Which guilds, and when, is the caller's decision.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { GuildPaths } from './paths.js';
import type { ReplicaTarget } from './replica-target.js';

export interface ReplicaDeletion {
  /** Epoch paths deleted. */
  readonly deleted: readonly number[];
  /** The target cannot list or delete here (S3: a bucket lifecycle rule must expire the paths). */
  readonly unsupported: boolean;
}

/** Delete every replica path of the guild at or below `upToEpoch`. */
export async function deleteReplicaEpochs(target: ReplicaTarget, guildId: string, upToEpoch: number): Promise<ReplicaDeletion> {
  const epochs = await target.listEpochs(guildId);
  if (epochs === undefined) return { deleted: [], unsupported: true };
  const deleted: number[] = [];
  for (const e of epochs.filter((x) => x <= upToEpoch)) {
    if (!(await target.deleteEpoch(guildId, e))) return { deleted, unsupported: true };
    deleted.push(e);
  }
  return { deleted, unsupported: false };
}

// `<id>.sqlite3`, its -wal/-shm, their `.aside-<ms>` copies, and `.<id>.sqlite3-litestream`.
const LOCAL_NAME = /^\.?(\d{1,20})\.sqlite3(?:-wal|-shm|-litestream)?(?:\.aside-\d+)?$/;

/** Guilds that have any file in this pod's guild directory. */
export async function localGuildIds(paths: GuildPaths): Promise<string[]> {
  const ids = new Set<string>();
  for (const name of await readdirOrEmpty(paths.guildsDir)) {
    const m = LOCAL_NAME.exec(name);
    if (m?.[1]) ids.add(m[1]);
  }
  return [...ids].sort();
}

/**
 * Delete every file this pod keeps for the guild. The caller makes sure nothing has it open
 * (it holds the guild's reservation). Returns the names deleted.
 */
export async function deleteLocalGuildFiles(paths: GuildPaths, guildId: string): Promise<string[]> {
  const deleted: string[] = [];
  for (const name of await readdirOrEmpty(paths.guildsDir)) {
    if (LOCAL_NAME.exec(name)?.[1] !== guildId) continue;
    await rm(join(paths.guildsDir, name), { recursive: true, force: true });
    deleted.push(name);
  }
  return deleted;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    throw err;
  }
}

// Where replicas live (DESIGN §2: one path per guild and epoch, `<REPLICA_URL>/guilds/<g>/<e>`)
// and what can be learned from there directly. A strategy per kind: a local directory
// (development, tests) is read with the filesystem; S3 is only reached through Litestream.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuildDataError } from './errors.js';
import { assertGuildId } from './paths.js';

export interface ReplicaLocation {
  /** Litestream replica type. */
  readonly type: 'file' | 's3';
  /** S3 bucket ('' for file replicas). */
  readonly bucket: string;
  /** Directory (file) or key prefix (s3) of this guild and epoch. */
  readonly path: string;
  /** The same as a URL, for logs and operators. */
  readonly url: string;
}

export interface ReplicaTarget {
  readonly kind: 'file' | 's3';
  location(guildId: string, epoch: number): ReplicaLocation;
  /**
   * Whether the epoch's path holds a complete snapshot (a generation with a snapshot file).
   * `undefined`: this target cannot tell by itself; ask Litestream.
   */
  hasSnapshot(guildId: string, epoch: number): Promise<boolean | undefined>;
  /** Epochs that have a path for the guild (`undefined`: not listable here). */
  listEpochs(guildId: string): Promise<number[] | undefined>;
  /** Delete one epoch's path; false when this target cannot delete. */
  deleteEpoch(guildId: string, epoch: number): Promise<boolean>;
}

export function replicaTarget(replicaUrl: string): ReplicaTarget {
  let u: URL;
  try {
    u = new URL(replicaUrl);
  } catch {
    throw new GuildDataError('BAD_REPLICA_URL', `REPLICA_URL is not a URL: ${replicaUrl}`);
  }
  // Litestream expands $VAR in the whole config file and has no escape for `$`.
  if (replicaUrl.includes('$')) throw new GuildDataError('BAD_REPLICA_URL', `REPLICA_URL must not contain "$": ${replicaUrl}`);
  if (u.protocol === 'file:') return new FileReplicaTarget(fileURLToPath(u));
  if (u.protocol === 's3:') {
    if (!u.hostname) throw new GuildDataError('BAD_REPLICA_URL', `s3 REPLICA_URL needs a bucket: ${replicaUrl}`);
    return new S3ReplicaTarget(u.hostname, u.pathname.replace(/^\/+|\/+$/g, ''));
  }
  throw new GuildDataError('BAD_REPLICA_URL', `REPLICA_URL must be file:///… or s3://bucket/prefix, got ${u.protocol}`);
}

const isEpochName = (n: string): boolean => /^\d{1,15}$/.test(n);

export class FileReplicaTarget implements ReplicaTarget {
  readonly kind = 'file' as const;
  constructor(readonly root: string) {}

  location(guildId: string, epoch: number): ReplicaLocation {
    assertGuildId(guildId);
    const path = join(this.root, 'guilds', guildId, String(epoch));
    return { type: 'file', bucket: '', path, url: pathToFileURL(path).href };
  }

  /** Litestream v0.3.13 writes `generations/<id>/snapshots/<index>.snapshot.lz4` once a snapshot is complete (it renames a temp file into place). */
  async hasSnapshot(guildId: string, epoch: number): Promise<boolean> {
    const gens = join(this.location(guildId, epoch).path, 'generations');
    for (const gen of await readdirOrEmpty(gens)) {
      if ((await readdirOrEmpty(join(gens, gen, 'snapshots'))).some((f) => f.endsWith('.snapshot.lz4'))) return true;
    }
    return false;
  }

  async listEpochs(guildId: string): Promise<number[]> {
    assertGuildId(guildId);
    const names = await readdirOrEmpty(join(this.root, 'guilds', guildId));
    return names.filter(isEpochName).map(Number).sort((a, b) => a - b);
  }

  async deleteEpoch(guildId: string, epoch: number): Promise<boolean> {
    await rm(this.location(guildId, epoch).path, { recursive: true, force: true });
    return true;
  }
}

export class S3ReplicaTarget implements ReplicaTarget {
  readonly kind = 's3' as const;
  constructor(
    readonly bucket: string,
    readonly prefix: string,
  ) {}

  location(guildId: string, epoch: number): ReplicaLocation {
    assertGuildId(guildId);
    const path = [this.prefix, 'guilds', guildId, String(epoch)].filter((p) => p.length > 0).join('/');
    return { type: 's3', bucket: this.bucket, path, url: `s3://${this.bucket}/${path}` };
  }

  hasSnapshot(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  listEpochs(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  /** Litestream v0.3.13 has no delete command and leasehold ships no S3 client: a bucket lifecycle rule expires old epochs. */
  deleteEpoch(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR') return [];
    throw err;
  }
}

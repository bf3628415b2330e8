// Where a guild's files live on the gateway's volume: the database, its WAL/SHM, Litestream's
// shadow directory, moved-aside copies, scratch files and rendered Litestream configs.
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { GuildDataError } from './errors.js';

/** Discord ids are decimal snowflakes; anything else is refused before it can name a path. */
const GUILD_ID = /^\d{1,20}$/;

export function assertGuildId(guildId: string): void {
  if (!GUILD_ID.test(guildId)) throw new GuildDataError('BAD_GUILD_ID', `not a guild id: ${JSON.stringify(guildId)}`, guildId);
}

export class GuildPaths {
  readonly root: string;
  readonly guildsDir: string;
  /** Scratch space on the same filesystem as the guild files, so a rename into place is atomic. */
  readonly scratchDir: string;
  readonly litestreamDir: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
    // Litestream expands $VAR in its whole config, paths included, and has no escape for `$`.
    if (this.root.includes('$')) throw new GuildDataError('BAD_TEMPLATE', `DATA_DIR must not contain "$": ${this.root}`);
    this.guildsDir = join(this.root, 'guilds');
    this.scratchDir = join(this.guildsDir, '.scratch');
    this.litestreamDir = join(this.root, 'litestream');
  }

  dbFile(guildId: string): string {
    assertGuildId(guildId);
    return join(this.guildsDir, `${guildId}.sqlite3`);
  }

  /** The database and the files SQLite keeps beside it; they move together or not at all. */
  dbFiles(guildId: string): { db: string; wal: string; shm: string } {
    const db = this.dbFile(guildId);
    return { db, wal: `${db}-wal`, shm: `${db}-shm` };
  }

  /** Litestream v0.3's shadow WAL directory for a database (`.<name>-litestream` beside it). */
  litestreamMetaDir(guildId: string): string {
    assertGuildId(guildId);
    return join(this.guildsDir, `.${guildId}.sqlite3-litestream`);
  }

  asideSuffix(wallMs: number): string {
    return `.aside-${wallMs}`;
  }

  scratchFile(guildId: string, what: string): string {
    assertGuildId(guildId);
    return join(this.scratchDir, `${guildId}.${what}.${randomBytes(4).toString('hex')}.sqlite3`);
  }

  /** The guild id a database path names, for Litestream's log lines (which carry the path). */
  guildOfDbPath(path: string): string | undefined {
    const m = /([0-9]{1,20})\.sqlite3$/.exec(path);
    return m?.[1];
  }
}

// Typed errors of the guild data layer. Fencing failures reuse the cluster's FencedError; these
// are the failures that belong to files, copies and replicas.

export type GuildDataErrorCode =
  | 'BAD_GUILD_ID' // not a Discord id: refused before it can name a path
  | 'GUILD_NOT_RESTORED' // no local file for the guild: restore, install or create it first
  | 'GUILD_DB_CLOSED' // a handle used after its guild was closed (idle, released)
  | 'WRONG_GUILD_FILE' // the file records another guild id
  | 'EPOCH_REGRESSION' // an attempt to record an epoch below the file's
  | 'CHECKSUM_MISMATCH' // a handoff copy that does not match its sha256
  | 'BAD_TEMPLATE' // litestream.yml cannot be rendered
  | 'BAD_REPLICA_URL'
  | 'LITESTREAM_FAILED'; // a one-shot litestream command failed

export class GuildDataError extends Error {
  constructor(
    readonly code: GuildDataErrorCode,
    message: string,
    readonly guildId?: string,
  ) {
    super(message);
    this.name = 'GuildDataError';
  }
}

/**
 * A guild could not be restored from its recorded data_epoch: the replica is missing or
 * unreadable. The claim fails loudly and is retried; the guild never starts empty instead.
 */
export class RestoreError extends Error {
  readonly code = 'RESTORE_FAILED';
  constructor(
    readonly guildId: string,
    readonly dataEpoch: number,
    readonly reason: 'missing' | 'unreadable' | 'litestream',
    readonly detail: string,
  ) {
    super(`restore of guild ${guildId} from data epoch ${dataEpoch} failed (${reason}): ${detail}`);
    this.name = 'RestoreError';
  }
}

// The cluster's typed errors. Lua scripts return numeric codes; ScriptErrorCode maps them here,
// so one table decides what each failure means to TypeScript callers.

export enum ScriptErrorCode {
  LeaseHeld = 1,
  LeaseNotExpired = 2,
  UntilUnknown = 3,
  NotOwner = 4,
  PodIdTaken = 5,
  RingMismatch = 6,
  BadArgument = 7,
}

export class ScriptError extends Error {
  constructor(
    readonly code: ScriptErrorCode,
    readonly script: string,
    readonly detail: readonly unknown[],
  ) {
    super(`${script}: ${ScriptErrorCode[code] ?? `code ${code}`}${detail.length ? ` (${detail.join(', ')})` : ''}`);
    this.name = 'ScriptError';
  }
}

/** This pod no longer holds the guild's lease: stop all work on the guild at once. */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(
    readonly guildId: string,
    readonly epoch: number,
    readonly reason: 'deadline' | 'lost' | 'moved' | 'released' | 'stale_epoch' | 'shutdown',
  ) {
    super(`lease on guild ${guildId} at epoch ${epoch} lost (${reason})`);
    this.name = 'LeaseLostError';
  }
}

/** A write was attempted under an epoch that is no longer current, or past the local deadline. */
export class FencedError extends Error {
  readonly code = 'FENCED';
  constructor(
    readonly guildId: string,
    readonly epoch: number,
    readonly reason: 'epoch' | 'deadline' | 'stale_epoch',
    message?: string,
  ) {
    super(message ?? `write to guild ${guildId} at epoch ${epoch} fenced (${reason})`);
    this.name = 'FencedError';
  }
}

/** Postgres already holds a higher epoch for the guild than the one being committed. */
export class StaleEpochError extends Error {
  readonly code = 'STALE_EPOCH';
  constructor(
    readonly guildId: string,
    readonly attempted: number,
    readonly current: number,
  ) {
    super(`epoch ${attempted} for guild ${guildId} is not above the committed epoch ${current}`);
    this.name = 'StaleEpochError';
  }
}

/** An operation needs this pod to hold the guild's lease at `epoch`, and it does not (or not now). */
export class LeaseNotHeldError extends Error {
  readonly code = 'LEASE_NOT_HELD';
  constructor(
    readonly guildId: string,
    readonly epoch: number,
    detail?: string,
  ) {
    super(`this pod does not hold guild ${guildId} at epoch ${epoch}${detail ? `: ${detail}` : ''}`);
    this.name = 'LeaseNotHeldError';
  }
}

// Where a guild's data comes from when this pod acquires its lease at `epoch` (pure).
// - A handoff copy sent by the previous owner: install it.
// - Our own local file, when nobody else can have written the guild since it: the file records
//   this very epoch (we stopped at a deadline and got the same lease back), or the epoch just
//   below, which this process held and stopped itself (a deadline passed while its event loop
//   was starved, then it claimed again). No other owner exists between the two epochs, so the
//   file holds every write ever made, while the replica may lag behind it, and a restarted
//   peer's replay buffer may not reach back to what the replica lacks. A file left by an
//   earlier process is not trusted this way: after an OS crash its last transactions may be
//   missing (synchronous = NORMAL) while Litestream had already shipped them.
// - Otherwise the replica of the recorded data_epoch (restore).

export type DataSource = 'handoff' | 'local' | 'replica';

export interface DataSourceInput {
  readonly epoch: number;
  readonly hasCopy: boolean;
  /** The epoch the local file records, if there is a readable one. */
  readonly localEpoch: number | undefined;
  /** The epoch at which this process last stopped serving the guild, if it did. */
  readonly stoppedHereAt: number | undefined;
}

export function dataSource(i: DataSourceInput): DataSource {
  if (i.hasCopy) return 'handoff';
  if (i.localEpoch === undefined) return 'replica';
  if (i.localEpoch === i.epoch) return 'local';
  if (i.localEpoch === i.epoch - 1 && i.stoppedHereAt === i.localEpoch) return 'local';
  return 'replica';
}

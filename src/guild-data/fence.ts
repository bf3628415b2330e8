// The fence every guild write carries (DESIGN §4 "Fencing"): the epoch the caller holds and a
// check that it still holds it before the local deadline. The gateway provides it.
import { FencedError } from '../cluster/errors.js';

export interface GuildFence {
  readonly guildId: string;
  readonly epoch: number;
  /** Throws FencedError when the epoch is no longer this pod's or the local deadline passed. */
  assertValid(): void;
}

/**
 * The write may proceed only when the fence names this guild, carries the epoch the file was
 * opened at, and is still valid. An epoch check alone is not enough: after SIGSTOP/SIGCONT queued
 * work runs before any timer fires, so the deadline check inside assertValid() is what stops it.
 */
export function checkFence(fence: GuildFence, guildId: string, fileEpoch: number): void {
  if (fence.guildId !== guildId) throw new FencedError(guildId, fence.epoch, 'epoch', `fence for guild ${fence.guildId} used on guild ${guildId}`);
  if (fence.epoch < fileEpoch) throw new FencedError(guildId, fence.epoch, 'stale_epoch', `write to guild ${guildId} at epoch ${fence.epoch} fenced: the file is at epoch ${fileEpoch}`);
  if (fence.epoch > fileEpoch) throw new FencedError(guildId, fence.epoch, 'epoch', `write to guild ${guildId} at epoch ${fence.epoch} fenced: the file was opened at epoch ${fileEpoch} (restore or install it for this epoch first)`);
  fence.assertValid();
}

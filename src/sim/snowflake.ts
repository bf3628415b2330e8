// Discord snowflakes for the stand-in: unique, increasing ids whose timestamp part is the real
// time, deterministic ids for seeded worlds, and the shard formula `(id >> 22) % shardCount`.
import type { Clock } from '../clock.js';

/** Discord's epoch (2015-01-01T00:00:00Z), the zero of every snowflake's timestamp part. */
export const DISCORD_EPOCH_MS = 1_420_070_400_000;

const TWO_22 = 4_194_304; // 2 ** 22

/** The id's timestamp part, `id >> 22`, as a number (it fits: ~2^42 until the year 2154). */
export function snowflakeTimestampPart(id: string): number {
  return Number(BigInt(id) >> 22n);
}

/** Wall-clock ms at which a snowflake was made. */
export function snowflakeTime(id: string): number {
  return snowflakeTimestampPart(id) + DISCORD_EPOCH_MS;
}

/** Discord's shard formula. */
export function shardOf(guildId: string, shardCount: number): number {
  return snowflakeTimestampPart(guildId) % shardCount;
}

/** A snowflake from its parts: wall-clock ms and the 22 low bits (worker, process, increment). */
export function snowflakeFrom(wallMs: number, low: number): string {
  return ((BigInt(Math.floor(wallMs - DISCORD_EPOCH_MS)) << 22n) | BigInt(low & (TWO_22 - 1))).toString();
}

/**
 * Unique, strictly increasing ids stamped with the wall clock. Up to 4096 ids share one
 * millisecond; past that the timestamp runs ahead of the clock by a millisecond rather than
 * repeat an id (and a clock stepped backwards never yields an id below the last one).
 */
export class SnowflakeGenerator {
  private lastMs = 0;
  private increment = 0;
  private readonly prefix: number;

  constructor(
    private readonly clock: Clock,
    worker = 1,
    processId = 0,
  ) {
    this.prefix = ((worker & 0x1f) << 17) | ((processId & 0x1f) << 12);
  }

  next(): string {
    let ms = Math.floor(this.clock.wallNow());
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.increment += 1;
      if (this.increment > 0xfff) {
        ms += 1;
        this.increment = 0;
      }
    } else {
      this.increment = 0;
    }
    this.lastMs = ms;
    return snowflakeFrom(ms, this.prefix | this.increment);
  }
}

// Discord ids and pod ids, validated once at the edge.

const SNOWFLAKE = /^\d{17,20}$/;
const POD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_SNOWFLAKE = (1n << 64n) - 1n;

/** A Discord snowflake: 17–20 digits that fit in 64 bits. */
export function isSnowflake(s: unknown): s is string {
  return typeof s === 'string' && SNOWFLAKE.test(s) && BigInt(s) <= MAX_SNOWFLAKE;
}

export function isPodId(s: unknown): s is string {
  return typeof s === 'string' && POD_ID.test(s);
}

/** Discord's shard of a guild: (guildId >> 22) % shardCount. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** Wall-clock time (ms) a snowflake was made. */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + 1420070400000n);
}

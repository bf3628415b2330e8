import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.js';
import { DISCORD_EPOCH_MS, shardOf, SnowflakeGenerator, snowflakeFrom, snowflakeTime } from '../../../src/sim/snowflake.js';

describe('snowflakes', () => {
  it('are unique and increasing even past 4096 in one millisecond, stamped with the wall clock', () => {
    const clock = new FakeClock(0, Date.UTC(2026, 5, 1));
    const g = new SnowflakeGenerator(clock);
    const ids = Array.from({ length: 10_000 }, () => g.next());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i] as string) > BigInt(ids[i - 1] as string)).toBe(true);
    expect(snowflakeTime(ids[0] as string)).toBe(Date.UTC(2026, 5, 1));
    // 10,000 ids in one frozen millisecond run at most 3 ms ahead of it.
    expect(snowflakeTime(ids.at(-1) as string) - Date.UTC(2026, 5, 1)).toBeLessThanOrEqual(3);
    clock.advance(50);
    expect(snowflakeTime(g.next())).toBe(Date.UTC(2026, 5, 1) + 50);
  });

  it('never go backwards when the wall clock does', () => {
    const clock = new FakeClock(0, Date.UTC(2026, 5, 1));
    const g = new SnowflakeGenerator(clock);
    const a = g.next();
    clock.advance(-1000);
    expect(BigInt(g.next()) > BigInt(a)).toBe(true);
  });

  it("follow Discord's shard formula (id >> 22) % shards and its epoch", () => {
    expect(DISCORD_EPOCH_MS).toBe(1_420_070_400_000);
    const id = snowflakeFrom(DISCORD_EPOCH_MS + 7, 123);
    expect(id).toBe(String((7n << 22n) | 123n));
    expect(shardOf(id, 4)).toBe(3);
    expect(shardOf('41771983423143937', 10)).toBe(Number((41771983423143937n >> 22n) % 10n));
  });
});

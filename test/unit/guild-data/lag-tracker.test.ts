import { describe, expect, it } from 'vitest';
import { LagTracker } from '../../../src/guild-data/lag-tracker.js';

describe('replication lag', () => {
  it('is zero with no unreplicated writes', () => {
    expect(new LagTracker().lagSeconds(10_000)).toBe(0);
  });

  it('is the age of the oldest write no replica sync has covered yet', () => {
    const lag = new LagTracker();
    lag.noteWrite('a', 1000);
    lag.noteWrite('b', 1500);
    lag.noteWrite('a', 2000);
    expect(lag.lagSeconds(3000)).toBe(2);
    lag.noteReplicated('a', 1200); // a sync that read the WAL at 1200 covers a's first write only
    expect(lag.lagSeconds(3000)).toBe(1.5);
    lag.noteReplicated('b', 1600);
    expect(lag.lagSeconds(3000)).toBe(1);
    lag.noteReplicated('a', 2500);
    expect(lag.lagSeconds(3000)).toBe(0);
    expect(lag.isReplicated('a')).toBe(true);
  });

  it('a sync that began before a write does not cover it', () => {
    const lag = new LagTracker();
    lag.noteWrite('a', 1000);
    lag.noteReplicated('a', 999);
    expect(lag.isReplicated('a')).toBe(false);
  });

  it('stays an upper bound when a guild has more pending writes than it keeps', () => {
    const lag = new LagTracker();
    for (let t = 1; t <= 200; t++) lag.noteWrite('a', t * 10);
    lag.noteReplicated('a', 1000); // covers the first 100 writes (only 64 were kept)
    expect(lag.isReplicated('a')).toBe(false);
    expect(lag.oldestUnreplicated('a')).toBe(1000);
    expect(lag.lagSeconds(3000)).toBe(2);
    lag.noteReplicated('a', 2000);
    expect(lag.isReplicated('a')).toBe(true);
  });

  it('forgets a guild that left', () => {
    const lag = new LagTracker();
    lag.noteWrite('a', 1);
    lag.forget('a');
    expect(lag.lagSeconds(100)).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { ReplayBuffer } from '../../src/gateway/replay-buffer.js';
import { dedupeKey, guildOf, nonceFor } from '../../src/gateway/dedupe.js';

describe('replay buffer', () => {
  it("keeps each guild's dispatches of the last window, oldest first", () => {
    const clock = new FakeClock();
    const b = new ReplayBuffer(clock, 1000, 1 << 20);
    b.add('g1', 'MESSAGE_CREATE', { id: '1' }, 10);
    clock.advance(400);
    b.add('g2', 'MESSAGE_CREATE', { id: '2' }, 10);
    b.add('g1', 'MESSAGE_CREATE', { id: '3' }, 10);
    expect(b.forGuild('g1').map((e) => (e.d as { id: string }).id)).toEqual(['1', '3']);
    clock.advance(700); // the first dispatch is now 1100 ms old
    expect(b.forGuild('g1').map((e) => (e.d as { id: string }).id)).toEqual(['3']);
    expect(b.stats()).toMatchObject({ dispatches: 2, bytes: 20, evicted: 0, reachMs: 700 });
    expect([...b.guildsWithEvents()].sort()).toEqual(['g1', 'g2']);
  });

  it('keeps a pinned guild\'s dispatches past the window until it is unpinned; others age out as usual', () => {
    const clock = new FakeClock();
    const b = new ReplayBuffer(clock, 1000, 1 << 20);
    b.pin('claimed');
    b.add('claimed', 'MESSAGE_CREATE', { id: '1' }, 10);
    b.add('other', 'MESSAGE_CREATE', { id: '2' }, 10);
    clock.advance(5000); // a restore queue far longer than the window
    b.add('claimed', 'MESSAGE_CREATE', { id: '3' }, 10);
    expect(b.forGuild('claimed').map((e) => (e.d as { id: string }).id)).toEqual(['1', '3']);
    expect(b.forGuild('other')).toEqual([]);
    expect(b.stats()).toMatchObject({ dispatches: 2, bytes: 20, evicted: 0 });
    expect(b.guildsWithEvents().has('claimed')).toBe(true);
    b.unpin('claimed');
    expect(b.forGuild('claimed').map((e) => (e.d as { id: string }).id)).toEqual(['3']);
    expect(b.stats()).toMatchObject({ dispatches: 1, bytes: 10 });
  });

  it('over its byte budget drops pinned dispatches first, and says so', () => {
    const clock = new FakeClock();
    const b = new ReplayBuffer(clock, 1000, 50);
    b.pin('claimed');
    for (let i = 0; i < 3; i++) b.add('claimed', 'MESSAGE_CREATE', { id: String(i) }, 10);
    clock.advance(2000);
    for (let i = 3; i < 8; i++) b.add('fresh', 'MESSAGE_CREATE', { id: String(i) }, 10);
    expect(b.stats().bytes).toBeLessThanOrEqual(50);
    expect(b.forGuild('fresh')).toHaveLength(5);
    expect(b.forGuild('claimed')).toEqual([]);
    expect(b.stats().evicted).toBe(3);
    expect(b.completeSince()).toBeGreaterThan(clock.now() - 3000);
  });

  it('is bounded by bytes, counting what it had to evict early', () => {
    const clock = new FakeClock();
    const b = new ReplayBuffer(clock, 60_000, 100);
    for (let i = 0; i < 20; i++) b.add('g', 'MESSAGE_CREATE', { id: String(i) }, 10);
    expect(b.stats()).toMatchObject({ dispatches: 10, bytes: 100, evicted: 10 });
    expect(b.forGuild('g')[0]?.d).toEqual({ id: '10' });
  });

  it('says since when it holds every dispatch: its start, the window, or the last early eviction', () => {
    const clock = new FakeClock();
    const start = clock.now();
    const b = new ReplayBuffer(clock, 1000, 100);
    expect(b.completeSince()).toBe(start); // younger than its window
    clock.advance(5000);
    expect(b.completeSince()).toBe(clock.now() - 1000); // the window
    for (let i = 0; i < 12; i++) {
      b.add('g', 'MESSAGE_CREATE', { id: String(i) }, 10);
      clock.advance(1);
    }
    // Two dispatches were dropped for memory inside the window: complete only after the last of them.
    expect(b.stats().evicted).toBe(2);
    expect(b.completeSince()).toBe(clock.now() - 12 + 1 + 1);
  });

  it('stays correct across compaction of a long run', () => {
    const clock = new FakeClock();
    const b = new ReplayBuffer(clock, 100, 1 << 30);
    for (let i = 0; i < 20_000; i++) {
      b.add(`g${i % 3}`, 'MESSAGE_CREATE', { id: String(i) }, 1);
      clock.advance(1);
    }
    const kept = b.forGuild('g0').map((e) => Number((e.d as { id: string }).id));
    expect(kept.every((id) => id % 3 === 0 && id >= 19_900)).toBe(true);
    expect(kept.length).toBeGreaterThan(30);
  });
});

describe('dedupe keys', () => {
  it('come from the payload itself, so two pods and a replay agree', () => {
    const m = { t: 'MESSAGE_CREATE', d: { id: '1100000000000000001', guild_id: '900000000000000001', content: 'hi' } };
    expect(dedupeKey(m)).toBe('msg:1100000000000000001');
    expect(dedupeKey({ ...m })).toBe(dedupeKey(m));
    expect(guildOf(m)).toBe('900000000000000001');
    expect(dedupeKey({ t: 'GUILD_DELETE', d: { id: '9' } })).toBe('gdel:9:removed');
    expect(dedupeKey({ t: 'GUILD_DELETE', d: { id: '9', unavailable: true } })).toBe('gdel:9:outage');
    const j = { t: 'GUILD_MEMBER_ADD', d: { guild_id: '9', user: { id: '5' }, joined_at: '2026-01-01T00:00:00Z' } };
    expect(dedupeKey(j)).toBe('join:9:5:2026-01-01T00:00:00Z');
    const other = { t: 'CHANNEL_UPDATE', d: { id: '1', name: 'a' } };
    expect(dedupeKey(other)).toBe(dedupeKey({ t: 'CHANNEL_UPDATE', d: { id: '1', name: 'a' } }));
    expect(dedupeKey(other)).not.toBe(dedupeKey({ t: 'CHANNEL_UPDATE', d: { id: '1', name: 'b' } }));
  });

  it('nonces are stable, distinct per side effect, and within Discord’s 25 characters', () => {
    expect(nonceFor('msg:1', 0)).toBe(nonceFor('msg:1', 0));
    expect(nonceFor('msg:1', 0)).not.toBe(nonceFor('msg:1', 1));
    expect(nonceFor('msg:1', 0).length).toBeLessThanOrEqual(25);
  });
});

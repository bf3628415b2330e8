import { describe, expect, it } from 'vitest';
import { World } from '../../../src/sim/world.js';

const world = (seed: number) => new World(seed, 4, undefined, 100, () => Date.UTC(2026, 0, 1));

describe('the seeded world', () => {
  it('makes the same guilds, channels and members from the same seed', () => {
    const a = world(3);
    const b = world(3);
    for (let i = 0; i < 20; i++) {
      a.createGuild();
      b.createGuild();
    }
    expect(a.guildList.map((g) => [g.id, g.name, g.channelIds, g.memberIds])).toEqual(b.guildList.map((g) => [g.id, g.name, g.channelIds, g.memberIds]));
    expect(a.botUser.id).toBe(b.botUser.id);
    expect(world(4).botUser.id).not.toBe(a.botUser.id);
  });

  it('gives the first guilds many members and the tail few', () => {
    const w = world(1);
    for (let i = 0; i < 200; i++) w.createGuild();
    expect(w.guildList[0]?.memberIds.length).toBe(400);
    expect(w.guildList[199]?.memberIds.length).toBeLessThan(20);
    for (const g of w.guildList) expect(g.shard).toBe(Number((BigInt(g.id) >> 22n) % 4n));
  });

  it('adds the bot back to a guild it was removed from, and refuses a guild it is in', () => {
    const w = world(1);
    const g = w.createGuild();
    expect(() => w.createGuild({ id: g.id })).toThrow(/exists/);
    g.removed = true;
    expect(() => w.activeGuild(g.id)).toThrow(/removed/);
    expect(w.createGuild({ id: g.id })).toBe(g);
    expect(g.removed).toBe(false);
  });

  it('forgets the oldest messages past its capacity', () => {
    const w = world(1);
    const g = w.createGuild();
    for (let i = 0; i < 101; i++) w.rememberMessage({ id: String(i), guildId: g.id, channelId: g.channelIds[0] ?? '', authorId: 'a', content: '', timestamp: '', nonce: undefined, webhookId: undefined, editedTimestamp: null, deleted: false });
    expect(w.messages.size).toBe(100);
    expect(w.messages.has('0')).toBe(false);
    expect(w.messages.has('100')).toBe(true);
  });
});

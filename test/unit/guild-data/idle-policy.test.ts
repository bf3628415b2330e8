import { describe, expect, it } from 'vitest';
import { pickToClose } from '../../../src/guild-data/idle-policy.js';

const use = (guildId: string, lastUsedAt: number, busy = false) => ({ guildId, lastUsedAt, busy });

describe('idle policy', () => {
  it('closes guilds unused for the idle time and keeps the rest', () => {
    expect(pickToClose([use('a', 0), use('b', 500), use('c', 900)], 1000, { idleMs: 500, maxOpen: 10 }).sort()).toEqual(['a', 'b']);
  });

  it('never closes a guild with an operation in flight, however idle', () => {
    expect(pickToClose([use('a', 0, true)], 10_000, { idleMs: 500, maxOpen: 0 })).toEqual([]);
  });

  it('above the open cap, closes the least recently used first', () => {
    const open = [use('a', 30), use('b', 10), use('c', 20), use('d', 40)];
    expect(pickToClose(open, 50, { idleMs: 1000, maxOpen: 2 }).sort()).toEqual(['b', 'c']);
  });

  it('counts idle guilds toward the cap before evicting recently used ones', () => {
    const open = [use('a', 0), use('b', 900), use('c', 950)];
    expect(pickToClose(open, 1000, { idleMs: 500, maxOpen: 2 })).toEqual(['a']);
  });
});

import { describe, expect, it } from 'vitest';
import { FencedError } from '../../../src/cluster/errors.js';
import { backoffDelay } from '../../../src/guild-data/backoff.js';
import { checkFence } from '../../../src/guild-data/fence.js';

describe('backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    const p = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(p, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('adds at most the jitter fraction', () => {
    expect(backoffDelay({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, 1, () => 0.999)).toBeLessThanOrEqual(150);
  });
});

describe('fence check', () => {
  const fence = (guildId: string, epoch: number, valid = true) => ({ guildId, epoch, assertValid: () => { if (!valid) throw new FencedError(guildId, epoch, 'deadline'); } });

  it('passes for the file\'s guild and epoch while the fence is valid', () => {
    expect(() => checkFence(fence('1', 3), '1', 3)).not.toThrow();
  });

  it('fails for an older epoch, a newer epoch, another guild, or an expired fence', () => {
    expect(() => checkFence(fence('1', 2), '1', 3)).toThrow(expect.objectContaining({ reason: 'stale_epoch' }));
    expect(() => checkFence(fence('1', 4), '1', 3)).toThrow(expect.objectContaining({ reason: 'epoch' }));
    expect(() => checkFence(fence('2', 3), '1', 3)).toThrow(FencedError);
    expect(() => checkFence(fence('1', 3, false), '1', 3)).toThrow(expect.objectContaining({ reason: 'deadline' }));
  });
});

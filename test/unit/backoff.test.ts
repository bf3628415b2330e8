// The ownership loop's per-key doubling backoff.
import { describe, expect, it } from 'vitest';
import { Backoffs } from '../../src/cluster/backoff.js';

describe('per-key backoff', () => {
  it('doubles from the first wait up to the cap, per key, and a success forgets it', () => {
    const b = new Backoffs(500, 2000);
    expect(b.waiting('g', 0)).toBe(false);
    expect([b.failed('g', 0), b.failed('g', 0), b.failed('g', 0), b.failed('g', 0)]).toEqual([500, 1000, 2000, 2000]);
    expect(b.waiting('g', 1999)).toBe(true);
    expect(b.waiting('g', 2000)).toBe(false);
    expect(b.waiting('other', 0)).toBe(false);
    b.succeeded('g');
    expect(b.waiting('g', 0)).toBe(false);
    expect(b.failed('g', 10)).toBe(500);
  });

  it('prune forgets keys whose wait ended before the given time', () => {
    const b = new Backoffs(100, 100);
    b.failed('old', 0);
    b.failed('new', 1000);
    b.prune(500);
    expect(b.size).toBe(1);
    expect(b.waiting('new', 1050)).toBe(true);
  });
});

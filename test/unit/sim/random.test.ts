import { describe, expect, it } from 'vitest';
import { createRandom, deriveSeed, ZipfSampler } from '../../../src/sim/random.js';

describe('seeded randomness', () => {
  it('repeats the same sequence for the same seed and another for another seed', () => {
    const a = Array.from({ length: 5 }, createRandom(9).next);
    const b = Array.from({ length: 5 }, createRandom(9).next);
    const c = Array.from({ length: 5 }, createRandom(10).next);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(deriveSeed(9, 1)).not.toBe(deriveSeed(9, 2));
  });

  it('spreads traffic Zipf-like: the busiest guild far ahead, the top 1 % carrying a large share, the tail still visited', () => {
    const z = new ZipfSampler(1000);
    const rnd = createRandom(1);
    const counts = new Array<number>(1000).fill(0);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const rank = z.sample(rnd);
      counts[rank] = (counts[rank] ?? 0) + 1;
    }
    const top = counts[0] ?? 0;
    expect(top).toBeGreaterThan((counts[1] ?? 0) * 1.5);
    const top1pct = counts.slice(0, 10).reduce((a, b) => a + b, 0);
    expect(top1pct / n).toBeGreaterThan(0.3);
    expect(counts.slice(500).filter((c) => c > 0).length).toBeGreaterThan(400);
  });
});

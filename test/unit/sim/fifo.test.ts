import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../src/sim/fifo.js';

describe('a fifo', () => {
  it('hands entries back oldest first, across its compactions', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) out.push(q.shift() as number);
    for (let i = 5000; i < 6000; i++) q.push(i);
    expect(q.size).toBe(3000);
    expect(q.peek()).toBe(3000);
    while (q.size > 0) out.push(q.shift() as number);
    expect(out).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
  });
});

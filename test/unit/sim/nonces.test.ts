import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.js';
import { NonceStore } from '../../../src/sim/rest/nonces.js';

describe('create-message nonces', () => {
  it('are remembered per author for the window and then forgotten', () => {
    const clock = new FakeClock();
    const n = new NonceStore<string>(clock, 60_000);
    n.remember('bot', 'n1', 'm1');
    clock.advance(30_000);
    n.remember('bot', 'n2', 'm2');
    expect(n.lookup('bot', 'n1')).toBe('m1');
    expect(n.lookup('someone-else', 'n1')).toBeUndefined();
    clock.advance(30_000);
    expect(n.lookup('bot', 'n1')).toBeUndefined();
    expect(n.lookup('bot', 'n2')).toBe('m2');
  });
});

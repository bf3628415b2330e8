import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.js';
import { IdentifyLimiter } from '../../../src/sim/gateway/identify-limits.js';

describe('identify limits', () => {
  it('allow one identify per bucket per window, and each bucket its own', () => {
    const clock = new FakeClock();
    const l = new IdentifyLimiter(clock, { windowMs: 5000, maxConcurrency: 2, total: 100 });
    expect(l.tryIdentify(0)).toMatchObject({ ok: true, bucket: 0 });
    expect(l.tryIdentify(1)).toMatchObject({ ok: true, bucket: 1 });
    expect(l.tryIdentify(2)).toEqual({ ok: false, reason: 'concurrency', bucket: 0, retryAfterMs: 5000 });
    clock.advance(4900);
    expect(l.tryIdentify(2)).toMatchObject({ ok: false, reason: 'concurrency', retryAfterMs: 100 });
    // Within the 50 ms tolerance of the window's end (a client's throttle and this clock differ by a little).
    clock.advance(50);
    expect(l.tryIdentify(2)).toMatchObject({ ok: true, bucket: 0 });
  });

  it('do not let a refused identify push the window further out', () => {
    const clock = new FakeClock();
    const l = new IdentifyLimiter(clock, { windowMs: 1000, maxConcurrency: 1, total: 100 });
    l.tryIdentify(0);
    for (let i = 0; i < 18; i++) {
      clock.advance(50);
      expect(l.tryIdentify(0).ok).toBe(false);
    }
    clock.advance(50);
    expect(l.tryIdentify(0).ok).toBe(true);
  });

  it('spend the daily total, report it in session_start_limit, and refill it a day later', () => {
    const clock = new FakeClock();
    const l = new IdentifyLimiter(clock, { windowMs: 0, maxConcurrency: 1, total: 2 });
    expect(l.tryIdentify(0)).toMatchObject({ ok: true, remaining: 1 });
    expect(l.tryIdentify(0)).toMatchObject({ ok: true, remaining: 0 });
    clock.advance(1000);
    expect(l.tryIdentify(0)).toEqual({ ok: false, reason: 'daily', bucket: 0, resetAfterMs: 86_399_000 });
    expect(l.sessionStartLimit()).toEqual({ total: 2, remaining: 0, reset_after: 86_399_000, max_concurrency: 1 });
    clock.advance(86_399_000);
    expect(l.sessionStartLimit().remaining).toBe(2);
    expect(l.tryIdentify(0)).toMatchObject({ ok: true, remaining: 1 });
  });
});

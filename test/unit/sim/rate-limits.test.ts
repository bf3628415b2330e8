import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.js';
import { RestRateLimiter } from '../../../src/sim/rest/rate-limits.js';

describe('REST rate limits', () => {
  it('count a route per major parameter and open again when its window ends', () => {
    const clock = new FakeClock();
    const l = new RestRateLimiter(clock, 1000, { createMessage: { limit: 2, windowMs: 5000 } });
    const a1 = l.take('createMessage', 'channel-a', 't');
    expect(a1).toMatchObject({ ok: true, bucket: { limit: 2, remaining: 1, resetAfterMs: 5000 } });
    clock.advance(1000);
    expect(l.take('createMessage', 'channel-a', 't')).toMatchObject({ ok: true, bucket: { remaining: 0, resetAfterMs: 4000 } });
    expect(l.take('createMessage', 'channel-a', 't')).toMatchObject({ ok: false, scope: 'user', retryAfterMs: 4000 });
    expect(l.take('createMessage', 'channel-b', 't')).toMatchObject({ ok: true, bucket: { remaining: 1 } });
    clock.advance(4000);
    expect(l.take('createMessage', 'channel-a', 't')).toMatchObject({ ok: true, bucket: { remaining: 1 } });
  });

  it('share one bucket hash between the major parameters of a route, and another between routes', () => {
    const l = new RestRateLimiter(new FakeClock(), 1000);
    const a = l.take('createMessage', 'a', 't');
    const b = l.take('createMessage', 'b', 't');
    const c = l.take('deleteMessage', 'a', 't');
    if (!a.ok || !b.ok || !c.ok) throw new Error('limited');
    expect(a.bucket.hash).toBe(b.bucket.hash);
    expect(a.bucket.hash).not.toBe(c.bucket.hash);
    expect(a.bucket.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it('apply the global limit per bot across routes, and not to calls without a bot token (webhooks)', () => {
    const clock = new FakeClock();
    const l = new RestRateLimiter(clock, 3);
    expect(l.take('getChannel', '1', 'bot').ok).toBe(true);
    expect(l.take('getChannel', '2', 'bot').ok).toBe(true);
    expect(l.take('getMember', '3', 'bot').ok).toBe(true);
    clock.advance(400);
    expect(l.take('getChannel', '4', 'bot')).toEqual({ ok: false, scope: 'global', retryAfterMs: 600 });
    expect(l.take('getChannel', '4', 'other-bot').ok).toBe(true);
    expect(l.take('createFollowup', 'x', undefined).ok).toBe(true);
    clock.advance(600);
    expect(l.take('getChannel', '4', 'bot').ok).toBe(true);
  });
});
